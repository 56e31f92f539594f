/**
 * The agent artefact the master hands to agent hosts (issue 15): `decnet agent` and everything it
 * needs bundled into one CommonJS file that runs with `node` alone, built by
 * scripts/build-agent.ts (`npm run build:agent`, scripts/setup.sh) with its sha256 beside it.
 * The master serves the bytes it hashed, so the file and the published sha256 always agree.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { defaultCatalogDir } from '../domain/catalog';
import { AGENT_ARTEFACT_FILE } from '../domain/swarm-schemas';

export interface AgentArtefact {
  path: string;
  /** The bundled package.json version: what `decnet-agent agent --version` prints. */
  version: string;
  /** The Node.js versions it runs on (package.json `engines.node`), e.g. `>=20.3`. */
  node: string;
  /** Lower-case hex SHA-256 of `content`, as the `.sha256` beside the file says. */
  sha256: string;
  bytes: number;
  content: Buffer;
}

/** `<file>.sha256` beside the artefact, in `sha256sum` format so `sha256sum -c` checks it. */
export const sha256FileOf = (artefactPath: string) => `${artefactPath}.sha256`;
export const sha256Line = (sha256: string, fileName = AGENT_ARTEFACT_FILE) => `${sha256}  ${fileName}\n`;

/**
 * The artefact's first lines: a shebang (the install links it onto PATH), its identity (read back
 * by the master without running it) and a Node.js version check that runs before any bundled code.
 */
export function agentArtefactBanner(version: string, node: { range: string; min: readonly [number, number, number] }): string {
  const [major, minor, patch] = node.min;
  return [
    '#!/usr/bin/env node',
    `// decnet-agent ${version} (node ${node.range})`,
    // The bundle's own "use strict" comes after this code, where it is no directive any more.
    "'use strict';",
    `if (((v) => v[0] * 1e6 + v[1] * 1e3 + v[2])(process.versions.node.split('.').map(Number)) < ${major * 1e6 + minor * 1e3 + patch}) {`,
    `  console.error('decnet-agent ${version} needs Node.js ${node.range}; this is ' + process.version);`,
    '  process.exit(1);',
    '}',
  ].join('\n');
}

const BANNER_IDENTITY = /^#!.*\n\/\/ decnet-agent (\S+) \(node ([^)]+)\)\n/;

/** dist/agent/decnet-agent.cjs of the checkout the master runs from (DECNET_AGENT_ARTEFACT overrides). */
export function defaultAgentArtefactPath(): string {
  return join(dirname(defaultCatalogDir()), 'dist', 'agent', AGENT_ARTEFACT_FILE);
}

/** The artefact is missing or damaged: the route answers 503 with this message. */
export class AgentArtefactUnavailableError extends Error {}

const BUILD_HINT = 'build it with `npm run build:agent` (scripts/setup.sh does it)';

let cached: { path: string; mtimeMs: number; size: number; artefact: AgentArtefact } | undefined;

/**
 * The artefact at `path`, read and hashed once per build (a rebuild while the master runs is
 * picked up). Refused when it is missing, has no decnet-agent banner, or disagrees with its `.sha256`.
 */
export async function loadAgentArtefact(path: string): Promise<AgentArtefact> {
  const stat = await fs.stat(path).catch(() => undefined);
  if (!stat?.isFile()) throw new AgentArtefactUnavailableError(`the agent artefact ${path} is not built: ${BUILD_HINT}`);
  if (cached && cached.path === path && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.artefact;
  const content = await fs.readFile(path);
  const identity = BANNER_IDENTITY.exec(content.subarray(0, 512).toString('utf8'));
  if (!identity) throw new AgentArtefactUnavailableError(`${path} is not a decnet agent artefact (no "decnet-agent <version>" banner): ${BUILD_HINT}`);
  const sha256 = createHash('sha256').update(content).digest('hex');
  const published = await fs.readFile(sha256FileOf(path), 'utf8').catch(() => '');
  if (published.split(/\s/)[0] !== sha256) {
    throw new AgentArtefactUnavailableError(`${path} does not match ${sha256FileOf(path)} (a build in progress, or a changed file): ${BUILD_HINT}`);
  }
  const artefact: AgentArtefact = { path, version: identity[1], node: identity[2], sha256, bytes: content.length, content };
  cached = { path, mtimeMs: stat.mtimeMs, size: stat.size, artefact };
  return artefact;
}
