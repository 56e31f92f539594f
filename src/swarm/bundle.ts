/**
 * The enrollment bundle (SPEC §8): decnet.ini, the CA certificate, the agent's certificate and
 * key and a systemd unit, packed as a .tgz with npm `tar`; and the install script that fetches
 * and unpacks it. Values reaching the script and the ini were validated by the zod schemas
 * (host names, IPs, uuids, ports), so nothing here needs shell quoting beyond single quotes.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseIni } from 'ini';
import { create as createTar } from 'tar';
import { AGENT_CONFIG_DIR, AgentIniSchema, type AgentIni } from '../domain/swarm-schemas';

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
    '; file paths are relative to this file; master-fingerprint pins the master\'s swarm certificate',
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

export function renderSystemdUnit(configDir = AGENT_CONFIG_DIR): string {
  return [
    '[Unit]',
    'Description=decnet agent (honeypot deckies on this host, driven by the decnet master)',
    'Wants=network-online.target docker.service',
    'After=network-online.target docker.service',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=/usr/bin/env decnet agent --config ${configDir}/decnet.ini`,
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

export interface InstallScriptValues {
  hostName: string;
  hostUuid: string;
  bundle: Download;
  expiresAt: Date;
}

/**
 * POSIX sh, run as root on the agent host: fetch the .tgz once with curl (the master's key pinned
 * as for the script itself), unpack it into /etc/decnet (DECNET_AGENT_DIR overrides, and the unit
 * then points there), install and start the systemd unit (DECNET_SYSTEMD_DIR, DECNET_SYSTEMCTL
 * override for unusual layouts).
 */
export function renderInstallScript(v: InstallScriptValues): string {
  const transport = v.bundle.pin
    ? `# Downloaded over HTTPS with the master's public key pinned (--pinnedpubkey; --insecure only
# skips the CA and name checks that the pin replaces).
MASTER_KEY_PIN='${v.bundle.pin}'`
    : `# Downloaded over plain HTTP (DECNET_ENROLL_PLAIN_HTTP on the master): only the network protects it.`;
  return `#!/bin/sh
# decnet agent enrollment for host "${v.hostName}" (${v.hostUuid}).
# The bundle below can be downloaded once, until ${v.expiresAt.toISOString()}.
set -eu
umask 077

BUNDLE_URL='${v.bundle.url}'
${transport}
DIR="\${DECNET_AGENT_DIR:-${AGENT_CONFIG_DIR}}"
SYSTEMD_DIR="\${DECNET_SYSTEMD_DIR:-/etc/systemd/system}"
SYSTEMCTL="\${DECNET_SYSTEMCTL:-systemctl}"

if [ "$(id -u)" -ne 0 ]; then
  echo "decnet: run this as root (it writes $DIR and installs a systemd unit)" >&2
  exit 1
fi
for tool in curl tar; do
  command -v "$tool" >/dev/null 2>&1 || { echo "decnet: $tool is required" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT INT TERM
if ! ${curlOf(v.bundle, 'MASTER_KEY_PIN')} -o "$tmp/bundle.tgz" "$BUNDLE_URL"; then
  echo "decnet: could not download the bundle (it can be fetched once, before it expires): enroll the host again" >&2
  exit 1
fi

mkdir -p "$DIR"
chmod 700 "$DIR"
tar -xzf "$tmp/bundle.tgz" -C "$DIR"
chmod 600 "$DIR/${BUNDLE_FILES.key}"
chmod 644 "$DIR/${BUNDLE_FILES.ini}" "$DIR/${BUNDLE_FILES.caCert}" "$DIR/${BUNDLE_FILES.cert}"

mkdir -p "$SYSTEMD_DIR"
sed "s#${AGENT_CONFIG_DIR}/decnet.ini#$DIR/decnet.ini#" "$DIR/${BUNDLE_FILES.unit}" > "$SYSTEMD_DIR/${AGENT_UNIT_NAME}"
chmod 644 "$SYSTEMD_DIR/${AGENT_UNIT_NAME}"

if ! command -v decnet >/dev/null 2>&1; then
  echo "decnet: warning: the decnet command is not on PATH; install it, the unit starts it" >&2
fi
"$SYSTEMCTL" daemon-reload
"$SYSTEMCTL" enable --now ${AGENT_UNIT_NAME}
echo "decnet: agent \\"${v.hostName}\\" installed in $DIR and started (${AGENT_UNIT_NAME})"
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
    const stream = createTar({ gzip: true, cwd: dir, portable: true }, files.map((f) => f.name));
    for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
    return Buffer.concat(chunks);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
