"""Generates the Python messages and gRPC stubs of proto/tether/v1 for tether_client.

Why generate instead of committing the output: the generated modules must match both the .proto
files and the installed protobuf runtime, and grpcio-tools (the generator) is a build dependency
anyway; setup.py runs this on every build, and tests run it into their build directory.

The output is the top-level package `tether.v1` (config_pb2, status_pb2 and their *_grpc
modules), named after the proto package as protoc lays it out, so that status_pb2's import of
config_pb2 resolves.

Usage: generate_protos.py OUT_DIR [PROTO_ROOT]   (PROTO_ROOT defaults to the repository's proto/)
"""

import importlib.resources
import os
import sys

PROTOS = ("tether/v1/config.proto", "tether/v1/status.proto")
DEFAULT_PROTO_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")


def generate(out_dir: str, proto_root: str = DEFAULT_PROTO_ROOT) -> None:
    """Writes tether/v1/*.py under out_dir; raises RuntimeError when protoc fails."""
    from grpc_tools import protoc  # a build-time dependency only

    # grpc_tools ships the well-known types (google/protobuf/*.proto) as package data; older
    # releases do not, so fall back to the system's include directory.
    includes = [proto_root]
    includes.append(str(importlib.resources.files("grpc_tools") / "_proto"))
    includes.append("/usr/include")
    os.makedirs(out_dir, exist_ok=True)
    argv = ["grpc_tools.protoc", *(f"-I{d}" for d in includes if os.path.isdir(d)),
            f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *PROTOS]
    if protoc.main(argv) != 0:
        raise RuntimeError(f"grpc_tools.protoc failed: {' '.join(argv)}")
    for package in ("tether", os.path.join("tether", "v1")):
        open(os.path.join(out_dir, package, "__init__.py"), "a").close()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    generate(*sys.argv[1:])
