/**
 * Which LAN network drivers this machine's kernel runs. Docker creates an ipvlan network without
 * complaint on a kernel that lacks ipvlan and fails only when a container joins it, so asking the
 * engine to create a network proves nothing: the probe asks the kernel itself to create a link of
 * each type on a veth pair of its own, then deletes the pair (its sub-links go with it). It runs
 * where the agent runs, which is the Docker engine's machine (the engine is reached on its local
 * socket). Needs CAP_NET_ADMIN, as the agent (root) has.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { NetworkDriverSchema, type NetworkDriver } from '../domain/schemas';

const execFileAsync = promisify(execFile);

export interface DriverProbe {
  /** The drivers whose link the kernel created, in NetworkDriverSchema order. */
  drivers: NetworkDriver[];
  /** Why each missing driver is missing (the kernel's words), for the logs and the refusals. */
  refused: Partial<Record<NetworkDriver, string>>;
}

const SUB_LINK: Record<NetworkDriver, string[]> = { macvlan: ['macvlan', 'mode', 'bridge'], ipvlan: ['ipvlan', 'mode', 'l2'] };

const stderrOf = (err: unknown) => String((err as { stderr?: string }).stderr ?? '').trim() || (err as Error).message;

export async function probeNetworkDrivers(): Promise<DriverProbe> {
  // Interface names hold 15 characters: `dnp` + 8 hex, the peer and sub-links one more each.
  const parent = `dnp${randomBytes(4).toString('hex')}`;
  await execFileAsync('ip', ['link', 'add', parent, 'type', 'veth', 'peer', 'name', `${parent}p`]).catch((err: unknown) => {
    throw new Error(`cannot create the probe's veth pair ${parent}: ${stderrOf(err)}`, { cause: err });
  });
  const probe: DriverProbe = { drivers: [], refused: {} };
  try {
    for (const driver of NetworkDriverSchema.options) {
      try {
        await execFileAsync('ip', ['link', 'add', 'link', parent, 'name', `${parent}${driver[0]}`, 'type', ...SUB_LINK[driver]]);
        probe.drivers.push(driver);
      } catch (err) {
        probe.refused[driver] = stderrOf(err);
      }
    }
  } finally {
    await execFileAsync('ip', ['link', 'del', parent]).catch(() => undefined);
  }
  return probe;
}
