/** What the fleet's read routes answer: the fleet, one decky with its recent rows, rows by id. */
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decky, DeckyLifecycle } from '../entities';
import { deckyToView, lifecycleToRow } from '../entities/mappers';
import type { DeckyDetail, DeckyView, FleetQuery, LifecycleRow } from '../domain/schemas';
import { NotFoundError } from './errors';

/** The rows a decky's detail shows, newest first. */
const RECENT_ROWS = 20;

/** The known rows among `ids`; unknown ids are left out. */
export async function lifecycleRows(em: EntityManager, ids: string[]): Promise<LifecycleRow[]> {
  return (await em.find(DeckyLifecycle, { id: { $in: ids } })).map(lifecycleToRow);
}

/** Every decky (filtered by host and state) with its last lifecycle row, by name. */
export async function fleetView(em: EntityManager, query: FleetQuery): Promise<DeckyView[]> {
  const where = {
    ...(query.host_uuid === undefined ? {} : { hostUuid: query.host_uuid === 'master' ? null : query.host_uuid }),
    ...(query.state === undefined ? {} : { state: query.state }),
  };
  const deckies = await em.find(Decky, where, { orderBy: { name: 'asc' } });
  const latest = await latestLifecycles(
    em,
    deckies.map((d) => d.name),
  );
  return deckies.map((d) => deckyToView(d, latest.get(d.name)));
}

export async function deckyDetail(em: EntityManager, name: string): Promise<DeckyDetail> {
  const decky = await em.findOne(Decky, { name });
  if (!decky) throw new NotFoundError(`decky "${name}" does not exist`);
  const recent = await em.find(DeckyLifecycle, { deckyName: name }, { orderBy: { startedAt: 'desc' }, limit: RECENT_ROWS });
  return { ...deckyToView(decky, recent[0]), lifecycle: recent.map(lifecycleToRow) };
}

/** Each decky's newest row, in one query however large the fleet. */
async function latestLifecycles(em: EntityManager, names: string[]): Promise<Map<string, DeckyLifecycle>> {
  if (names.length === 0) return new Map();
  const rows: Record<string, unknown>[] = await em
    .getConnection()
    .execute('select distinct on (decky_name) * from decky_lifecycle where decky_name in (?) order by decky_name, started_at desc', [names]);
  return new Map(rows.map((r) => [r.decky_name as string, em.map(DeckyLifecycle, r)]));
}
