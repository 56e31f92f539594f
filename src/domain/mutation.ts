/**
 * Choosing a decky's next services: one pure function for the API, the schedules and the CLI
 * (SPEC §9), so a decky mutates by the same rule whoever asks.
 */
import type { Catalogue } from './catalog';
import { checkDeckyService, drawServices } from './fleet';
import { FleetInputError } from './errors';

/** How often to redraw before accepting a set equal to the current one. */
const MAX_TRIES = 20;

export interface MutableDecky {
  services: string[];
  archetype: string | null;
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((s) => b.includes(s));

/**
 * The pool is the archetype's services, else every per-decky service of the catalogue (fleet
 * singletons excluded); draw 1–min(3, pool) of them, up to 20 times, until the set differs from
 * the current one. A single-service archetype therefore keeps its service.
 */
export function pickNewServices(decky: MutableDecky, catalogue: Catalogue, rng: () => number): string[] {
  const archetype = decky.archetype ? catalogue.archetypes.get(decky.archetype) : undefined;
  const pool = archetype ? archetype.services : catalogue.perDeckyServices();
  let picked = drawServices(pool, rng);
  for (let tries = 1; tries < MAX_TRIES && sameSet(picked, decky.services); tries++) picked = drawServices(pool, rng);
  return picked;
}

/** Explicit services of a mutation request: each in the catalogue, per decky, listed once. */
export function checkMutationServices(services: string[], catalogue: Catalogue): string[] {
  services.forEach((service, i) => checkDeckyService(service, ['services', i], catalogue));
  const duplicate = services.find((s, i) => services.indexOf(s) !== i);
  if (duplicate) throw new FleetInputError(`services: "${duplicate}" is listed twice`, { path: ['services'] });
  return services;
}
