/**
 * The LAN in the DeploymentSettings row: what GET/PUT /system/network and a deploy's `network`
 * read and change, and the one rule both follow: the LAN cannot change under deployed deckies.
 */
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { Decky, DeploymentSettings } from '../entities';
import { FleetConflictError } from '../domain/errors';
import type { ConfiguredLan, LanRequest } from '../domain/lan';
import { lockFleet } from './locks';

/** The message names at most this many deckies; the details carry them all. */
const NAMED_DECKIES = 20;

/**
 * Why deckies are not moved to another driver on one engine: Docker holds one subnet in one
 * network, so the LAN network would have to be removed under them, every decky off the LAN at once.
 */
const DRIVER_CHANGE_NOTE =
  'Another driver means another LAN network: the one they use would have to be replaced under them, every decky off the LAN meanwhile (and for good if the kernel refuses the new driver), so they are not moved and keep running. ';

/**
 * Refuses (409 network_mismatch) to change `changed` fields of a configured LAN while `deckies`
 * live on it: they would be stranded on the old one. `remedy` says what the caller can do instead.
 */
export function assertLanMayChange(settings: DeploymentSettings, changed: string[], deckies: string[], remedy: string): void {
  if (changed.length === 0 || deckies.length === 0 || !settings.subnet) return;
  const named = deckies.slice(0, NAMED_DECKIES).join(', ') + (deckies.length > NAMED_DECKIES ? ` and ${deckies.length - NAMED_DECKIES} more` : '');
  throw new FleetConflictError(
    'network_mismatch',
    `the fleet runs on ${settings.subnet} via ${settings.interface}; this changes ${changed.join(', ')} under ${deckies.length} decky(ies): ${named}. ${changed.includes('driver') ? DRIVER_CHANGE_NOTE : ''}${remedy}`,
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
  return configuredLan(await em.findOneOrFail(DeploymentSettings, { id: 1 }));
}

/**
 * PUT /system/network: sets the whole LAN (validated by LanRequestSchema on this host). The same
 * values again change nothing; other values are refused while deckies are deployed.
 */
export async function setLan(orm: MikroORM, lan: LanRequest): Promise<ConfiguredLan> {
  return orm.em.fork().transactional(async (tx) => {
    await lockFleet(tx);
    const settings = await tx.findOneOrFail(DeploymentSettings, { id: 1 });
    const wanted: LanFields = { interface: lan.interface, subnet: lan.subnet, gateway: lan.gateway, ipRange: lan.ip_range ?? null, ipvlan: lan.driver === 'ipvlan' };
    const changed = changedLanFields(settings, wanted);
    if (changed.length > 0) {
      const fleet = await tx.find(Decky, {}, { fields: ['name'], orderBy: { name: 'asc' } });
      assertLanMayChange(settings, changed, fleet.map((d) => d.name), 'Tear them down first.');
      Object.assign(settings, wanted);
    }
    return configuredLan(settings)!;
  });
}
