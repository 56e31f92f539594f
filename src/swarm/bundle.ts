/**
 * The enrollment bundle (architecture.md §8): decnet.ini, the CA certificate, the agent's certificate and
 * key and a systemd unit, packed as a .tgz with npm `tar`; and the install script that fetches
 * and unpacks it. Values reaching the script and the ini were validated by the zod schemas
 * (host names, IPs, uuids, ports), so nothing here needs shell quoting beyond single quotes.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseIni } from 'ini';
import semver from 'semver';
import { create as createTar } from 'tar';
import {
  AGENT_ACK_FILE,
  AGENT_ARTEFACT_FILE,
  AGENT_BIN_LINK,
  AGENT_CONFIG_DIR,
  AGENT_INSTALL_DIR,
  AgentIniSchema,
  type AgentIni,
} from '../domain/swarm-schemas';

export const BUNDLE_FILES = {
  ini: 'decnet.ini',
  caCert: 'ca.pem',
  cert: 'agent.pem',
  key: 'agent-key.pem',
  unit: 'decnet-agent.service',
} as const;

export const AGENT_UNIT_NAME = 'decnet-agent.service';

export interface AgentIniValues {
  name: string;
  ipvlan: boolean;
  masterHost: string;
  masterPort: number;
  agentPort: number;
  hostUuid: string;
  masterFingerprint: string;
}

export function renderAgentIni(v: AgentIniValues, enrolledAt = new Date()): string {
  return [
    `; decnet agent "${v.name}", enrolled ${enrolledAt.toISOString()}`,
    "; file paths are relative to this file; master-fingerprint pins the master's swarm certificate",
    '[decnet]',
    'mode=agent',
    `ipvlan=${v.ipvlan}`,
    '',
    '[agent]',
    `name=${v.name}`,
    `master-host=${v.masterHost}`,
    `master-port=${v.masterPort}`,
    `agent-port=${v.agentPort}`,
    `host-uuid=${v.hostUuid}`,
    `master-fingerprint=${v.masterFingerprint}`,
    `ca-cert=${BUNDLE_FILES.caCert}`,
    `cert=${BUNDLE_FILES.cert}`,
    `key=${BUNDLE_FILES.key}`,
    '',
  ].join('\n');
}

/** decnet.ini as the agent reads it; throws a ZodError naming the bad key. */
export function parseAgentIni(text: string): AgentIni {
  return AgentIniSchema.parse(parseIni(text));
}

/** Where the unit finds the agent: the Node.js runtime, the installed artefact and decnet.ini. */
export interface AgentCommand {
  node: string;
  artefact: string;
  config: string;
}

/** The default layout; the install script writes the unit again with what it found on the host. */
export const DEFAULT_AGENT_COMMAND: AgentCommand = {
  node: '/usr/bin/node',
  artefact: `${AGENT_INSTALL_DIR}/${AGENT_ARTEFACT_FILE}`,
  config: `${AGENT_CONFIG_DIR}/decnet.ini`,
};

/** The installed agent's command line: node runs the artefact (no `decnet` on PATH needed). */
export const agentCommandLine = (c: AgentCommand) => `${c.node} ${c.artefact} agent --config ${c.config}`;

export function renderSystemdUnit(command: AgentCommand = DEFAULT_AGENT_COMMAND): string {
  return [
    '[Unit]',
    'Description=decnet agent (honeypot deckies on this host, driven by the decnet master)',
    'Wants=network-online.target docker.service',
    'After=network-online.target docker.service',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${agentCommandLine(command)}`,
    'Restart=on-failure',
    'RestartSec=5',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * A download of an enrollment and how curl must fetch it. Over HTTPS `pin` is the master's public
 * key (curl's `sha256//…`): `--insecure` skips the CA and host name checks, which cannot pass (the
 * master's CA is not in the agent host's trust store, and the master may be reached under a name
 * its certificate lacks), and `--pinnedpubkey`, which curl applies with or without `--insecure`,
 * refuses every key but the master's: the pin is what protects the download. Without a pin
 * (DECNET_ENROLL_PLAIN_HTTP) nothing does.
 */
export interface Download {
  url: string;
  pin: string | null;
}

/** `curl -fsS` and the options of `d` (no -L: the master never redirects, and a redirect could leave the pinned host). */
function curlOf(d: Pick<Download, 'pin'>, pinVariable?: string): string {
  if (!d.pin) return 'curl -fsS';
  return `curl -fsS --insecure --pinnedpubkey ${pinVariable ? `"$${pinVariable}"` : `'${d.pin}'`}`;
}

/** The agent artefact as the script fetches and checks it (src/swarm/agent-artefact.ts). */
export interface InstallScriptArtefact {
  download: Download;
  sha256: string;
  version: string;
  /** The Node.js versions it runs on, e.g. `>=20.3`. */
  node: string;
}

export interface InstallScriptValues {
  hostName: string;
  hostUuid: string;
  bundle: Download;
  artefact: InstallScriptArtefact;
  /** `host:port` of the master's swarm port, named when the first heartbeat does not come. */
  swarmAddress: string;
  expiresAt: Date;
}

/** How long the script waits for the master to acknowledge the agent's first heartbeat, unless DECNET_INSTALL_WAIT_SECONDS says. */
export const INSTALL_WAIT_SECONDS = 60;

/**
 * POSIX sh, run as root on the agent host. In order, so that a refusal leaves nothing installed:
 * check what the host needs (and say how to get what is missing on Debian/Ubuntu and RHEL-family
 * hosts); fetch the agent artefact and check it against the sha256 written here; fetch the bundle
 * (once: after the checks, so a host that is not ready does not use it up); install the artefact
 * with its command link, the bundle and the systemd unit pointing at the installed agent; start it
 * and wait for the master to acknowledge its first heartbeat. Without systemd it installs and
 * prints the command line for the host's own supervisor. Run again with a new token, it replaces
 * the artefact and the bundle and restarts the agent; the data directory (jobs) is left alone.
 */
export function renderInstallScript(v: InstallScriptValues): string {
  const transport = v.bundle.pin
    ? `# Downloaded over HTTPS with the master's public key pinned (--pinnedpubkey; --insecure only
# skips the CA and name checks that the pin replaces).
MASTER_KEY_PIN='${v.bundle.pin}'`
    : `# Downloaded over plain HTTP (DECNET_ENROLL_PLAIN_HTTP on the master): only the network protects it
# (and, for the agent, the sha256 below).`;
  const curl = curlOf(v.bundle, 'MASTER_KEY_PIN');
  const minNode = semver.minVersion(v.artefact.node);
  if (!minNode) throw new Error(`the agent artefact's node range "${v.artefact.node}" names no minimum version`);
  const installed: AgentCommand = { node: '$NODE_BIN', artefact: `$INSTALL_DIR/${AGENT_ARTEFACT_FILE}`, config: `$DIR/${BUNDLE_FILES.ini}` };
  const name = `\\"${v.hostName}\\"`;
  return `#!/bin/sh
# decnet agent enrollment for host "${v.hostName}" (${v.hostUuid}).
# The bundle below can be downloaded once, until ${v.expiresAt.toISOString()}; the agent
# (decnet-agent ${v.artefact.version}, Node.js ${v.artefact.node}) is installed only if its sha256 is the one below.
#
# Environment (for unusual layouts): DECNET_AGENT_DIR (configuration, default ${AGENT_CONFIG_DIR}),
# DECNET_DATA_DIR (the agent's jobs, default <configuration>/data), DECNET_AGENT_INSTALL_DIR
# (default ${AGENT_INSTALL_DIR}), DECNET_AGENT_BIN_LINK (default ${AGENT_BIN_LINK}),
# DECNET_SYSTEMD_DIR (default /etc/systemd/system), DECNET_SYSTEMCTL (the service manager's
# command; default systemctl when systemd runs this host), DECNET_DOCKER, DECNET_DOCKER_COMPOSE,
# DECNET_NODE (the docker, docker-compose and node commands checked and used),
# DECNET_INSTALL_WAIT_SECONDS (the wait for the first heartbeat, default ${INSTALL_WAIT_SECONDS}).
set -eu
umask 077

BUNDLE_URL='${v.bundle.url}'
AGENT_URL='${v.artefact.download.url}'
AGENT_SHA256='${v.artefact.sha256}'
AGENT_VERSION='${v.artefact.version}'
${transport}
DIR="\${DECNET_AGENT_DIR:-${AGENT_CONFIG_DIR}}"
DATA_DIR="\${DECNET_DATA_DIR:-$DIR/data}"
INSTALL_DIR="\${DECNET_AGENT_INSTALL_DIR:-${AGENT_INSTALL_DIR}}"
BIN_LINK="\${DECNET_AGENT_BIN_LINK:-${AGENT_BIN_LINK}}"
SYSTEMD_DIR="\${DECNET_SYSTEMD_DIR:-/etc/systemd/system}"
DOCKER="\${DECNET_DOCKER:-docker}"
DOCKER_COMPOSE="\${DECNET_DOCKER_COMPOSE:-docker-compose}"
NODE="\${DECNET_NODE:-node}"
WAIT_SECONDS="\${DECNET_INSTALL_WAIT_SECONDS:-${INSTALL_WAIT_SECONDS}}"
if [ -n "\${DECNET_SYSTEMCTL:-}" ]; then
  SYSTEMCTL="$DECNET_SYSTEMCTL"
elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  SYSTEMCTL=systemctl
else
  SYSTEMCTL=''
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "decnet: run this as root (it installs the agent in $INSTALL_DIR, writes $DIR and installs a systemd unit)" >&2
  exit 1
fi

# What the host needs, all checked before anything is downloaded or installed.
missing=0
need() {
  missing=$((missing + 1))
  echo "decnet: missing: $1" >&2
  echo "  Debian/Ubuntu: $2" >&2
  echo "  RHEL family:   $3" >&2
}
# v<major>.<minor>.<patch> at least ${minNode.version} (the agent's Node.js range ${v.artefact.node})
node_satisfies() {
  version="\${1#v}"
  major="\${version%%.*}"; rest="\${version#*.}"; minor="\${rest%%.*}"; patch="\${rest#*.}"; patch="\${patch%%[!0-9]*}"
  case "$major.$minor.$patch" in *[!0-9.]* | .* | *..* | *.) return 1 ;; esac
  [ $((major * 1000000 + minor * 1000 + patch)) -ge ${minNode.major * 1_000_000 + minNode.minor * 1000 + minNode.patch} ]
}
command -v curl >/dev/null 2>&1 || need 'curl' 'apt-get install -y curl' 'dnf install -y curl'
command -v tar >/dev/null 2>&1 || need 'tar' 'apt-get install -y tar' 'dnf install -y tar'
command -v sha256sum >/dev/null 2>&1 || need 'sha256sum (to check the agent)' 'apt-get install -y coreutils' 'dnf install -y coreutils'
command -v ip >/dev/null 2>&1 || need 'the ip command (iproute2)' 'apt-get install -y iproute2' 'dnf install -y iproute'
if ! command -v "$DOCKER" >/dev/null 2>&1; then
  need "the Docker engine (no $DOCKER command)" 'apt-get install -y docker.io, then systemctl enable --now docker' 'dnf install -y moby-engine (or docker-ce from https://download.docker.com/linux/rhel/docker-ce.repo), then systemctl enable --now docker'
elif ! docker_error="$("$DOCKER" info 2>&1 >/dev/null)"; then
  need "a Docker engine that answers ($DOCKER info: $(printf '%s' "$docker_error" | head -n 1))" 'systemctl enable --now docker (the engine: apt-get install -y docker.io)' 'systemctl enable --now docker (the engine: dnf install -y moby-engine or docker-ce)'
fi
if ! "$DOCKER" compose version >/dev/null 2>&1 && ! "$DOCKER_COMPOSE" version >/dev/null 2>&1; then
  need 'Docker Compose (neither "docker compose" v2 nor "docker-compose" v1 answers)' 'apt-get install -y docker-compose-plugin (Docker'"'"'s repository) or docker-compose' 'dnf install -y docker-compose-plugin (Docker'"'"'s repository) or docker-compose'
fi
NODE_BIN="$(command -v "$NODE" 2>/dev/null || true)"
node_version="$([ -n "$NODE_BIN" ] && "$NODE_BIN" --version 2>/dev/null || true)"
if ! node_satisfies "$node_version"; then
  need "Node.js ${v.artefact.node} to run the agent (\${node_version:-no $NODE command} here)" 'apt-get install -y nodejs (Debian 13 and Ubuntu 24.04 ship 20 or later; older releases: https://deb.nodesource.com)' 'dnf module install -y nodejs:20 (RHEL 8 and 9), dnf install -y nodejs (RHEL 10)'
fi
if [ "$missing" -gt 0 ]; then
  echo "decnet: nothing was installed: install what is missing above, then run the same command again (until ${v.expiresAt.toISOString()}; later, enroll the host again)" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT INT TERM
if ! ${curl} -o "$tmp/${AGENT_ARTEFACT_FILE}" "$AGENT_URL"; then
  echo "decnet: could not download the agent ($AGENT_URL); nothing was installed" >&2
  exit 1
fi
downloaded="$(sha256sum "$tmp/${AGENT_ARTEFACT_FILE}" | cut -d ' ' -f 1)"
if [ "$downloaded" != "$AGENT_SHA256" ]; then
  echo "decnet: refused: the downloaded agent's sha256 is $downloaded, not $AGENT_SHA256 as this script says; nothing was installed (fetch the script again: a master rebuilt since then serves another agent)" >&2
  exit 1
fi
if ! ran="$("$NODE_BIN" "$tmp/${AGENT_ARTEFACT_FILE}" agent --version 2>&1)" || [ "$ran" != "$AGENT_VERSION" ]; then
  echo "decnet: the agent does not run with $NODE_BIN ($node_version): $ran; nothing was installed" >&2
  exit 1
fi
if ! ${curl} -o "$tmp/bundle.tgz" "$BUNDLE_URL"; then
  echo "decnet: could not download the bundle (it can be fetched once, before it expires): enroll the host again; nothing was installed" >&2
  exit 1
fi

mkdir -p "$DIR" "$INSTALL_DIR" "$(dirname "$BIN_LINK")"
chmod 700 "$DIR"
chmod 755 "$INSTALL_DIR"
tar -xzf "$tmp/bundle.tgz" -C "$DIR"
chmod 600 "$DIR/${BUNDLE_FILES.key}"
chmod 644 "$DIR/${BUNDLE_FILES.ini}" "$DIR/${BUNDLE_FILES.caCert}" "$DIR/${BUNDLE_FILES.cert}"
# Renamed into place: an agent still running keeps the code it loaded.
cp "$tmp/${AGENT_ARTEFACT_FILE}" "$INSTALL_DIR/${AGENT_ARTEFACT_FILE}.new"
chmod 755 "$INSTALL_DIR/${AGENT_ARTEFACT_FILE}.new"
mv -f "$INSTALL_DIR/${AGENT_ARTEFACT_FILE}.new" "$INSTALL_DIR/${AGENT_ARTEFACT_FILE}"
printf '%s  %s\\n' "$AGENT_SHA256" '${AGENT_ARTEFACT_FILE}' > "$INSTALL_DIR/${AGENT_ARTEFACT_FILE}.sha256"
chmod 644 "$INSTALL_DIR/${AGENT_ARTEFACT_FILE}.sha256"
ln -sfn "$INSTALL_DIR/${AGENT_ARTEFACT_FILE}" "$BIN_LINK"
echo "decnet: agent ${name} $AGENT_VERSION installed: $INSTALL_DIR/${AGENT_ARTEFACT_FILE} (command $BIN_LINK), configuration in $DIR"

if [ -z "$SYSTEMCTL" ]; then
  echo "decnet: no systemd on this host (and DECNET_SYSTEMCTL is not set): the agent is not started."
  echo "decnet: run it as root under this host's supervisor, restarted when it fails:"
  echo "  ${agentCommandLine(installed)}"
  exit 0
fi

mkdir -p "$SYSTEMD_DIR"
cat > "$SYSTEMD_DIR/${AGENT_UNIT_NAME}" <<UNIT
${renderSystemdUnit(installed)}UNIT
chmod 644 "$SYSTEMD_DIR/${AGENT_UNIT_NAME}"
# The agent writes this when the master first acknowledges it; a previous run's must not count.
rm -f "$DATA_DIR/${AGENT_ACK_FILE}"
"$SYSTEMCTL" daemon-reload
"$SYSTEMCTL" enable ${AGENT_UNIT_NAME}
"$SYSTEMCTL" restart ${AGENT_UNIT_NAME}
echo "decnet: started ${AGENT_UNIT_NAME}; waiting up to \${WAIT_SECONDS}s for the master to acknowledge its first heartbeat"
waited=0
until grep -qs "\\"version\\":\\"$AGENT_VERSION\\"" "$DATA_DIR/${AGENT_ACK_FILE}"; do
  if [ "$waited" -ge "$WAIT_SECONDS" ]; then
    echo "decnet: the agent is installed and started, but the master has not acknowledged a heartbeat within \${WAIT_SECONDS}s: see journalctl -u ${AGENT_UNIT_NAME}; this host must reach the master's swarm port ${v.swarmAddress}" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done
echo "decnet: agent ${name} enrolled and live (the master acknowledged its first heartbeat)"
`;
}

/** The one line the operator runs on the agent host. */
export function installCommand(script: Download): string {
  return `${curlOf(script)} '${script.url}' | sudo sh`;
}

export interface BundleFile {
  name: string;
  content: string;
  mode: number;
}

/** A gzipped tar of flat files, built in a private temporary directory that is removed after. */
export async function packBundle(files: readonly BundleFile[]): Promise<Buffer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-bundle-'));
  try {
    for (const f of files) {
      if (f.name !== path.basename(f.name)) throw new Error(`bundle file names are flat: ${f.name}`);
      await fs.writeFile(path.join(dir, f.name), f.content, { mode: f.mode });
      await fs.chmod(path.join(dir, f.name), f.mode);
    }
    const chunks: Buffer[] = [];
    const stream = createTar(
      { gzip: true, cwd: dir, portable: true },
      files.map((f) => f.name),
    );
    for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
    return Buffer.concat(chunks);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
