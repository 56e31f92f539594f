/**
 * Choosing a decky's next services: one pure function for the API, the schedules and the CLI
 * (architecture.md §9), so a decky mutates by the same rule whoever asks.
 */
import type { Catalogue } from './catalog';
import { checkDeckyService, drawServices } from './fleet';
import { FleetInputError } from './errors';
import type { CustomServices } from './schemas';

/** How often to redraw before accepting a set equal to the current one. */
const MAX_TRIES = 20;

export interface MutableDecky {
  services: string[];
  archetype: string | null;
  /** The decky's bring-your-own services: a drawn mutation keeps those it runs. */
  customServices?: CustomServices;
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((s) => b.includes(s));

/**
 * The pool is the archetype's services, else every per-decky service of the catalogue (fleet
 * singletons excluded); draw 1–min(3, pool) of them, up to 20 times, until the set differs from
 * the current one. A single-service archetype therefore keeps its service.
 *
 * Only catalogue services rotate: the decky's custom services are what its operator brought, so
 * they stay, and a decky that runs nothing else keeps its services as they are.
 */
export function pickNewServices(decky: MutableDecky, catalogue: Catalogue, rng: () => number): string[] {
  const custom = decky.customServices ?? {};
  const kept = decky.services.filter((s) => Object.hasOwn(custom, s));
  const rotating = decky.services.filter((s) => !kept.includes(s));
  if (rotating.length === 0) return [...kept];
  const archetype = decky.archetype ? catalogue.archetypes.get(decky.archetype) : undefined;
  const pool = archetype ? archetype.services : catalogue.perDeckyServices();
  let picked = drawServices(pool, rng);
  for (let tries = 1; tries < MAX_TRIES && sameSet(picked, rotating); tries++) picked = drawServices(pool, rng);
  return [...kept, ...picked];
}

/**
 * Explicit services of a mutation request, the decky's new set as given: each a per-decky catalogue
 * service or one of the decky's custom services, listed once.
 */
export function checkMutationServices(services: string[], catalogue: Catalogue, custom: CustomServices = {}): string[] {
  services.forEach((service, i) => checkDeckyService(service, ['services', i], catalogue, custom));
  const duplicate = services.find((s, i) => services.indexOf(s) !== i);
  if (duplicate) throw new FleetInputError(`services: "${duplicate}" is listed twice`, { path: ['services'] });
  return services;
}
