#!/usr/bin/env bash
# Puts `berth` on PATH: a small launcher running this tree's built CLI
# (apps/cli/bin/berth; npx would add ~400 ms to every command). Called by
# setup.sh; `install-launcher.sh [path]` (default /usr/local/bin/berth).
#
# The launcher carries a marker line. It is rewritten when the tree moves or
# node does; a file at the path without the marker is someone else's `berth`
# and is left alone (exit 0, a note on stderr).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
launcher=${1:-/usr/local/bin/berth}
marker='# berth launcher written by scripts/setup.sh; setup.sh of this tree rewrites it when the tree moves.'
log() { printf '[setup] %s\n' "$*" >&2; }

node_bin=$(command -v node)
want=$(printf '#!/bin/sh\n%s\nexec %q %q "$@"\n' "$marker" "$node_bin" "$root/apps/cli/bin/berth")
if [ -e "$launcher" ] && ! grep -qxF "$marker" "$launcher" 2>/dev/null; then
  log "$launcher exists and is not berth's launcher: left alone (run $root/apps/cli/bin/berth)"
  exit 0
fi
[ "$(cat "$launcher" 2>/dev/null)" = "$want" ] && exit 0
if [ ! -w "$(dirname "$launcher")" ]; then
  log "cannot write $launcher (not root?): run $root/apps/cli/bin/berth"
  exit 0
fi
# Written beside it and renamed over it: a `berth` running meanwhile sees the old or the new file, whole.
tmp=$(mktemp "$launcher.XXXXXX")
printf '%s\n' "$want" > "$tmp"
chmod 0755 "$tmp"
mv -f "$tmp" "$launcher"
log "installed $launcher -> $root/apps/cli/bin/berth"
