# The image `pulldoctor pod NAME --from-node` runs on the node (`--node-image`): the static
# binary and CA roots, nothing else. Build: docker build -t pulldoctor:dev .
#
# It runs as root in the probe pod (the pod spec says so): kubelet's config.json and the
# runtimes' client keys under the read-only /host mounts are readable by root only. The image
# itself defaults to an unprivileged user, so run any other way it holds no privilege.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
    && cp target/x86_64-unknown-linux-musl/release/pulldoctor /pulldoctor

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /pulldoctor /usr/local/bin/pulldoctor
ENV PATH=/usr/local/bin
USER 65532:65532
ENTRYPOINT ["pulldoctor"]
CMD ["--help"]
