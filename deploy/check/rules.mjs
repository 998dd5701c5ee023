// tether's own rules for deploy/, which the Kubernetes schemas cannot express, for
// deploy/check/manifests.mjs: the wiring of tether in a pod (probes, ops port, gRPC listeners,
// data dir, certificates, drain time), the pod's hardening, and the NetworkPolicies and
// Services around it. Problems are collected in `problems`, not thrown, so that one run lists
// them all.

import path from "node:path";

export const problems = new Set();
export const report = (where, msg) => problems.add(`${where}: ${msg}`);

const DEFAULT_DATA_DIR = "/var/lib/tether";

export function podSpecOf(obj) {
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

// A pod of tether alone serves the proxy pods of its node over TCP (deploy/daemonset); any other
// pod holds tether and the proxies it serves over a unix socket they share (deploy/base).
function tetherOnly(pod) {
  const all = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
  return all.length === 1 && all[0].name === "tether";
}

const LOOPBACK = /^(127\.|localhost:|\[::1\]:)/;
const GRPC_TLS_ENV = ["TETHER_GRPC_TLS_CERT", "TETHER_GRPC_TLS_KEY", "TETHER_GRPC_CLIENT_CA"];

// A file tether reads from a Secret: mounted as a directory (a subPath never sees the Secret
// rotate), read-only, and from a Secret deploy/ defines with that key.
function checkSecretFile(t, file, pod, where, secrets) {
  const m = mountFor(t, file);
  const vol = m && (pod.volumes ?? []).find((v) => v.name === m.name);
  if (!vol?.secret) {
    report(where, `${file} is not on a Secret volume`);
    return;
  }
  if (m.subPath) report(where, `${file}: a subPath mount never sees the Secret rotate`);
  if (!m.readOnly) report(where, `Secret mount ${m.mountPath} is not readOnly`);
  const keys = secrets.get(vol.secret.secretName);
  if (!keys) {
    report(where, `Secret ${vol.secret.secretName} is defined nowhere under deploy/`);
    return;
  }
  const rel = path.posix.relative(m.mountPath, file);
  const items = vol.secret.items;
  const key = items ? items.find((i) => i.path === rel)?.key : rel;
  if (!key || !keys.has(key)) {
    report(where, `${file}: Secret ${vol.secret.secretName} has no key ${key ?? rel} mounted there`);
  }
}

// The TLS settings go together, come from a Secret, and guard every TCP listener: the API
// serves the whole config, secrets included, to whoever connects.
function checkGrpcTls(t, env, listen, pod, where, secrets) {
  const set = GRPC_TLS_ENV.filter((n) => env[n]);
  if (set.length > 0 && set.length < GRPC_TLS_ENV.length) {
    const missing = GRPC_TLS_ENV.filter((n) => !env[n]);
    report(where, `${set.join(", ")} set without ${missing.join(", ")}: tether takes all three or none`);
  }
  for (const n of set) checkSecretFile(t, env[n], pod, where, secrets);
  if (set.length > 0) return;
  for (const addr of listen.filter((a) => !unixPath(a))) {
    report(where, `TETHER_GRPC_LISTEN ${addr} is plaintext TCP, which lets whoever reaches it read ` +
                  `the whole config; set ${GRPC_TLS_ENV.join(", ")} or use a unix socket`);
  }
}

// tether alone in a DaemonSet pod: a TCP listener the node's proxy pods can reach (TLS is
// checkGrpcTls's), on a port declared for the Service and the NetworkPolicy to name.
function checkNodeWiring(t, isInit, pod, where, listen) {
  if (isInit) report(where, "the pod's only container is an init container");
  if (pod.hostNetwork) {
    report(where, "hostNetwork: tether would listen on the node's addresses, out of NetworkPolicy's reach");
  }
  const tcp = listen.filter((a) => !unixPath(a));
  if (!tcp.some((a) => !LOOPBACK.test(a))) {
    report(where, "TETHER_GRPC_LISTEN has no non-loopback TCP address, so no proxy pod can reach tether");
  }
  for (const addr of tcp) {
    const port = Number(/:([0-9]+)$/.exec(addr)?.[1]);
    if (!(t.ports ?? []).some((p) => p.containerPort === port && (p.protocol ?? "TCP") === "TCP")) {
      report(where, `TETHER_GRPC_LISTEN ${addr}: the container does not declare port ${port}`);
    }
  }
}

// tether next to the proxies it serves: started before them, on a socket they share.
function checkSidecarWiring(t, isInit, pod, podWhere, where, listen) {
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
}

function checkTether(t, isInit, pod, podWhere, secrets) {
  const where = `${podWhere} ${isInit ? "initContainer" : "container"} tether`;
  const env = envOf(t);
  // Ops listener: reachable by kubelet, and the port the probes use.
  const ops = env.TETHER_OPS_LISTEN;
  const opsPort = Number(/:([0-9]+)$/.exec(ops ?? "")?.[1]);
  if (!ops) {
    report(where, "TETHER_OPS_LISTEN is not set; the default 127.0.0.1:8100 is out of kubelet's reach");
  } else if (LOOPBACK.test(ops)) {
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

  const listen = (env.TETHER_GRPC_LISTEN ?? "").split(",").filter(Boolean);
  if (tetherOnly(pod)) checkNodeWiring(t, isInit, pod, where, listen);
  else checkSidecarWiring(t, isInit, pod, podWhere, where, listen);
  checkGrpcTls(t, env, listen, pod, where, secrets);

  // Data dir: must be writable, so on a volume.
  const dataDir = env.TETHER_DATA_DIR ?? DEFAULT_DATA_DIR;
  const dm = mountFor(t, dataDir);
  if (!dm) report(where, `data dir ${dataDir} is not on a volume (the root filesystem is read-only)`);
  else if (dm.readOnly) report(where, `data dir ${dataDir} is on read-only mount ${dm.mountPath}`);

  // Cluster certificate and key from a Secret mounted as a directory.
  for (const name of ["CLUSTER_CERT", "CLUSTER_CERT_KEY", "CLUSTER_CA_CERT"]) {
    const file = env[`TETHER_${name}`] ?? env[`KONG_${name}`];
    if (file) checkSecretFile(t, file, pod, where, secrets);
    else if (name !== "CLUSTER_CA_CERT") report(where, `neither TETHER_${name} nor KONG_${name} is set`);
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

export function checkPod(kind, pod, where, secrets, knownEnv) {
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
  if (tetherOnly(pod) && kind !== "DaemonSet") {
    report(where, "tether alone in a pod serves the proxy pods of its node: run it as a DaemonSet");
  }
  checkTether(t, isInit, pod, where, secrets);
}

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

// A peer chosen by a pod label, such as the proxies' tether.dev/client: "true".
function peerIsLabelledPods(peer) {
  return !peer.ipBlock && Object.keys(peer.podSelector?.matchLabels ?? {}).length > 0;
}

function tetherOf(pod) {
  return [...(pod.initContainers ?? []), ...(pod.containers ?? [])].find((c) => c.name === "tether");
}

// Some NetworkPolicy must select the pod and admit to `port` only peers `peerOk` accepts (and
// at least one rule must admit some): `what` names those peers in messages.
function checkIngress(obj, t, port, portWhat, peerOk, what, objects, where) {
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
        report(npWhere, `ingress[${i}] admits everyone to ${portWhat} ${port}`);
      } else if (!from.every(peerOk)) {
        report(npWhere, `ingress[${i}] admits to ${portWhat} ${port} peers other than ${what}`);
      } else {
        admitted = true;
      }
    }
  }
  if (!selected) {
    report(where, `no NetworkPolicy selects the pod, so ${portWhat} ${port} is open to every pod`);
  } else if (!admitted) {
    report(where, `no NetworkPolicy rule admits ${what} to ${portWhat} ${port}`);
  }
}

// The ops port is open to the pod network (kubelet probes the pod IP), so a NetworkPolicy must
// admit to it only chosen peers (Prometheus); kubelet's probes come from the node, which
// NetworkPolicy always admits. A tether-only pod's gRPC port is for the node's proxy pods,
// chosen by a label, and mTLS still checks each of them.
export function checkPolicies(obj, pod, objects, where) {
  const t = tetherOf(pod);
  const port = Number(/:([0-9]+)$/.exec(envOf(t ?? {}).TETHER_OPS_LISTEN ?? "")?.[1]);
  if (!t || !port) return;  // checkTether reports these
  checkIngress(obj, t, port, "tether's ops port", () => true, "Prometheus (or anyone)", objects, where);
  if (!tetherOnly(pod)) return;
  for (const grpcPort of tcpPorts(t)) {
    checkIngress(obj, t, grpcPort, "tether's gRPC port", peerIsLabelledPods,
                 "pods chosen by a label", objects, where);
  }
}

// The ports of tether's TCP gRPC listeners.
function tcpPorts(t) {
  return (envOf(t).TETHER_GRPC_LISTEN ?? "").split(",").filter((a) => a && !unixPath(a))
    .map((a) => Number(/:([0-9]+)$/.exec(a)?.[1])).filter((p) => p > 0);
}

// A tether-only pod is reached through a Service, which must keep each proxy on its own node
// (internalTrafficPolicy: Local: that node's tether is the one whose config and failure it
// shares) and inside the cluster.
export function checkServices(obj, pod, objects, where) {
  if (!tetherOnly(pod)) return;
  const t = tetherOf(pod);
  const labels = podLabelsOf(obj);
  const services = objects.filter((o) => o.kind === "Service" &&
    Object.keys(o.spec?.selector ?? {}).length > 0 &&
    Object.entries(o.spec.selector).every(([k, v]) => labels[k] === v));
  const served = new Set();
  for (const svc of services) {
    const at = `${where}: Service/${svc.metadata?.name}`;
    if (svc.spec.internalTrafficPolicy !== "Local") {
      report(at, "internalTrafficPolicy is not Local, so a proxy may reach another node's tether");
    }
    if ((svc.spec.type ?? "ClusterIP") !== "ClusterIP") {
      report(at, `type ${svc.spec.type} exposes tether beyond the cluster's pods; want ClusterIP`);
    }
    if (svc.spec.clusterIP === "None") {
      report(at, "headless: its DNS name lists every node's tether, and internalTrafficPolicy does not apply");
    }
    for (const p of svc.spec.ports ?? []) {
      if ((p.protocol ?? "TCP") !== "TCP") continue;
      const target = p.targetPort ?? p.port;
      const port = typeof target === "number"
        ? target : (t.ports ?? []).find((x) => x.name === target)?.containerPort;
      served.add(port);
    }
  }
  for (const port of tcpPorts(t)) {
    if (!served.has(port)) report(where, `no Service selecting the pod sends to tether's gRPC port ${port}`);
  }
}

export function checkSecret(obj, where) {
  if (obj.type === "kubernetes.io/tls") {
    const keys = new Set([...Object.keys(obj.data ?? {}), ...Object.keys(obj.stringData ?? {})]);
    for (const k of ["tls.crt", "tls.key"]) {
      if (!keys.has(k)) report(where, `a kubernetes.io/tls Secret needs ${k}`);
    }
  }
}
