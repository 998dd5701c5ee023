#!/usr/bin/env bash
# Regenerates tetherv1/ (the Go messages and gRPC stubs of proto/tether/v1) into OUT_DIR, by
# default here. Committed because Go modules are consumed as source (`go get` runs no
# generators); tests/clients/client_libs_test.py checks that the committed files match the protos.
# Needs protoc, protoc-gen-go and protoc-gen-go-grpc (Debian: protobuf-compiler, protoc-gen-go,
# protoc-gen-go-grpc).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here}"
module=github.com/tether-sidecar/tether/client/go
opts=(--go_opt="module=$module" --go-grpc_opt="module=$module")
for proto in config status; do
  opts+=(--go_opt="Mtether/v1/$proto.proto=$module/tetherv1"
    --go-grpc_opt="Mtether/v1/$proto.proto=$module/tetherv1")
done
mkdir -p "$out"
protoc -I "$here/../../proto" --go_out="$out" --go-grpc_out="$out" "${opts[@]}" \
  tether/v1/config.proto tether/v1/status.proto
