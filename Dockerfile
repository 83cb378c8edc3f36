# Portcullis container image: build stage on Debian 12, small runtime stage.
# Build:  docker build -t portcullis .
# Run:    docker run --rm -p 443:443 -p 80:80 -p 53:53/udp -p 53:53/tcp \
#           -v $PWD/portcullis.toml:/etc/portcullis/portcullis.toml -v portcullis-data:/var/lib/portcullis portcullis
# The process runs as the unprivileged user portcullis; the binary carries CAP_NET_BIND_SERVICE
# (setcap below), so it binds :443, :80 and the DNS server's :53 itself. The mounted file listens on
# 0.0.0.0:443 (https) and 0.0.0.0:80 (http) (and [dns] on :53 if used), and sets
# data_dir = "/var/lib/portcullis": a relative data_dir resolves against /etc/portcullis, which the
# portcullis user cannot write.
# The runtime stage's package list is checked against `ldd` of the built binary by
# tests/integration/docker_runtime_test.cpp (make test): a library the binary loads must come from
# a package installed here.
FROM debian:12 AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake ninja-build g++ pkg-config make libjemalloc2 \
      libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev libfmt-dev \
      libspdlog-dev libtoml11-dev libcli11-dev libsqlite3-dev catch2 libexpected-dev libldns-dev libpsl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    && ninja -C build portcullis

FROM debian:12-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 libfmt9 libspdlog1.10 libsqlite3-0 libjemalloc2 libboost-json1.81.0 libboost-url1.81.0 libldns3 \
      libpsl5 ca-certificates libcap2-bin \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/portcullis --create-home portcullis
COPY --from=build /src/build/app/portcullis /usr/local/bin/portcullis
# Ports below 1024 without root: the capability on the file (a file capability survives the
# switch to USER, unlike one granted to the process).
RUN setcap cap_net_bind_service=+ep /usr/local/bin/portcullis
USER portcullis
WORKDIR /var/lib/portcullis
EXPOSE 443 80 53/udp 53/tcp
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["run", "--config", "/etc/portcullis/portcullis.toml"]
