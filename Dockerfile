# localproxy as a container (e.g. a sidecar): docker build -t localproxy .
#   docker run --network host -e AWSIOT_TUNNEL_ACCESS_TOKEN=... localproxy -r us-east-1 -d SSH=22
# BASE_IMAGE lets the same file build offline from a local base (scripts/test-docker.sh).
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# The dependency list lives in one place; copying it first keeps the package layer cached when
# only the sources change.
COPY scripts/install-deps.sh scripts/
RUN scripts/install-deps.sh
COPY . .
# Stripped binary, CA bundle, and the Debian packages that hold the libraries it links (Boost and
# protobuf-lite are linked statically, LOCALPROXY_STATIC_LIBS).
RUN scripts/build.sh -DLOCALPROXY_BUILD_TESTS=OFF \
 && install -d /out \
 && strip -o /out/localproxy build/bin/localproxy \
 && cp /etc/ssl/certs/ca-certificates.crt /out/ \
 && for lib in $(ldd build/bin/localproxy | awk '$2 == "=>" { print $3 }'); do \
      dpkg -S "$lib" 2>/dev/null || dpkg -S "$(realpath "$lib")" || exit 1; done > /out/owners \
 && cut -d: -f1 /out/owners | sort -u > /out/runtime-packages && rm /out/owners \
 && cat /out/runtime-packages

FROM ${BASE_IMAGE}
COPY --from=build /out/runtime-packages /tmp/runtime-packages
# One layer: the libraries the base lacks (not upgrading those it has), a fixed unprivileged user,
# and no apt lists, caches or logs left.
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get update --error-on=any \
 && missing=$(for p in $(cat /tmp/runtime-packages); do \
      dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || echo "$p"; done) \
 && echo "installing: $missing" \
 && apt-get install -y --no-install-recommends $missing \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
           /tmp/runtime-packages \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin localproxy \
 && rm -f /var/log/lastlog /var/log/faillog
COPY --from=build /out/localproxy /usr/bin/localproxy
# The CA bundle alone: the ca-certificates package would bring the openssl tool with it.
COPY --from=build /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    LOCALPROXY_STATUS_FILE=/tmp/localproxy-status.json
USER 10001:10001
# localproxy --health reads the status file the proxy keeps (LOCALPROXY_STATUS_FILE): no shell needed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["localproxy", "--health", "/tmp/localproxy-status.json"]
ENTRYPOINT ["localproxy"]
