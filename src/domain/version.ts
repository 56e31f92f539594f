/**
 * The product's version (package.json): the master's, and the agent's, which the agent artefact
 * carries from its build (the bundler inlines package.json). The hosts table flags agents older
 * than the master they report to.
 */
import semver from 'semver';
import { version } from '../../package.json';

/** Set by scripts/build-agent.ts when it builds an artefact of another version (`--version`). */
declare const DECNET_BUILD_VERSION: string | undefined;

export const DECNET_VERSION: string = typeof DECNET_BUILD_VERSION === 'string' ? DECNET_BUILD_VERSION : version;

/** A version an agent may report: semver as `npm version` writes it (no `v`, no build metadata). */
export const isAgentVersion = (value: string): boolean => semver.valid(value) === value;

/** An agent is outdated when it runs an older version than the master (a newer one is not flagged). */
export const isOutdatedAgent = (agentVersion: string, masterVersion: string = DECNET_VERSION): boolean => semver.lt(agentVersion, masterVersion);
