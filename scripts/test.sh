#!/usr/bin/env bash
# The whole suite: machine setup, typecheck, lint, then jest, whose summary line
# (`N passed, N failed`) is the last line printed. Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
npx tsc -p web/tsconfig.json # the web UI is browser code with its own settings
npx eslint .
exec npx jest "$@"
