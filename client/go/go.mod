module github.com/tether-sidecar/tether/client/go

go 1.19

// The versions Debian bookworm ships (golang-google-grpc-dev, golang-google-protobuf-dev), which
// the tests build against offline in GOPATH mode (tests/clients/client_libs_test.py); any later
// release works too.
require (
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)
