#!/usr/bin/env bash
# The whole test suite: unit and integration tests in parallel, then the end-to-end tests one at
# a time (they share one Docker engine and the host's firewall). Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh || { echo "0 passed, 1 failed"; exit 1; }
bash infra/images/standins/build.sh || { echo "0 passed, 1 failed"; exit 1; }
npm run --silent build || { echo "0 passed, 1 failed"; exit 1; }
# The real Pulumi engine for test/e2e/pulumi.e2e.test.ts, built once (cached) before any test runs.
bash scripts/pulumi-engine.sh >/dev/null || { echo "0 passed, 1 failed"; exit 1; }

out=test-output
rm -rf "$out"; mkdir -p "$out"
status=0
npx jest --selectProjects unit integration --json --outputFile="$out/unit.json" "$@" || status=1
npx jest --selectProjects e2e --runInBand --json --outputFile="$out/e2e.json" "$@" || status=1
node test/summary.js "$out"/*.json || status=1
exit $status
