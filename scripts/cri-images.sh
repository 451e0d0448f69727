#!/usr/bin/env bash
# Builds the images critest (cri-tools v1.26.1) pulls, serves them from a local docker-registry left
# running, and writes the hosts.toml files that make it the mirror of registry.k8s.io and gcr.io for
# every berth pull. The work is test/support/cri-images.ts (the tests use it directly); this compiles
# it and runs it. Needs root (umoci), busybox-static, docker-registry, umoci, skopeo and a C compiler
# (scripts/setup.sh --test). Usage: scripts/cri-images.sh [--certs-dir DIR] [--dir DIR] [--port N] | --help
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mktemp -d /tmp/berth-cri-images-build.XXXXXX)"
trap 'rm -rf "$out"' EXIT
"$repo/node_modules/.bin/tsc" --outDir "$out" --rootDir "$repo" --module commonjs --moduleResolution node \
  --target es2022 --lib es2023 --types node --typeRoots "$repo/node_modules/@types" --strict --skipLibCheck \
  "$repo/test/support/cri-images.ts"
# The helpers' C sources sit beside the module.
cp -r "$repo/test/support/cri-images" "$out/test/support/"
node "$out/test/support/cri-images.js" "$@"
