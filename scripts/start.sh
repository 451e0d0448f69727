#!/usr/bin/env bash
# `npm start`: install what is missing (what berth builds and runs with; the
# test packages come with `npm test`), build, put `berth` on PATH (a launcher
# at /usr/local/bin/berth), then run the whole stack in the foreground
# (every service in one berthd process, each on its own socket, plus a
# private nats-server when none is reachable). Ctrl-C stops all of it. `berth daemon up` runs the same stack in the background.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
exec node --max-semi-space-size=1 --expose-gc apps/berthd/dist/main.js --with-nats "$@"
