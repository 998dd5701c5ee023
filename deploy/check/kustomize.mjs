// The small kustomize of deploy/check/manifests.mjs: builds a kustomization the way
// `kustomize build` would, for the features deploy/ uses (`resources`, files and directories,
// and `patches` with JSON 6902 operations and a kind/name target). Any other field fails rather
// than being silently ignored, so the checks never look at something kubectl would not apply.

import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";

// A problem that stops a kustomization from building at all.
export class Fatal extends Error {}
export const fatal = (msg) => {
  throw new Fatal(msg);
};

// kubectl and kustomize read YAML 1.1 (go-yaml), where 0440 is octal; YAML 1.2 would read 440.
export function loadYaml(file) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"), { version: "1.1" });
  const out = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) fatal(`${file}: ${doc.errors[0].message}`);
    const v = doc.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

export const KUSTOMIZATION_NAMES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
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
export function kustomizeBuild(dir, used, stack = []) {
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
