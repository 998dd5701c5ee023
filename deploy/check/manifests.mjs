// Validates deploy/ offline for scripts/check-deploy (no cluster, no kubectl, no kustomize):
//
//   node manifests.mjs DEPLOY_DIR [--known-env FILE]
//   node manifests.mjs --print KUSTOMIZATION_DIR      what the checks see, like kustomize build
//
// 1. Builds every kustomization under DEPLOY_DIR the way kustomize would (kustomize.mjs), for
//    the features we use: `resources` (files and directories) and `patches` with JSON 6902
//    operations and a kind/name target. Any other field fails, rather than being silently
//    ignored.
// 2. Validates every resulting object, and every other manifest under DEPLOY_DIR (the Secret
//    templates), against the Kubernetes schemas of kubernetes-models, and refuses fields the
//    schema does not know: the schemas allow unknown fields, and the API server would drop a
//    misspelt readOnlyRootFilesystem without a word.
// 3. Checks what the schemas cannot (rules.mjs), for both layouts: tether as a sidecar of the
//    proxy (a shared unix socket, started first) and tether alone in a DaemonSet pod (a TCP
//    listener with all three mTLS files from a Secret, a Service with internalTrafficPolicy
//    Local, the gRPC port admitted only to labelled pods); for both, the probes, ops port, data
//    dir, certificates and drain time, the pod's hardening, and a NetworkPolicy that admits only
//    chosen peers to the ops port. With --known-env, every TETHER_* and KONG_* variable must be
//    one that tether or tetherctl knows (from their --help).

import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { Fatal, fatal, KUSTOMIZATION_NAMES, kustomizeBuild, loadYaml } from "./kustomize.mjs";
import {
  checkPod, checkPolicies, checkSecret, checkServices, podSpecOf, problems, report,
} from "./rules.mjs";

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

  // Secret name -> its keys, for the files tether reads from Secret volumes.
  const secrets = new Map(
    [...builds.flatMap((b) => b.objects), ...standaloneObjects.map((x) => x.o)]
      .filter((o) => o.kind === "Secret")
      .map((o) => [o.metadata?.name, new Set([...Object.keys(o.data ?? {}), ...Object.keys(o.stringData ?? {})])]));

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
        checkPod(o.kind, pod, where, secrets, knownEnv);
        checkPolicies(o, pod, b.objects, where);
        checkServices(o, pod, b.objects, where);
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
