/**
 * `npm run build:agent` (and scripts/setup.sh when a source changed): the agent artefact, one
 * CommonJS file holding `decnet agent`, its dependencies and the service catalogue, that runs with
 * `node` alone (no checkout, no node_modules), and its sha256 beside it. The master serves both to
 * agent hosts (src/swarm/agent-artefact.ts). `--out <file>` writes elsewhere than dist/agent/;
 * `--version <semver>` builds it as another version than package.json's (an upgrade to test).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import semver from 'semver';
import { engines } from '../package.json';
import { catalogueTexts } from '../src/domain/catalog';
import { DECNET_VERSION, isAgentVersion } from '../src/domain/version';
import { agentArtefactBanner, defaultAgentArtefactPath, sha256FileOf, sha256Line } from '../src/swarm/agent-artefact';

const ENTRY = path.join(__dirname, '..', 'src', 'cli', 'agent-main.ts');

export interface BuiltArtefact {
  path: string;
  version: string;
  sha256: string;
  bytes: number;
}

export async function buildAgentArtefact(outFile = defaultAgentArtefactPath(), version = DECNET_VERSION): Promise<BuiltArtefact> {
  if (!isAgentVersion(version)) throw new Error(`--version "${version}" is not a semantic version (like 1.2.3)`);
  const minNode = semver.minVersion(engines.node);
  if (!minNode) throw new Error(`package.json engines.node "${engines.node}" names no minimum version`);
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'node',
    target: `node${minNode.major}.${minNode.minor}`,
    format: 'cjs',
    write: false,
    outfile: outFile,
    logLevel: 'warning',
    banner: { js: agentArtefactBanner(version, { range: engines.node, min: [minNode.major, minNode.minor, minNode.patch] }) },
    // Optional native speed-ups of ssh2 (docker-modem's ssh:// transport): required in a
    // try/catch, so without them ssh2 falls back to its JavaScript code.
    external: ['cpu-features', '*.node'],
    define: { DECNET_EMBEDDED_CATALOGUE: JSON.stringify(catalogueTexts()), DECNET_BUILD_VERSION: JSON.stringify(version) },
  });
  const content = result.outputFiles[0].contents;
  const sha256 = createHash('sha256').update(content).digest('hex');
  await fs.mkdir(path.dirname(outFile), { recursive: true });
  // Renamed into place: a master serving the previous build never reads a half-written file.
  for (const [file, data, mode] of [
    [sha256FileOf(outFile), sha256Line(sha256, path.basename(outFile)), 0o644],
    [outFile, content, 0o755],
  ] as const) {
    await fs.writeFile(`${file}.tmp`, data, { mode });
    await fs.rename(`${file}.tmp`, file);
  }
  return { path: outFile, version, sha256, bytes: content.length };
}

if (require.main === module) {
  const outIndex = process.argv.indexOf('--out');
  const outFile = outIndex > 0 ? path.resolve(process.argv[outIndex + 1] ?? '') : undefined;
  const versionIndex = process.argv.indexOf('--version');
  const version = versionIndex > 0 ? (process.argv[versionIndex + 1] ?? '') : undefined;
  buildAgentArtefact(outFile, version).then(
    (built) => console.log(`agent artefact ${built.path}: decnet-agent ${built.version}, ${built.bytes} bytes, sha256 ${built.sha256}`),
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
