# tether container image: docker build -t tether:0.2.0 .
#
# CI has no Docker engine, so scripts/check-deploy lints this file and replays the build
# stage itself (its COPY and RUN lines, against a clean copy of the tree), then checks that
# every library the built binaries link comes from a package the runtime stage installs.
# The replay understands FROM, ARG, ENV, WORKDIR, COPY from the context and shell-form RUN
# in the build stage; anything else there makes the check fail rather than skip it.

FROM debian:bookworm-slim AS build
WORKDIR /src
# Dependencies first, so that editing sources does not reinstall them.
COPY scripts/deps scripts/deps
RUN scripts/deps
COPY . .
# scripts/build's default build type (RelWithDebInfo) is what CI builds, so the replay in CI
# reuses the main build's ccache entries; the debug info is stripped below instead.
ENV BUILD_DIR=build-image BUILD_TESTING=OFF
RUN scripts/build --target tether tetherctl \
 && mkdir -p build-image/bin \
 && strip -o build-image/bin/tether build-image/sidecar/tether \
 && strip -o build-image/bin/tetherctl build-image/client/cli/tetherctl

FROM debian:bookworm-slim
# Runtime libraries only (unpinned: bookworm's point and security updates are wanted).
# libspdlog1.10, libfmt9, libyaml-cpp0.7 and libprometheus-cpp-core1.0 serve the logging,
# config file and metrics code.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 libc-ares2 libgrpc++1.51 libgrpc29 libprotobuf32 libre2-9 libssl3 zlib1g libisal2 \
      libspdlog1.10 libfmt9 libyaml-cpp0.7 libprometheus-cpp-core1.0 \
 && rm -rf /var/lib/apt/lists/*
# A fixed UID/GID, so that Kubernetes can check runAsNonRoot and share files through fsGroup.
RUN groupadd --system --gid 10001 tether \
 && useradd --system --uid 10001 --gid tether --home-dir /var/lib/tether --no-create-home \
      --shell /usr/sbin/nologin tether \
 && install -d -o tether -g tether -m 0710 /var/lib/tether \
 && install -d -o tether -g tether -m 0750 /run/tether
COPY --from=build /src/build-image/bin/tether /src/build-image/bin/tetherctl /usr/local/bin/
# The socket lives outside the data dir so that a pod can share it with the proxy without
# sharing the config cache; TETHER_ADDR points tetherctl at it.
ENV TETHER_DATA_DIR=/var/lib/tether \
    TETHER_GRPC_LISTEN=unix:///run/tether/tether.sock \
    TETHER_ADDR=unix:///run/tether/tether.sock \
    TETHER_OPS_LISTEN=0.0.0.0:8100 \
    TETHER_LOG_FORMAT=json
USER 10001:10001
# Ops HTTP: /livez, /readyz, /metrics. The gRPC API is on the unix socket only.
EXPOSE 8100
# For docker run and compose; Kubernetes ignores this and uses the manifests' probes.
HEALTHCHECK --interval=10s --timeout=3s CMD ["/usr/local/bin/tetherctl", "health"]
ENTRYPOINT ["/usr/local/bin/tether"]
