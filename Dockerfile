# Portcullis container image: build stage on Debian 12, small runtime stage.
# Build:  docker build -t portcullis .
# Run:    docker run --rm -p 443:8443 -p 80:8080 -v $PWD/portcullis.toml:/etc/portcullis/portcullis.toml \
#           -v portcullis-data:/var/lib/portcullis portcullis
# The mounted file must listen on 0.0.0.0:8443 (https) and 0.0.0.0:8080 (http), and set
# data_dir = "/var/lib/portcullis": a relative data_dir resolves against /etc/portcullis, which the
# portcullis user cannot write.
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
      libssl3 libfmt9 libspdlog1.10 libsqlite3-0 libjemalloc2 libboost-json1.81.0 libboost-url1.81.0 libpsl5 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/portcullis --create-home portcullis
COPY --from=build /src/build/app/portcullis /usr/local/bin/portcullis
USER portcullis
WORKDIR /var/lib/portcullis
EXPOSE 8443 8080
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["run", "--config", "/etc/portcullis/portcullis.toml"]
