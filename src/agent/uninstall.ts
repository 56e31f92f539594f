/**
 * `decnet agent uninstall`, and an installed agent's own removal once the master decommissions
 * it: the systemd unit, the artefact and its command link, and the configuration directory (the
 * enrollment bundle and, by default, the job store under it). Each step says what it did; running
 * it again finds nothing and says so. A directory is removed only when it holds what the install
 * put there (decnet.ini, decnet-agent.cjs) or nothing, so a mistaken override cannot wipe /etc.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AgentConfig } from '../config';
import { AGENT_ARTEFACT_FILE } from '../domain/swarm-schemas';
import { AGENT_UNIT_NAME, BUNDLE_FILES, parseAgentIni } from '../swarm/bundle';
import { agentDataDir, readDecommissionMark } from './agent';

/** Where the install put things (the same environment overrides as the install script), and the job store if elsewhere. */
export type AgentInstallLayout = Pick<AgentConfig, 'configDir' | 'systemdDir' | 'systemctl' | 'installDir' | 'binLink' | 'dataDir'>;

/** True when this process runs the artefact installed in `layout.installDir` (not a checkout or a copy elsewhere). */
export async function runsInstalledArtefact(layout: AgentInstallLayout, script = process.argv[1]): Promise<boolean> {
  if (!script) return false;
  const [running, installed] = await Promise.all([
    fs.realpath(script).catch(() => ''),
    fs.realpath(path.join(layout.installDir, AGENT_ARTEFACT_FILE)).catch(() => undefined),
  ]);
  return running === installed;
}

export interface UninstallStep {
  outcome: 'removed' | 'absent' | 'kept' | 'failed';
  message: string;
}

export interface UninstallReport {
  steps: UninstallStep[];
  ok: boolean;
  /** The enrolled host, read from decnet.ini before it went, and when the master decommissioned it (if it did). */
  host?: { name: string; uuid: string; decommissionedAt?: string };
}

export interface UninstallOptions {
  /**
   * Stop the unit as well as disable it (`disable --now`). The agent removing itself only disables
   * it: stopping its own unit would kill it half-way, and it exits by itself once done.
   */
  stopUnit: boolean;
}

type SystemctlRun = { ok: true } | { ok: false; missing: boolean; message: string };

function systemctl(command: string, args: string[]): Promise<SystemctlRun> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 120_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve({ ok: true });
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      resolve({ ok: false, missing, message: missing ? `${command} not found` : (stderr.trim() || err.message).split('\n')[0] });
    });
  });
}

const errorText = (err: unknown) => {
  const e = err as NodeJS.ErrnoException;
  return e.code === 'EACCES' || e.code === 'EPERM' ? `permission denied (${e.path ?? ''}): run it as root` : e.message;
};

/** Removes `dir` when it is empty or holds `marker`; otherwise leaves it and says why. */
async function removeDirectory(what: string, dir: string, marker: string): Promise<UninstallStep> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { outcome: 'absent', message: `${what} ${dir}: not there` };
    return { outcome: 'failed', message: `${what} ${dir}: ${errorText(err)}` };
  }
  if (entries.length > 0 && !entries.includes(marker)) {
    return { outcome: 'kept', message: `${what} ${dir}: left in place, it holds no ${marker} (not what the install wrote)` };
  }
  try {
    await fs.rm(dir, { recursive: true, force: true });
    return { outcome: 'removed', message: `${what} ${dir}: removed` };
  } catch (err) {
    return { outcome: 'failed', message: `${what} ${dir}: ${errorText(err)}` };
  }
}

async function removeUnit(layout: AgentInstallLayout, opts: UninstallOptions): Promise<UninstallStep[]> {
  const unitFile = path.join(layout.systemdDir, AGENT_UNIT_NAME);
  if (!(await fs.stat(unitFile).catch(() => undefined))) return [{ outcome: 'absent', message: `unit ${unitFile}: not there` }];
  const steps: UninstallStep[] = [];
  const disable = await systemctl(layout.systemctl, opts.stopUnit ? ['disable', '--now', AGENT_UNIT_NAME] : ['disable', AGENT_UNIT_NAME]);
  if (disable.ok) steps.push({ outcome: 'removed', message: `unit ${AGENT_UNIT_NAME}: ${opts.stopUnit ? 'stopped and disabled' : 'disabled'}` });
  else if (disable.missing) steps.push({ outcome: 'kept', message: `${disable.message}: no systemd here? stop the agent where it is supervised` });
  else steps.push({ outcome: 'failed', message: `unit ${AGENT_UNIT_NAME}: ${layout.systemctl} disable failed: ${disable.message}` });
  try {
    await fs.rm(unitFile, { force: true });
    steps.push({ outcome: 'removed', message: `unit ${unitFile}: removed` });
  } catch (err) {
    steps.push({ outcome: 'failed', message: `unit ${unitFile}: ${errorText(err)}` });
  }
  if (!disable.ok && disable.missing) return steps;
  const reload = await systemctl(layout.systemctl, ['daemon-reload']);
  if (!reload.ok) steps.push({ outcome: 'failed', message: `${layout.systemctl} daemon-reload failed: ${reload.message}` });
  return steps;
}

async function removeLink(link: string): Promise<UninstallStep> {
  try {
    const stat = await fs.lstat(link);
    if (!stat.isSymbolicLink()) return { outcome: 'kept', message: `command ${link}: left in place, not a symbolic link (not what the install wrote)` };
    await fs.unlink(link);
    return { outcome: 'removed', message: `command ${link}: removed` };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { outcome: 'absent', message: `command ${link}: not there` };
    return { outcome: 'failed', message: `command ${link}: ${errorText(err)}` };
  }
}

async function enrolledHost(layout: AgentInstallLayout): Promise<UninstallReport['host']> {
  try {
    const ini = parseAgentIni(await fs.readFile(path.join(layout.configDir, BUNDLE_FILES.ini), 'utf8'));
    const mark = await readDecommissionMark(agentDataDir(layout.configDir, layout)).catch(() => undefined);
    return { name: ini.agent.name, uuid: ini.agent['host-uuid'], decommissionedAt: mark?.decommissioned_at };
  } catch {
    return undefined; // no ini (already removed) or not one of ours: nothing to name
  }
}

/** The unit first (so nothing restarts the agent meanwhile), then the command, the artefact and the configuration. */
export async function uninstallAgent(layout: AgentInstallLayout, opts: UninstallOptions): Promise<UninstallReport> {
  const host = await enrolledHost(layout);
  const steps = [
    ...(await removeUnit(layout, opts)),
    await removeLink(layout.binLink),
    await removeDirectory('artefact directory', layout.installDir, AGENT_ARTEFACT_FILE),
    await removeDirectory('configuration directory', layout.configDir, BUNDLE_FILES.ini),
  ];
  return { steps, ok: steps.every((s) => s.outcome !== 'failed'), host };
}
