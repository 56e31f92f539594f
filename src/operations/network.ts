/**
 * The LAN in the DeploymentSettings row: what GET/PUT /system/network and a deploy's `network`
 * read and change, and the one rule both follow: the LAN cannot change under deployed deckies.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decky, DeckyLifecycle, DeploymentSettings, SwarmHost, loadDeploymentSettings } from '../entities';
import { FleetConflictError } from '../domain/errors';
import type { ConfiguredLan, LanDriverMove, LanRequest } from '../domain/lan';
import type { OperationsContext } from './context';
import { assertNoMoveUnderWay, namedDeckies, planDriverMoves } from './driver-change';
import { lockFleet } from './locks';
import { startLifecycleWorkflowsInBackground } from './workflow-start';

/** A driver changed with other LAN fields, or by a deploy, is not a move: what is. */
const DRIVER_CHANGE_NOTE =
  "A driver change alone moves deckies instead, base containers and IPs kept: PUT /system/network with only `driver` changed (the master's own deckies) or PATCH /swarm/hosts/{uuid} `use_ipvlan` (a host's). ";

/**
 * Refuses (409 network_mismatch) to change `changed` fields of a configured LAN while `deckies`
 * live on it: they would be stranded on the old one. `remedy` says what the caller can do instead.
 */
export function assertLanMayChange(
  settings: DeploymentSettings,
  changed: string[],
  deckies: string[],
  remedy: string,
  driverNote = changed.includes('driver'),
): void {
  if (changed.length === 0 || deckies.length === 0 || !settings.subnet) return;
  throw new FleetConflictError(
    'network_mismatch',
    `the fleet runs on ${settings.subnet} via ${settings.interface}; this changes ${changed.join(', ')} under ${deckies.length} decky(ies): ${namedDeckies(deckies)}. ${driverNote ? DRIVER_CHANGE_NOTE : ''}${remedy}`,
    { changed, deckies },
  );
}

/** The LAN as the DeploymentSettings row holds it. */
export type LanFields = Pick<DeploymentSettings, 'interface' | 'subnet' | 'gateway' | 'ipRange' | 'ipvlan'>;

/** The fields (by their API names) in which `wanted` differs from the LAN in the settings row. */
export function changedLanFields(settings: LanFields, wanted: LanFields): string[] {
  const fields = [
    ['interface', 'interface'],
    ['subnet', 'subnet'],
    ['gateway', 'gateway'],
    ['ip_range', 'ipRange'],
    ['driver', 'ipvlan'],
  ] as const;
  return fields.filter(([, property]) => settings[property] !== wanted[property]).map(([field]) => field);
}

export function configuredLan(settings: DeploymentSettings): ConfiguredLan | null {
  if (!settings.interface || !settings.subnet || !settings.gateway) return null;
  return {
    configured: true,
    interface: settings.interface,
    subnet: settings.subnet,
    gateway: settings.gateway,
    ip_range: settings.ipRange,
    driver: settings.ipvlan ? 'ipvlan' : 'macvlan',
  };
}

export async function currentLan(em: EntityManager): Promise<ConfiguredLan | null> {
  return configuredLan(await loadDeploymentSettings(em));
}

/**
 * PUT /system/network: sets the whole LAN (validated by LanRequestSchema on this host). The same
 * values again change nothing; other values are refused while deckies are deployed, except the
 * driver alone: the master's own running and degraded deckies are moved to it (202, one `move`
 * row each) and the LAN's driver changes once a move succeeded. Swarm deckies whose host follows
 * the LAN's driver (no `use_ipvlan`) refuse it: their hosts' networks are not the master's to move.
 */
export async function setLan(ctx: OperationsContext, lan: LanRequest): Promise<ConfiguredLan | LanDriverMove> {
  const { configured, moves } = await ctx.orm.em.fork().transactional(async (tx) => {
    await lockFleet(tx);
    const settings = await loadDeploymentSettings(tx);
    const wanted: LanFields = {
      interface: lan.interface,
      subnet: lan.subnet,
      gateway: lan.gateway,
      ipRange: lan.ip_range ?? null,
      ipvlan: lan.driver === 'ipvlan',
    };
    const changed = changedLanFields(settings, wanted);
    let moves: DeckyLifecycle[] = [];
    const scope = { hostUuid: null, label: 'the master' };
    // Even the LAN it has now: the moves under way would change its driver afterwards.
    await assertNoMoveUnderWay(tx, scope);
    if (changed.length === 1 && changed[0] === 'driver' && settings.subnet) {
      const following = await tx.find(Decky, { hostUuid: { $in: await hostsFollowingLan(tx) } }, { fields: ['name'], orderBy: { name: 'asc' } });
      assertLanMayChange(
        settings,
        changed,
        following.map((d) => d.name),
        "They run on swarm hosts that follow the LAN's driver, whose networks the master does not move: tear them down first (or, towards ipvlan, give their hosts use_ipvlan with PATCH /swarm/hosts/{uuid}, which moves them).",
        false,
      );
      moves = await planDriverMoves(tx, scope, lan.driver);
    } else if (changed.length > 0) {
      const fleet = await tx.find(Decky, {}, { fields: ['name'], orderBy: { name: 'asc' } });
      assertLanMayChange(
        settings,
        changed,
        fleet.map((d) => d.name),
        'Tear them down first.',
      );
    }
    if (moves.length === 0) Object.assign(settings, wanted);
    return { configured: configuredLan(settings)!, moves };
  });
  if (moves.length === 0) return configured;
  ctx.logger.info({ moving_to: lan.driver, deckies: moves.map((r) => r.deckyName) }, "driver change: moving the master's deckies");
  startLifecycleWorkflowsInBackground(ctx, moves);
  return { ...configured, lifecycle_ids: moves.map((r) => r.id), moving_to: lan.driver };
}

/** Swarm hosts whose deckies get the LAN's driver: those without use_ipvlan (networkForHost). */
async function hostsFollowingLan(tx: EntityManager): Promise<string[]> {
  return (await tx.find(SwarmHost, { useIpvlan: false }, { fields: ['uuid'] })).map((h) => h.uuid);
}
