# learnflow container image: built from Debian 12 packages only.
#   docker build -t learnflow:0.1.0 .
#   docker run --rm -v $PWD/learnflow.yaml:/etc/learnflow/learnflow.yaml:ro learnflow:0.1.0
# The final image holds the binary and its runtime libraries, runs as uid 10001, keeps state in
# /var/lib/learnflow (a volume; the Helm chart mounts one PVC per pod there) and serves HTTP on
# 8080. tests/deploy/dockerfile_test.sh checks the runtime package list against the binary.

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      librdkafka-dev librocksdb-dev libboost-dev libspdlog-dev libfmt-dev prometheus-cpp-dev \
      libsimdjson-dev libyaml-cpp-dev libcli11-dev libgoogle-perftools-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DLEARNFLOW_BUILD_TESTS=OFF \
      -DLEARNFLOW_BUILD_BENCH=OFF \
 && cmake --build /build -j"$(nproc)" --target learnflow \
 && strip /build/app/learnflow

FROM debian:12-slim
# Runtime libraries only (what `readelf -d learnflow` needs; their own dependencies follow).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librdkafka1 librocksdb7.8 libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 libsimdjson14 \
      libyaml-cpp0.7 libtcmalloc-minimal4 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/learnflow --create-home \
      --shell /usr/sbin/nologin learnflow \
 && mkdir -p /etc/learnflow
COPY --from=build /build/app/learnflow /usr/bin/learnflow
COPY docs/learnflow.example.yaml /etc/learnflow/learnflow.example.yaml
USER 10001:10001
WORKDIR /var/lib/learnflow
VOLUME ["/var/lib/learnflow"]
EXPOSE 8080
ENTRYPOINT ["/usr/bin/learnflow"]
CMD ["run", "--config", "/etc/learnflow/learnflow.yaml"]
