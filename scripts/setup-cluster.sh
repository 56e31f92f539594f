#!/usr/bin/env bash
# The real Temporal server, for the tests and benchmarks that run decnet against a Temporal cluster
# with PostgreSQL persistence (npm run test:cluster, npm run bench:scale-out): `temporal-server`
# (cmd/server) and its SQL schema tool (`temporal-sql-tool`, cmd/tools/sql), built from the pinned
# go.temporal.io/server module, with the module's PostgreSQL schemas beside them. Built once per
# machine (about 10 CPU-minutes: 3 to 20 minutes on 2 cores, by load) into a cache outside the repository, so a fresh clone reuses
# it; idempotent. Prints the directory as its last line.
#
# v1.32.1: the newest 1.32 release the installed Go (1.26.8) builds; v1.32.2 asks for Go 1.26.10.
# The Temporal CLI's dev server is Server 1.32.0, so both engines run the same minor version, and
# temporal-dev.yml names this version (test/cluster/compose-file.test.ts checks that they agree).
set -euo pipefail

TEMPORAL_SERVER_VERSION=1.32.1
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/decnet-deployer/temporal-server"
dest="$cache_root/$TEMPORAL_SERVER_VERSION"
log() { printf '[setup-cluster] %s\n' "$*" >&2; }

if [ -x "$dest/temporal-server" ] && [ -x "$dest/temporal-sql-tool" ] && [ -f "$dest/schema/postgresql/v12/temporal/schema.sql" ]; then
  echo "$dest"
  exit 0
fi

command -v go >/dev/null || { log "the Go toolchain is needed to build the Temporal server (go.temporal.io/server); install Go >= 1.26.8"; exit 1; }
# The machine's own Go, never a downloaded toolchain; modules from the module proxy.
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
module=go.temporal.io/server@v$TEMPORAL_SERVER_VERSION

mkdir -p "$cache_root"
# Built into a scratch directory and renamed into place, so an interrupted build leaves nothing
# that looks finished.
work=$(mktemp -d "$cache_root/.build-$TEMPORAL_SERVER_VERSION.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "building the Temporal server $TEMPORAL_SERVER_VERSION from $module (once per machine: about 10 CPU-minutes, more on a busy machine)"
started=$(date +%s)
# Without the symbol table and DWARF (-s -w): a smaller binary, same behaviour.
GOBIN="$work/bin" go install -ldflags="-s -w" "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION"
mkdir -p "$work/out/schema"
mv "$work/bin/server" "$work/out/temporal-server"
mv "$work/bin/sql" "$work/out/temporal-sql-tool"
# The schemas ship in the module (read-only in the module cache): a writable copy beside the binaries.
module_dir=$(go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$module_dir/schema/postgresql" ] || { log "no schema/postgresql in $module (at '$module_dir')"; exit 1; }
cp -R "$module_dir/schema/postgresql" "$work/out/schema/"
chmod -R u+w "$work/out"
rm -rf "$dest"
mv "$work/out" "$dest"
log "built in $(( $(date +%s) - started ))s: $dest"
echo "$dest"
