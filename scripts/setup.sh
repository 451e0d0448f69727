#!/usr/bin/env bash
# Brings a fresh Debian 12 machine (as root) to where berth builds, runs and
# tests: system packages from Debian, npm packages from the lockfile, the C
# shim and monitor, the TypeScript build. Idempotent and quick when nothing
# is missing. Used by `npm start` and `npm test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { printf '[setup] %s\n' "$*" >&2; }

# What berth runs, builds and tests against, all from Debian:
#   nats-server            events (JetStream)
#   busybox-static         the default busybox image and test rootfs
#   containernetworking-plugins iptables iproute2   networking (CNI)
#   gcc make libc6-dev     the C shim and monitor
#   uidmap                 user namespaces (newuidmap is not required; kept for parity)
#   zstd                   zstd layers
#   prometheus             promtool: tests parse /metrics with Prometheus' parser
#   docker-registry skopeo umoci   registry tests and archive checks
#   runc crun podman       peers measured side by side in bench/
#   python3-grpcio python3-protobuf protobuf-compiler(-grpc)   a client generated from protos/ by another language
#   apache2-utils          htpasswd for registry auth tests
packages=(nats-server busybox-static containernetworking-plugins iptables iproute2 gcc make libc6-dev
  uidmap zstd prometheus docker-registry skopeo umoci runc crun podman
  python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc
  apache2-utils procps psmisc)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: ${missing[*]}; run as root (berth needs root for namespaces and cgroups)"
    exit 1
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts these as system services on install; berth starts its own
# instances on loopback ports of its choosing and needs neither.
for svc in nats-server docker-registry prometheus; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" >/dev/null 2>&1 || true
    systemctl disable "$svc" >/dev/null 2>&1 || true
  fi
done

# npm packages, from the lockfile; again only when it changed.
stamp=node_modules/.berth-npm-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

# The C shim, monitor and init, then every TypeScript project (tsc -b follows
# the project references, so libs build before the apps that use them).
log "building native/"
make -s -C native -j2
log "building TypeScript"
projects=$(ls -d libs/*/tsconfig.json apps/*/tsconfig.json 2>/dev/null | xargs -n1 dirname)
# shellcheck disable=SC2086
npx tsc -b $projects
log "ready"
