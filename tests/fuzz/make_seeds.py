#!/usr/bin/python3
"""Builds the seed corpora of the libFuzzer harnesses (tests/fuzz) from text kept in the repo
(tests/fuzz/corpus, the example config, Kong's hash vectors in tests/fixtures/kong), so that no
binary seed is committed.

  make_seeds.py --source <repo> --out <dir>

writes <dir>/<harness>/<name> for decode_frame, decode_json, kong_hash, mirror and settings:
- decode_json: tests/fuzz/corpus/decode_json/*.json, and reconfigure messages around the example
  config and the object inputs of Kong's config hash vectors;
- decode_frame: each decode_json seed gzipped, as the CP sends it;
- kong_hash: the inputs of Kong's config hash vectors and the example config;
- mirror: tests/fuzz/corpus/mirror/*.textproto (WatchResponse chunks separated by a line "---"),
  each chunk encoded with protoc and prefixed with its 2-byte little-endian length;
- settings: tests/fuzz/corpus/settings/*.txt (command line arguments one a line, then after a line
  "[env]" NAME=value lines, then after a line "[file]" the YAML file) in the NUL-separated form
  settings_fuzzer reads.
"""
import argparse
import gzip
import json
import pathlib
import shutil
import struct
import subprocess


def write(out, harness, name, data):
    path = out / harness / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def reconfigure(config_table, config_hash=None):
    message = {"type": "reconfigure", "timestamp": 1718000099.125}
    if config_hash:
        message["config_hash"] = config_hash
        message["hashes"] = {"config": config_hash, "routes": "0" * 32, "services": "f" * 32}
    message["config_table"] = config_table
    return compact(message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=pathlib.Path, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args()
    corpus = args.source / "tests/fuzz/corpus"
    out = args.out
    # Seeds only: libFuzzer writes what it finds to its own corpus dir, so this one is rebuilt.
    shutil.rmtree(out, ignore_errors=True)

    source = args.source
    vectors = json.loads((source / "tests/fixtures/kong/config_hash_vectors.json").read_text())
    configs = [("example", json.loads((source / "deploy/examples/kong-config.json").read_text()))]

    messages = {p.stem: p.read_text() for p in sorted((corpus / "decode_json").glob("*.json"))}
    for name, table in configs:
        messages[name] = reconfigure(table)
        messages[name + "-hashed"] = reconfigure(table, "0123456789abcdef" * 2)
    for i, vector in enumerate(vectors["vectors"]):
        if isinstance(vector["input"], dict):
            messages[f"vector-{i}"] = reconfigure(vector["input"])
    for name, message in messages.items():
        write(out, "decode_json", name + ".json", message)
        write(out, "decode_frame", name + ".gz", gzip.compress(message.encode(), mtime=0))

    for i, vector in enumerate(vectors["vectors"]):
        write(out, "kong_hash", f"vector-{i}.json", compact(vector["input"]))
    for name, table in configs:
        write(out, "kong_hash", name + ".json", compact(table))

    proto_dir = args.source / "proto"
    for path in sorted((corpus / "mirror").glob("*.textproto")):
        seed = b""
        for chunk in path.read_text().split("\n---\n"):
            encoded = subprocess.run(
                ["protoc", f"-I{proto_dir}", "--encode=tether.v1.WatchResponse",
                 "tether/v1/config.proto"],
                input=chunk.encode(), stdout=subprocess.PIPE, check=True).stdout
            seed += struct.pack("<H", len(encoded)) + encoded
        write(out, "mirror", path.stem, seed)

    for path in sorted((corpus / "settings").glob("*.txt")):
        text = path.read_text()
        text, _, body = text.partition("[file]\n")
        args_text, _, env_text = text.partition("[env]\n")
        fields = lambda t: "\0".join(line for line in t.splitlines() if line)
        write(out, "settings", path.stem, "\0\0".join([fields(args_text), fields(env_text), body]))


if __name__ == "__main__":
    main()
