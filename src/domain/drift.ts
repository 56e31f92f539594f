/**
 * Drift: a decky's desired state (PostgreSQL) against what its Docker engine runs. Pure, so the
 * master (for its own engine) and the agents (for theirs) judge alike and say it the same way.
 */
import { z } from 'zod';
import type { NetworkDriver } from './schemas';

/** One of a decky's containers as the engine reports it; `role` is `base` or the service name. */
export const ObservedContainerSchema = z.object({
  role: z.string().max(128),
  id: z.string().max(128),
  name: z.string().max(256),
  /** `running`, `exited`, `created`, `restarting`, `paused`, `dead`. */
  state: z.string().max(32),
  /** The engine's status line, e.g. `Exited (137) 3 seconds ago`. */
  status: z.string().max(256),
  /** The address it holds on the LAN network, if it is attached to it. */
  lanIp: z.string().max(64).optional(),
  /** The container whose network namespace it joined: a service's must be the base's. */
  namespaceOwner: z.string().max(128).optional(),
});
export type ObservedContainer = z.infer<typeof ObservedContainerSchema>;

/** The LAN network as the engine reports it, shared by every decky of the engine. */
export const ObservedLanSchema = z.object({
  driver: z.string().max(32).optional(),
  /** Every address attached to the LAN network, with the container holding it. */
  holders: z.record(z.string().max(64), z.string().max(256)),
});
export type ObservedLan = z.infer<typeof ObservedLanSchema>;

/** What one Docker engine runs: the master's own, or an agent's in its status heartbeat. */
export const ObservedEngineSchema = z
  .object({
    deckies: z.record(z.string().max(128), z.array(ObservedContainerSchema).max(64)),
    lan: ObservedLanSchema,
  })
  .meta({ id: 'ObservedEngine' });
export type ObservedEngine = z.infer<typeof ObservedEngineSchema>;

/** A decky as its engine runs it (an agent's status): `running` when all its containers run, else the state of one that does not. */
export interface DeckyRuntimeState {
  name: string;
  running: boolean;
  state: string;
  /** The base container's address on the LAN network. */
  ip?: string;
  containers: Array<{ service: string; state: string; status: string }>;
}

/** Each decky of an observed engine, by name. */
export function deckyRuntimeStates(observed: ObservedEngine): DeckyRuntimeState[] {
  return Object.entries(observed.deckies)
    .map(([name, containers]) => {
      const stopped = containers.filter((c) => c.state !== 'running');
      const base = containers.find((c) => c.role === 'base');
      return {
        name,
        running: stopped.length === 0,
        state: stopped.at(-1)?.state ?? 'running',
        ...(base?.lanIp ? { ip: base.lanIp } : {}),
        containers: containers.map((c) => ({ service: c.role, state: c.state, status: c.status })),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

export interface DesiredDecky {
  name: string;
  ip: string;
  services: readonly string[];
}

const EXIT_CODE = /^Exited \((-?\d+)\)/;

/** `container ssh exited (137)`, `container ssh is created`… */
function containerProblem(c: ObservedContainer): string {
  const code = EXIT_CODE.exec(c.status)?.[1];
  const what = c.role === 'base' ? 'base container' : `container ${c.role}`;
  return c.state === 'exited' && code !== undefined ? `${what} exited (${code})` : `${what} is ${c.state}`;
}

/**
 * Why the decky does not run as desired, or null when it does: its base and every service
 * container running (the services in the base's network namespace), the base on the LAN with
 * the decky's IP, no other container holding that IP, on the expected driver. The first problem found is the reason; the rest follow it.
 */
export function driftReason(desired: DesiredDecky, containers: readonly ObservedContainer[], lan: ObservedLan, expectedDriver?: NetworkDriver): string | null {
  const problems: string[] = [];
  const byRole = new Map(containers.map((c) => [c.role, c]));
  const base = byRole.get('base');
  if (!base) problems.push('base container missing');
  else if (base.state !== 'running') problems.push(containerProblem(base));
  for (const service of desired.services) {
    const c = byRole.get(service);
    if (!c) problems.push(`container ${service} missing`);
    else if (c.state !== 'running') problems.push(containerProblem(c));
    else if (base && c.namespaceOwner !== base.id) problems.push(`container ${service} is outside the base container's network namespace`);
  }
  if (base?.state === 'running') {
    if (!base.lanIp) problems.push('not on the LAN');
    else if (base.lanIp !== desired.ip) problems.push(`base holds IP ${base.lanIp}, expected ${desired.ip}`);
  }
  const holder = lan.holders[desired.ip];
  if (holder && holder !== base?.name) problems.push(`IP ${desired.ip} held by another container (${holder})`);
  if (expectedDriver && lan.driver && lan.driver !== expectedDriver && base?.lanIp) problems.push(`on a ${lan.driver} LAN, expected ${expectedDriver}`);
  return problems.length ? problems.join('; ') : null;
}
