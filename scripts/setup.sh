#!/usr/bin/env bash
# Brings a fresh Debian 12 machine (as root) to where berth builds and runs
# (`npm start`: build + runtime packages) or is tested (`npm test`, which
# runs `setup.sh --test`: the test packages as well): system packages from
# Debian, npm packages from the lockfile, the C shim and monitor, the
# TypeScript build, and a `berth` launcher on PATH. Idempotent and quick when
# nothing is missing.
#
#   setup.sh                  build + runtime packages, build, launcher
#   setup.sh --test           the same plus the test packages
#   setup.sh --list <which>   print one list (build, runtime, test), one
#                             package a line, and exit (scripts/check-packages.js)
#
# scripts/check-packages.js (a step of `npm test`) fails when the tree runs a
# tool, imports a Python module or a proto that no package below provides:
# add the package to the list that needs it, one per line with its reason.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { printf '[setup] %s\n' "$*" >&2; }

# What builds berth (npm start builds the tree before running it).
build_packages=(
  gcc make libc6-dev                  # the C shim, monitor and init (native/)
  libseccomp-dev                      # berth-shim builds containers' seccomp filters with libseccomp
)

# What berth itself runs: every user of `npm start` needs these.
runtime_packages=(
  nats-server                         # events (JetStream), when no NATS is reachable
  busybox-static                      # the default busybox image (/bin/busybox)
  containernetworking-plugins         # CNI plugins for --network with a CNI config
  iptables iproute2                   # bridges, veths, NAT and published ports
  uidmap                              # user namespaces (kept for parity; newuidmap is not required)
  zstd                                # zstd-compressed layers
  xz-utils bzip2                      # berth build: ADD of .tar.xz and .tar.bz2 archives
  libseccomp2                         # berth-shim links libseccomp (containers' seccomp filters)
)

# What only the tests (and bench/) use: `npm test` installs these too.
test_packages=(
  prometheus                          # promtool: tests parse /metrics with Prometheus' parser
  docker-registry                     # a local registry for pull/push tests
  skopeo umoci                        # archives and layouts written and read by peers
  runc crun podman                    # peers run side by side (tests and bench/)
  containerd                          # the CRI peer of bench/suites/cri.js (its own config, socket and root)
  python3                             # test fixtures (a pty bridge, a generated gRPC client)
  python3-grpcio python3-protobuf     # the Python client generated from protos/
  protobuf-compiler protobuf-compiler-grpc
  libprotobuf-dev                     # google/protobuf/*.proto that protos/ import, for protoc
  apache2-utils                       # htpasswd for registry auth tests
  openssl                             # certificates for TLS registry tests
  procps psmisc                       # ps and friends in test helpers
  docker-compose python3-docker       # Docker API gateway tests: compose v1 and docker-py (no daemon: --no-install-recommends)
  clang-format                        # the C layout check (make -C native format-check, native/.clang-format)
)

with_test=0
case "${1:-}" in
  --test) with_test=1 ;;
  --list)
    case "${2:-}" in
      build) printf '%s\n' "${build_packages[@]}" ;;
      runtime) printf '%s\n' "${runtime_packages[@]}" ;;
      test) printf '%s\n' "${test_packages[@]}" ;;
      *) echo "usage: setup.sh --list build|runtime|test" >&2; exit 2 ;;
    esac
    exit 0 ;;
  "") ;;
  *) echo "usage: setup.sh [--test | --list build|runtime|test]" >&2; exit 2 ;;
esac

packages=("${build_packages[@]}" "${runtime_packages[@]}")
[ "$with_test" = 1 ] && packages+=("${test_packages[@]}")
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
# The critest busybox fixture's /bin/sh (test/support/cri-images.ts): Debian's
# dynamically linked busybox, whose ash runs every command from PATH as the
# busybox image's does; busybox-static's runs its own applets first, so a
# command masked in the image (critest's MaskedPaths) would still run. It
# conflicts with busybox-static, so it is unpacked here, not installed.
cri_busybox=/var/cache/berth-test/busybox
if [ "$with_test" = 1 ] && [ ! -x "$cri_busybox/bin/busybox" ]; then
  log "unpacking Debian's busybox (not installed) into $cri_busybox"
  deb_tmp=$(mktemp -d)
  chmod 755 "$deb_tmp"
  if ! (cd "$deb_tmp" && apt-get download -qq busybox >/dev/null 2>&1); then
    apt-get update -qq
    (cd "$deb_tmp" && apt-get download -qq busybox >/dev/null)
  fi
  dpkg-deb -x "$deb_tmp"/busybox_*.deb "$deb_tmp/x"
  install -D -m 0755 "$deb_tmp/x/bin/busybox" "$cri_busybox/bin/busybox"
  rm -rf "$deb_tmp"
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
# The CLI's bundle (one file to load at every start; apps/cli/src/launch.ts).
node apps/cli/build-bundle.js

# `berth` on PATH: a launcher for this tree's CLI (scripts/install-launcher.sh;
# a /usr/local/bin/berth that is not berth's is left alone).
bash scripts/install-launcher.sh
log "ready"
