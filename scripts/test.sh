#!/usr/bin/env bash
# The whole suite: machine setup, typecheck, lint, formatting, jest, then test:cluster (the tests against the
# real Temporal server, built once per machine by scripts/setup-cluster.sh), and last the plain
# line `N passed, N failed` counting both runs. Extra arguments go to the first jest run only, and
# then test:cluster is left out (a targeted run).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
npx tsc -p web/tsconfig.json # the web UI is browser code with its own settings
npx eslint .
npx prettier --check . --log-level warn

summaries=$(mktemp -d)
trap 'rm -rf "$summaries"' EXIT
runs=("$summaries/suite.json")
status=0
JEST_SUMMARY_FILE="$summaries/suite.json" npx jest "$@" || status=$?
if [ $# -eq 0 ]; then
  runs+=("$summaries/cluster.json")
  JEST_SUMMARY_FILE="$summaries/cluster.json" npx jest -c jest.cluster.config.js || status=$?
fi
node test/support/summary-reporter.js "${runs[@]}"
exit $status
