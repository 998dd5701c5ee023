// Validates deploy/ offline for scripts/check-deploy (no cluster, no kubectl, no kustomize):
//
//   node manifests.mjs DEPLOY_DIR [--known-env FILE]
//   node manifests.mjs --print KUSTOMIZATION_DIR      what the checks see, like kustomize build
//
// 1. Builds every kustomization under DEPLOY_DIR the way kustomize would, for the features we
//    use: `resources` (files and directories) and `patches` with JSON 6902 operations and a
//    kind/name target. Any other field fails, rather than being silently ignored.
// 2. Validates every resulting object, and every other manifest under DEPLOY_DIR (the Secret
//    template), against the Kubernetes schemas of kubernetes-models, and refuses fields the
//    schema does not know: the schemas allow unknown fields, and the API server would drop a
//    misspelt readOnlyRootFilesystem without a word.
// 3. Checks what the schemas cannot: tether's sidecar wiring (probes, ops port, socket, data
//    dir, certificate, drain time), the pod's hardening, and a NetworkPolicy that admits only
//    chosen peers to the ops port. With --known-env, every TETHER_* and KONG_* variable must be
//    one that tether or tetherctl knows (from their --help).

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments, stringify } from "yaml";

const problems = new Set();
const report = (where, msg) => problems.add(`${where}: ${msg}`);

class Fatal extends Error {}
const fatal = (msg) => {
  throw new Fatal(msg);
};

// kubectl and kustomize read YAML 1.1 (go-yaml), where 0440 is octal; YAML 1.2 would read 440.
function loadYaml(file) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"), { version: "1.1" });
  const out = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) fatal(`${file}: ${doc.errors[0].message}`);
    const v = doc.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// A small kustomize.

const KUSTOMIZATION_NAMES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const SUPPORTED_FIELDS = new Set(["apiVersion", "kind", "resources", "patches"]);

function kustomizationFile(dir) {
  return KUSTOMIZATION_NAMES.map((n) => path.join(dir, n)).find((f) => existsSync(f));
}

function decodePointer(ptr, where) {
  if (ptr === "") return [];
  if (!ptr.startsWith("/")) fatal(`${where}: JSON pointer ${ptr} must start with /`);
  return ptr.slice(1).split("/").map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function walkTo(doc, tokens, where, ptr) {
  let node = doc;
  for (const t of tokens) {
    if (node === null || typeof node !== "object") fatal(`${where}: ${ptr} does not exist`);
    if (Array.isArray(node)) {
      if (!/^(0|[1-9][0-9]*)$/.test(t) || Number(t) >= node.length) {
        fatal(`${where}: ${ptr} does not exist`);
      }
      node = node[Number(t)];
    } else {
      if (!Object.hasOwn(node, t)) fatal(`${where}: ${ptr} does not exist`);
      node = node[t];
    }
  }
  return node;
}

// RFC 6902 on a plain JSON value, in place.
function applyJsonPatch(doc, ops, where) {
  const parentOf = (ptr) => {
    const tokens = decodePointer(ptr, where);
    if (tokens.length === 0) fatal(`${where}: operations on the whole document are not supported`);
    return [walkTo(doc, tokens.slice(0, -1), where, ptr), tokens.at(-1)];
  };
  const get = (ptr) => walkTo(doc, decodePointer(ptr, where), where, ptr);
  const remove = (ptr) => {
    const [parent, key] = parentOf(ptr);
    get(ptr);  // must exist
    if (Array.isArray(parent)) return parent.splice(Number(key), 1)[0];
    const v = parent[key];
    delete parent[key];
    return v;
  };
  const add = (ptr, value) => {
    const [parent, key] = parentOf(ptr);
    if (Array.isArray(parent)) {
      const i = key === "-" ? parent.length : Number(key);
      if (!/^(-|0|[1-9][0-9]*)$/.test(key) || i > parent.length) {
        fatal(`${where}: add ${ptr}: index out of range`);
      }
      parent.splice(i, 0, value);
    } else if (parent !== null && typeof parent === "object") {
      parent[key] = value;
    } else {
      fatal(`${where}: add ${ptr}: parent is not an object or array`);
    }
  };
  const clone = (v) => structuredClone(v);
  for (const [i, op] of ops.entries()) {
    const at = `${where} operation ${i} (${op.op} ${op.path})`;
    switch (op.op) {
      case "add":
        add(op.path, clone(op.value));
        break;
      case "remove":
        remove(op.path);
        break;
      case "replace":
        remove(op.path);
        add(op.path, clone(op.value));
        break;
      case "move":
        add(op.path, remove(op.from));
        break;
      case "copy":
        add(op.path, clone(get(op.from)));
        break;
      case "test":
        if (JSON.stringify(get(op.path)) !== JSON.stringify(op.value)) {
          fatal(`${at}: found ${JSON.stringify(get(op.path))}, want ${JSON.stringify(op.value)}`);
        }
        break;
      default:
        fatal(`${at}: unknown operation`);
    }
  }
}

// Returns the objects `kustomize build dir` would print, and records in `used` every file it
// read, so that patches are not mistaken for manifests.
function kustomizeBuild(dir, used, stack = []) {
  const kfile = kustomizationFile(dir);
  if (!kfile) fatal(`${dir}: no kustomization.yaml`);
  if (stack.includes(kfile)) fatal(`${kfile}: includes itself through ${stack.join(" -> ")}`);
  used.add(kfile);
  const [k] = loadYaml(kfile);
  for (const field of Object.keys(k ?? {})) {
    if (!SUPPORTED_FIELDS.has(field)) {
      fatal(`${kfile}: ${field} is not supported by deploy/check/manifests.mjs; ` +
            "write the result out as resources or patches, or teach the checker");
    }
  }
  if (k.kind !== undefined && k.kind !== "Kustomization") fatal(`${kfile}: kind is not Kustomization`);
  const objects = [];
  for (const r of k.resources ?? []) {
    const p = path.resolve(dir, r);
    if (!existsSync(p)) fatal(`${kfile}: resource ${r} does not exist`);
    if (statSync(p).isDirectory()) {
      objects.push(...kustomizeBuild(p, used, [...stack, kfile]));
    } else {
      used.add(p);
      objects.push(...loadYaml(p));
    }
  }
  for (const [i, patch] of (k.patches ?? []).entries()) {
    const where = `${kfile} patches[${i}]`;
    const unknown = Object.keys(patch).filter((f) => f !== "path" && f !== "target");
    if (unknown.length > 0 || !patch.path) fatal(`${where}: want only path and target`);
    const targetFields = Object.keys(patch.target ?? {});
    if (!patch.target?.kind || !patch.target?.name ||
        targetFields.some((f) => f !== "kind" && f !== "name")) {
      fatal(`${where}: want a target with exactly kind and name`);
    }
    const pfile = path.resolve(dir, patch.path);
    if (!existsSync(pfile)) fatal(`${where}: ${patch.path} does not exist`);
    used.add(pfile);
    const docs = loadYaml(pfile);
    if (docs.length !== 1 || !Array.isArray(docs[0])) {
      fatal(`${pfile}: only JSON 6902 patches (a list of operations) are supported`);
    }
    const targets = objects.filter(
      (o) => o.kind === patch.target.kind && o.metadata?.name === patch.target.name);
    if (targets.length !== 1) {
      fatal(`${where}: target ${patch.target.kind}/${patch.target.name} matches ${targets.length} objects`);
    }
    applyJsonPatch(targets[0], docs[0], pfile);
  }
  const seen = new Set();
  for (const o of objects) {
    const id = `${o.apiVersion} ${o.kind}/${o.metadata?.name}`;
    if (seen.has(id)) fatal(`${kfile}: ${id} appears twice`);
    seen.add(id);
  }
  return objects;
}

// ---------------------------------------------------------------------------------------------
// Schema validation.

// Wraps `value` so that every property the schema validator reads is recorded. The generated
// validators read each property their schema declares (and every key of a map), so a key
// never read is one the schema does not know.
function tracked(value, ptr, read) {
  if (Array.isArray(value)) return value.map((v, i) => tracked(v, `${ptr}/${i}`, read));
  if (value === null || typeof value !== "object") return value;
  const copy = {};
  for (const [k, v] of Object.entries(value)) copy[k] = tracked(v, `${ptr}/${k}`, read);
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === "string" && Object.hasOwn(target, key)) read.add(`${ptr}/${key}`);
      return Reflect.get(target, key, receiver);
    },
  });
}

function allKeys(value, ptr, out) {
  if (Array.isArray(value)) value.forEach((v, i) => allKeys(v, `${ptr}/${i}`, out));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      out.push(`${ptr}/${k}`);
      allKeys(v, `${ptr}/${k}`, out);
    }
  }
  return out;
}

async function modelFor(apiVersion, kind) {
  if (!/^[a-z0-9.]*\/?v[0-9a-z]+$/.test(apiVersion ?? "") || !/^[A-Z][A-Za-z0-9]*$/.test(kind ?? "")) {
    return null;
  }
  try {
    const mod = await import(`kubernetes-models/${apiVersion}/${kind}`);
    return mod[kind] ?? null;
  } catch {
    return null;
  }
}

async function validateSchema(obj, where) {
  const model = await modelFor(obj.apiVersion, obj.kind);
  if (!model) {
    report(where, `${obj.apiVersion} ${obj.kind} is not a Kubernetes kind kubernetes-models knows`);
    return;
  }
  const read = new Set();
  try {
    // The model's validate() runs the generated schema validator on `this`; calling it on the
    // tracked copy keeps the proxies (constructing a model would copy them away).
    model.prototype.validate.call(tracked(obj, "", read));
  } catch (e) {
    const errs = e.errors ?? [];
    if (errs.length === 0) report(where, e.message);
    for (const err of errs) report(where, `${err.instancePath || "/"} ${err.message}`);
  }
  // Array elements are not proxied: an element counts as read when its array was.
  const wasRead = (p) => p === "" || read.has(p) ||
    (/\/[0-9]+$/.test(p) && wasRead(p.slice(0, p.lastIndexOf("/"))));
  for (const key of allKeys(obj, "", [])) {
    // Only the first unknown key of a subtree: its children were never read either.
    if (!read.has(key) && wasRead(key.slice(0, key.lastIndexOf("/")))) {
      report(where, `${key}: not a field of ${obj.kind} (misspelt, or from a newer Kubernetes?)`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// tether-specific checks.

const DEFAULT_DATA_DIR = "/var/lib/tether";

function podSpecOf(obj) {
  switch (obj.kind) {
    case "Pod":
      return obj.spec;
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "ReplicaSet":
    case "Job":
      return obj.spec?.template?.spec;
    case "CronJob":
      return obj.spec?.jobTemplate?.spec?.template?.spec;
    default:
      return null;
  }
}

// Go duration syntax as tether parses it: 1m30s, 500ms, 15s.
function parseDurationSeconds(s) {
  const re = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/y;
  let total = 0;
  let m;
  let end = 0;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
    end = re.lastIndex;
  }
  return s.length > 0 && end === s.length ? total : null;
}

function envOf(c) {
  return Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
}

// The mount of `c` whose mountPath contains `p`, longest first.
function mountFor(c, p) {
  return (c.volumeMounts ?? [])
    .filter((m) => p === m.mountPath || p.startsWith(m.mountPath.replace(/\/?$/, "/")))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
}

function unixPath(uri) {
  return uri?.startsWith("unix://") ? uri.slice("unix://".length) : null;
}

function checkHardening(c, pod, where) {
  const sc = c.securityContext ?? {};
  const psc = pod.securityContext ?? {};
  if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) report(where, "runAsNonRoot is not true");
  if ((sc.runAsUser ?? psc.runAsUser) === 0) report(where, "runAsUser is 0");
  if (sc.readOnlyRootFilesystem !== true) report(where, "readOnlyRootFilesystem is not true");
  if (sc.allowPrivilegeEscalation !== false) report(where, "allowPrivilegeEscalation is not false");
  if (sc.privileged === true) report(where, "privileged");
  if (!(sc.capabilities?.drop ?? []).includes("ALL")) report(where, "capabilities do not drop ALL");
  if ((sc.capabilities?.add ?? []).length > 0) report(where, "adds capabilities");
  const seccomp = (sc.seccompProfile ?? psc.seccompProfile)?.type;
  if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") {
    report(where, "seccompProfile is not RuntimeDefault (or Localhost)");
  }
  if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory) {
    report(where, "no cpu and memory requests");
  }
  if (!c.resources?.limits?.memory) report(where, "no memory limit");
}

function checkProbePorts(c, where) {
  const ports = c.ports ?? [];
  for (const kind of ["startupProbe", "readinessProbe", "livenessProbe"]) {
    const probe = c[kind];
    if (!probe) continue;
    const port = probe.httpGet?.port ?? probe.tcpSocket?.port ?? probe.grpc?.port;
    if (port === undefined) continue;  // exec probes
    const declared = typeof port === "number"
      ? ports.some((p) => p.containerPort === port)
      : ports.some((p) => p.name === port);
    if (!declared) report(where, `${kind} uses port ${port}, which the container does not declare`);
  }
}

function checkTether(t, isInit, pod, podWhere, secretNames) {
  const where = `${podWhere} ${isInit ? "initContainer" : "container"} tether`;
  const env = envOf(t);
  // Ops listener: reachable by kubelet, and the port the probes use.
  const ops = env.TETHER_OPS_LISTEN;
  const opsPort = Number(/:([0-9]+)$/.exec(ops ?? "")?.[1]);
  if (!ops) {
    report(where, "TETHER_OPS_LISTEN is not set; the default 127.0.0.1:8100 is out of kubelet's reach");
  } else if (/^(127\.|localhost:|\[::1\]:)/.test(ops)) {
    report(where, `TETHER_OPS_LISTEN ${ops} is loopback; kubelet probes the pod IP`);
  }
  const wantPath = { startupProbe: null, readinessProbe: "/readyz", livenessProbe: "/livez" };
  for (const [kind, p] of Object.entries(wantPath)) {
    const probe = t[kind];
    if (!probe?.httpGet) {
      report(where, `no ${kind} over HTTP on the ops port`);
      continue;
    }
    if (p && probe.httpGet.path !== p) report(where, `${kind} path ${probe.httpGet.path}, want ${p}`);
    if (!p && !["/readyz", "/livez"].includes(probe.httpGet.path)) {
      report(where, `${kind} path ${probe.httpGet.path}, want /readyz or /livez`);
    }
    const port = probe.httpGet.port;
    const number = typeof port === "number" ? port : (t.ports ?? []).find((x) => x.name === port)?.containerPort;
    if (ops && number !== opsPort) {
      report(where, `${kind} probes port ${port}, but TETHER_OPS_LISTEN is ${ops}`);
    }
  }

  // Start-up order.
  if (isInit) {
    if (t.restartPolicy !== "Always") {
      report(where, "an init container without restartPolicy: Always never finishes, so the pod never starts");
    }
  } else {
    if (pod.containers[0] !== t) report(where, "not the first container, so the proxy may start first");
    const hook = (t.lifecycle?.postStart?.exec?.command ?? []).join(" ");
    if (!/tetherctl wait --ready/.test(hook)) {
      report(where, "no postStart hook running tetherctl wait --ready, so the proxy may start first");
    }
  }

  // The gRPC socket, shared with every other container.
  const listen = (env.TETHER_GRPC_LISTEN ?? "").split(",").filter(Boolean);
  const sockets = listen.map(unixPath).filter(Boolean);
  if (sockets.length === 0) report(where, "TETHER_GRPC_LISTEN has no unix:// socket to share with the proxy");
  for (const sock of sockets) {
    const m = mountFor(t, sock);
    if (!m) {
      report(where, `socket ${sock} is not on a volume (the root filesystem is read-only)`);
      continue;
    }
    if (m.readOnly) report(where, `socket ${sock} is on read-only mount ${m.mountPath}`);
    const vol = (pod.volumes ?? []).find((v) => v.name === m.name);
    if (vol && !vol.emptyDir) report(where, `socket volume ${m.name} is not an emptyDir`);
    const rel = path.posix.relative(m.mountPath, sock);
    for (const c of pod.containers) {
      if (c === t) continue;
      const cm = (c.volumeMounts ?? []).find((x) => x.name === m.name);
      if (!cm) {
        report(`${podWhere} container ${c.name}`, `does not mount the socket volume ${m.name}`);
        continue;
      }
      const addr = unixPath(envOf(c).TETHER_ADDR);
      const want = path.posix.join(cm.mountPath, rel);
      if (addr && addr !== want) {
        report(`${podWhere} container ${c.name}`,
               `TETHER_ADDR is unix://${addr}, but tether's socket is at ${want} there`);
      }
    }
  }

  // Data dir: must be writable, so on a volume.
  const dataDir = env.TETHER_DATA_DIR ?? DEFAULT_DATA_DIR;
  const dm = mountFor(t, dataDir);
  if (!dm) report(where, `data dir ${dataDir} is not on a volume (the root filesystem is read-only)`);
  else if (dm.readOnly) report(where, `data dir ${dataDir} is on read-only mount ${dm.mountPath}`);

  // Cluster certificate and key from a Secret mounted as a directory.
  for (const name of ["CLUSTER_CERT", "CLUSTER_CERT_KEY", "CLUSTER_CA_CERT"]) {
    const file = env[`TETHER_${name}`] ?? env[`KONG_${name}`];
    if (!file) {
      if (name !== "CLUSTER_CA_CERT") report(where, `neither TETHER_${name} nor KONG_${name} is set`);
      continue;
    }
    const m = mountFor(t, file);
    const vol = m && (pod.volumes ?? []).find((v) => v.name === m.name);
    if (!vol?.secret) {
      report(where, `${file} is not on a Secret volume`);
      continue;
    }
    if (m.subPath) report(where, `${file}: a subPath mount never sees the Secret rotate`);
    if (!m.readOnly) report(where, `Secret mount ${m.mountPath} is not readOnly`);
    if (!secretNames.has(vol.secret.secretName)) {
      report(where, `Secret ${vol.secret.secretName} is defined nowhere under deploy/`);
    }
  }

  // Shutdown: the pod must outlive tether's drain.
  const drain = env.TETHER_DRAIN_TIME;
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  if (!drain) {
    report(where, "TETHER_DRAIN_TIME is not set, so it cannot be checked against terminationGracePeriodSeconds");
  } else {
    const s = parseDurationSeconds(drain);
    if (s === null) report(where, `TETHER_DRAIN_TIME ${drain} is not a duration`);
    else if (!(grace > s)) {
      report(where, `terminationGracePeriodSeconds ${grace} does not exceed TETHER_DRAIN_TIME ${drain}`);
    }
  }
}

function checkPod(pod, where, secretNames, knownEnv) {
  const inits = pod.initContainers ?? [];
  const all = [...inits.map((c) => [c, true]), ...(pod.containers ?? []).map((c) => [c, false])];
  const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
  const mounted = new Set();
  for (const [c, isInit] of all) {
    const at = `${where} ${isInit ? "initContainer" : "container"} ${c.name}`;
    checkHardening(c, pod, at);
    checkProbePorts(c, at);
    if (isInit && c.restartPolicy !== "Always" &&
        (c.startupProbe || c.readinessProbe || c.livenessProbe || c.lifecycle)) {
      report(at, "probes and lifecycle hooks are only allowed on init containers with restartPolicy: Always");
    }
    if (!isInit && c.restartPolicy !== undefined) {
      report(at, "restartPolicy is only allowed on init containers");
    }
    for (const m of c.volumeMounts ?? []) {
      mounted.add(m.name);
      if (!volumes.has(m.name)) report(at, `mounts volume ${m.name}, which the pod does not define`);
    }
    for (const e of c.env ?? []) {
      if (knownEnv && /^(TETHER|KONG)_/.test(e.name) && !knownEnv.has(e.name)) {
        report(at, `${e.name} is not a setting tether or tetherctl knows (see their --help)`);
      }
    }
  }
  for (const v of volumes) if (!mounted.has(v)) report(where, `volume ${v} is mounted by no container`);
  const tethers = all.filter(([c]) => c.name === "tether");
  if (tethers.length !== 1) {
    report(where, `want exactly one container named tether, found ${tethers.length}`);
    return;
  }
  const [[t, isInit]] = tethers;
  checkTether(t, isInit, pod, where, secretNames);
}

// The ops port is open to the pod network (kubelet probes the pod IP), so a NetworkPolicy must
// select the pod and admit to that port only chosen peers (Prometheus); kubelet's probes come
// from the node, which NetworkPolicy always admits.
function podLabelsOf(obj) {
  return obj.kind === "Pod" ? obj.metadata?.labels ?? {} : obj.spec?.template?.metadata?.labels ?? {};
}

function selects(selector, labels) {
  if ((selector?.matchExpressions ?? []).length > 0) return null;  // not evaluated here
  return Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

// Whether a NetworkPolicy port entry covers TCP `port` (or the container port named `name`).
function portCovers(p, port, name) {
  if ((p.protocol ?? "TCP") !== "TCP") return false;
  if (p.port === undefined) return true;
  if (typeof p.port === "string") return p.port === name;
  return p.endPort === undefined ? p.port === port : p.port <= port && port <= p.endPort;
}

// A peer that stands for everyone: all pods of all namespaces, or all addresses.
function peerIsEveryone(peer) {
  const empty = (sel) => sel !== undefined && Object.keys(sel).length === 0;
  if (peer.ipBlock) {
    return ["0.0.0.0/0", "::/0"].includes(peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).length;
  }
  return empty(peer.namespaceSelector) && (peer.podSelector === undefined || empty(peer.podSelector));
}

function checkOpsPolicy(obj, pod, objects, where) {
  const t = [...(pod.initContainers ?? []), ...(pod.containers ?? [])].find((c) => c.name === "tether");
  const port = Number(/:([0-9]+)$/.exec(envOf(t ?? {}).TETHER_OPS_LISTEN ?? "")?.[1]);
  if (!t || !port) return;  // checkTether reports these
  const name = (t.ports ?? []).find((p) => p.containerPort === port)?.name;
  const labels = podLabelsOf(obj);
  const policies = objects.filter((o) => o.kind === "NetworkPolicy" &&
    (o.spec?.policyTypes ?? ["Ingress"]).includes("Ingress"));
  let selected = false;
  let admitted = false;
  for (const np of policies) {
    const npWhere = `${where}: NetworkPolicy/${np.metadata?.name}`;
    const match = selects(np.spec?.podSelector, labels);
    if (match === null) report(npWhere, "podSelector uses matchExpressions, which the checker does not evaluate");
    if (!match) continue;
    selected = true;
    for (const [i, rule] of (np.spec?.ingress ?? []).entries()) {
      const ports = rule.ports ?? [];
      if (ports.length > 0 && !ports.some((p) => portCovers(p, port, name))) continue;
      const from = rule.from ?? [];
      if (from.length === 0 || from.some(peerIsEveryone)) {
        report(npWhere, `ingress[${i}] admits everyone to tether's ops port ${port}`);
      } else {
        admitted = true;
      }
    }
  }
  if (!selected) {
    report(where, `no NetworkPolicy selects the pod, so tether's ops port ${port} is open to every pod`);
  } else if (!admitted) {
    report(where, `no NetworkPolicy rule admits Prometheus (or anyone) to tether's ops port ${port}`);
  }
}

function checkSecret(obj, where) {
  if (obj.type === "kubernetes.io/tls") {
    const keys = new Set([...Object.keys(obj.data ?? {}), ...Object.keys(obj.stringData ?? {})]);
    for (const k of ["tls.crt", "tls.key"]) {
      if (!keys.has(k)) report(where, `a kubernetes.io/tls Secret needs ${k}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------

function yamlFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "node_modules") out.push(...yamlFiles(p));
    } else if (/\.ya?ml$/.test(e.name) || e.name === "Kustomization") {
      out.push(p);
    }
  }
  return out.sort();
}

function describe(obj) {
  return `${obj.kind ?? "?"}/${obj.metadata?.name ?? "?"}`;
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === "--print" && args.length === 2) {
    // Like `kustomize build DIR`, for looking at what the checks saw.
    const objects = kustomizeBuild(path.resolve(args[1]), new Set());
    process.stdout.write(objects.map((o) => stringify(o)).join("---\n"));
    return;
  }
  const deployDir = args[0];
  if (!deployDir || (args.length !== 1 && !(args.length === 3 && args[1] === "--known-env"))) {
    fatal("usage: node manifests.mjs DEPLOY_DIR [--known-env FILE] | --print KUSTOMIZATION_DIR");
  }
  const knownEnv = args[2]
    ? new Set(readFileSync(args[2], "utf8").split(/\s+/).filter(Boolean))
    : null;
  const rel = (p) => path.relative(process.cwd(), p) || ".";
  const files = yamlFiles(path.resolve(deployDir));
  const kdirs = files.filter((f) => KUSTOMIZATION_NAMES.includes(path.basename(f))).map(path.dirname);
  if (kdirs.length === 0) fatal(`${deployDir}: no kustomization found`);

  const used = new Set();
  const builds = [];
  for (const dir of kdirs) {
    // One broken kustomization must not hide what is wrong with the others.
    try {
      builds.push({ dir, objects: kustomizeBuild(dir, used) });
    } catch (e) {
      if (!(e instanceof Fatal)) throw e;
      report(`kustomize build ${rel(dir)}`, e.message);
    }
  }
  // Manifests no kustomization uses (templates) are validated on their own.
  const standalone = files.filter((f) => !used.has(f));
  const standaloneObjects = standalone.flatMap((f) => loadYaml(f).map((o) => ({ file: f, o })));

  const secretNames = new Set(
    [...builds.flatMap((b) => b.objects), ...standaloneObjects.map((x) => x.o)]
      .filter((o) => o.kind === "Secret").map((o) => o.metadata?.name));

  for (const { file, o } of standaloneObjects) {
    if (o === null || typeof o !== "object" || Array.isArray(o)) {
      report(rel(file), "not a Kubernetes object, and no kustomization uses it");
      continue;
    }
    await validateSchema(o, `${rel(file)} ${describe(o)}`);
    if (o.kind === "Secret") checkSecret(o, `${rel(file)} ${describe(o)}`);
  }
  let pods = 0;
  for (const b of builds) {
    for (const o of b.objects) {
      const where = `kustomize build ${rel(b.dir)}: ${describe(o)}`;
      await validateSchema(o, where);
      if (o.kind === "Secret") checkSecret(o, where);
      const pod = podSpecOf(o);
      if (pod) {
        checkPod(pod, where, secretNames, knownEnv);
        checkOpsPolicy(o, pod, b.objects, where);
        ++pods;
      }
    }
  }
  if (pods === 0) report(deployDir, "no workload found; nothing runs tether");
  if (problems.size > 0) {
    console.error(`manifests.mjs: ${problems.size} problem(s):\n  ${[...problems].join("\n  ")}`);
    process.exit(1);
  }
  const n = builds.reduce((s, b) => s + b.objects.length, 0) + standaloneObjects.length;
  console.log(`manifests: ${builds.length} kustomizations (${builds.map((b) => rel(b.dir)).join(", ")}), ` +
              `${n} objects valid${knownEnv ? ", env names known to tether" : ""}`);
}

main().catch((e) => {
  console.error(`manifests.mjs: ${e instanceof Fatal ? e.message : e.stack}`);
  process.exit(1);
});
