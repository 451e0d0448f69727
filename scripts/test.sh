#!/usr/bin/env bash
# `npm test`: setup when needed, then every check CI makes. Exits non-zero on
# any failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh --test || exit 1
status=0
step() { printf '\n== %s\n' "$*"; }

step "every tool, Python module and proto include the tree uses comes from setup.sh"
node scripts/check-packages.js || status=1

step "generated proto types are current"
bash scripts/gen-protos.sh --check || status=1

step "typecheck (sources and tests)"
npx tsc -p tsconfig.tests.json || status=1

step "lint (typescript-eslint + nx module boundaries)"
npx nx run-many -t lint --outputStyle=static || status=1

step "C tests (native/)"
make -s -C native test || status=1
make -s -C native format-check || status=1

step "vitest: every project and the cross-service tests in test/"
results=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile="$results" "$@" || status=1
if [ -s "$results" ]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + (r.numTodoTests ?? 0)} skipped`);
  ' "$results" || true
fi
rm -f "$results"

# Last and alone: it kills services of its own stack for minutes, and a test
# beside it would only measure the contention. Skipped when vitest was given a
# selection (npm test -- <files>); `npm run test:chaos` runs it by itself.
if [ $# -eq 0 ]; then
  step "chaos soak: 200 lifecycles in the split layout while a random service is SIGKILLed every few"
  npx vitest run --config test/chaos.vitest.config.mts || status=1
fi
exit $status
