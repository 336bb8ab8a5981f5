# The whatsapp-operator image: built on Debian 12 with the Debian packages the Makefile installs,
# run from scratch with only the binary, its shared libraries, the CA bundle and a non-root user
# (scripts/image-rootfs.sh lays that out; tests/demo's image_rootfs checks it runs).
#   make image                     # docker build -t whatsapp-operator:dev .
#   make image IMAGE=registry.example.com/whatsapp-operator:0.1.0

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config python3 ca-certificates \
      libcpprest-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libssl-dev \
      libgtest-dev libgmock-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build --target whatsapp-operator \
 && strip /build/operator/whatsapp-operator \
 && scripts/image-rootfs.sh /build/operator/whatsapp-operator /rootfs \
 && chroot /rootfs /usr/local/bin/whatsapp-operator --version

FROM scratch
COPY --from=build /rootfs/ /
USER 65532:65532
# The chart's ports: webhook 9443, metrics 8080, probes 8081, Meta's webhook 8082.
EXPOSE 9443 8080 8081 8082
ENTRYPOINT ["/usr/local/bin/whatsapp-operator"]
