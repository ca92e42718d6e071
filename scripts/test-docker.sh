#!/usr/bin/env bash
# The Docker sidecar image, tested for real: installs docker.io and debootstrap (Debian packages),
# starts its own dockerd (leaving the host's network alone), makes a bookworm base image offline
# with debootstrap, builds the Dockerfile on it, and runs test/e2e/test_deploy_docker.py (the image
# as the destination against tunnel-service, a source from ./build/bin or $LOCALPROXY_BIN_DIR). Skips with one line when
# Docker cannot be installed or started here. Needs root and a build in ./build (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
skip() { echo "test-docker: SKIPPED: $*"; exit 0; }
log() { echo "test-docker: $*"; }

[[ $(id -u) -eq 0 ]] || skip "needs root (dockerd, debootstrap)"
bin=${LOCALPROXY_BIN_DIR:-$root/build/bin}  # the source proxy and tunnel-service run from here
[[ -x $bin/localproxy && -x $bin/tunnel-service ]] || { echo "test-docker: build first (scripts/build.sh)" >&2; exit 1; }

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null || [[ ! -x /usr/bin/docker ]]; then
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq --error-on=any && apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null; } ||
    skip "cannot install docker.io and debootstrap"
fi
docker=/usr/bin/docker  # Debian's client, whatever else is on PATH

work=$(mktemp -d /tmp/lp-docker-XXXXXX)
state=${LP_DOCKER_STATE:-/var/lib/localproxy-docker-test}  # images and build cache, kept between runs
mkdir -p "$state"
sock=$work/docker.sock
export DOCKER_HOST=unix://$sock
dockerd_pid=
cleanup() {
  local rc=$?
  if [[ -n $dockerd_pid ]] && kill -0 "$dockerd_pid" 2>/dev/null; then
    "$docker" ps -aq --filter label=localproxy-test | xargs -r "$docker" rm -f >/dev/null 2>&1 || true
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$dockerd_pid" 2>/dev/null && { log "dockerd did not stop in 20 s; killing it"; kill -KILL "$dockerd_pid"; }
    wait "$dockerd_pid" 2>/dev/null || true
  fi
  # dockerd leaves the host network namespace's bind mount behind in its exec root.
  grep -o " $work/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n 1 umount 2>/dev/null || true
  rm -rf "$work" 2>/dev/null || log "warning: could not remove $work"
  exit $rc
}
trap cleanup EXIT INT TERM

# Its own socket, data and exec roots, no bridge, no iptables: nothing of the host's changes.
dockerd --iptables=false --ip-forward=false --bridge=none --host "$DOCKER_HOST" \
  --data-root "$state/data" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 150); do
  "$docker" version >/dev/null 2>&1 && break
  kill -0 "$dockerd_pid" 2>/dev/null || break
  sleep 0.2
done
if ! "$docker" version >/dev/null 2>&1; then
  tail -5 "$work/dockerd.log" | sed 's/^/  dockerd: /'
  skip "dockerd does not start here"
fi
log "dockerd $("$docker" version -f '{{.Server.Version}}') running (pid $dockerd_pid, storage $("$docker" info -f '{{.Driver}}'))"

base=localproxy-test-base:bookworm
if ! "$docker" image inspect "$base" >/dev/null 2>&1; then
  mirror=${LP_DOCKER_MIRROR:-http://deb.debian.org/debian}
  log "making the base image: debootstrap --variant=minbase bookworm ($mirror)"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -5 "$work/debootstrap.log"; skip "debootstrap failed (no mirror reachable?)"; }
  tar -C "$work/rootfs" -c . | "$docker" import - "$base" >/dev/null
  rm -rf "$work/rootfs"
fi

image=localproxy:test
log "docker build (logs in the output on failure)"
start=$SECONDS
if ! DOCKER_BUILDKIT=0 "$docker" build --network host --build-arg BASE_IMAGE="$base" -t "$image" . >"$work/build.log" 2>&1; then
  tail -30 "$work/build.log"
  echo "test-docker: FAILED: docker build" >&2
  exit 1
fi
log "built $image in $((SECONDS - start)) s"

base_size=$("$docker" image inspect -f '{{.Size}}' "$base")
image_size=$("$docker" image inspect -f '{{.Size}}' "$image")
log "sizes: base $((base_size / 1000000)) MB, image $((image_size / 1000000)) MB, added $(((image_size - base_size) / 1000)) kB"
"$docker" history --format '{{.Size}}\t{{.CreatedBy}}' "$image" | head -n 12 | cut -c1-150 | sed 's/^/  /'

cd "$root/test/e2e"
LOCALPROXY_BIN_DIR="$bin" LOCALPROXY_DOCKER_IMAGE=$image LOCALPROXY_DOCKER=$docker \
  LOCALPROXY_DOCKER_BASE=$base PYTHONDONTWRITEBYTECODE=1 timeout 600 python3 -m unittest -v test_deploy_docker
