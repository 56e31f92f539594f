/**
 * Turns what an operator asked for (DeckyRequest[], from JSON or INI) into fully resolved
 * DeckySpec[]: names expanded, services/distro/OS picked, IPs checked and allocated.
 * Input mistakes (400) are all reported before conflicts with the deployed fleet (409),
 * so an operator fixes the file before worrying about the fleet.
 */
import type { Archetype, Catalogue } from './catalog';
import { FleetConflictError, FleetInputError, overDeploymentLimitError } from './errors';
import { parseFleetIni } from './ini';
import { parseMutateInterval } from './interval';
import { allocateIps, ipInSubnet, ipToInt, parseCidr } from './ip-allocation';
import {
  DeckyNameSchema,
  DeckyRequestSchema,
  DeckySpecSchema,
  type CustomServices,
  type DeckyRequest,
  type DeckySpec,
  type DeployRequest,
  type ParsedFleet,
} from './schemas';

export interface FleetNetwork {
  subnet: string;
  gateway: string;
  ip_range?: string;
}

export interface ResolveFleetContext {
  catalogue: Catalogue;
  network: FleetNetwork;
  /** The fleet already deployed: decky name → IP. */
  existing: Map<string, string>;
  /** Uniform [0, 1); inject seededRng() for reproducible picks. */
  rng: () => number;
  /** The definition's bring-your-own services, usable by name next to the catalogue's. */
  customServices?: CustomServices;
}

const DEFAULT_DISTRO = 'debian';
const MAX_RANDOM_SERVICES = 3;

/** A custom service must not shadow a catalogue service: `services` would not say which one it means. */
function checkCustomServiceNames(custom: CustomServices, catalogue: Catalogue): void {
  const clash = Object.keys(custom).find((name) => catalogue.services.has(name));
  if (clash) {
    throw inputError(['custom_services', clash], `"${clash}" is a catalogue service; give the custom service another name`);
  }
}

/** A decky after `amount` expansion, remembering which request (index) it came from. */
interface ExpandedDecky {
  request: DeckyRequest;
  index: number;
  name: string;
  hostname: string;
}

/** What every decky of one request shares, checked once per request. */
interface RequestPlan {
  services?: string[];
  archetype?: Archetype;
  mutate_interval: number | null;
  service_config: Record<string, Record<string, string>>;
  /** The definitions of the custom services this request lists. */
  custom_services: CustomServices;
}

type Path = (string | number)[];

/**
 * The fleet a deploy request defines, with the warnings of its INI: one reading for the deploy and
 * anything that plans one, so both skip and report the same things. A request for more deckies
 * (each `amount` counted) than `deploymentLimit` is refused here, before anything is expanded.
 */
export function readFleetDefinition(request: DeployRequest, deploymentLimit: number): ParsedFleet {
  const parsed: ParsedFleet =
    'ini_content' in request
      ? parseFleetIni(request.ini_content, { maxDeckies: deploymentLimit })
      : {
          definition: { deckies: request.deckies, network: request.network, ...(request.custom_services ? { custom_services: request.custom_services } : {}) },
          warnings: [],
        };
  const requested = requestedDeckyCount(parsed.definition.deckies);
  if (requested > deploymentLimit) throw overDeploymentLimitError(requested, deploymentLimit, 'the request asks for');
  return parsed;
}

/** The deckies a definition expands to: each request's `amount` (default 1). */
export function requestedDeckyCount(requests: DeckyRequest[]): number {
  return requests.reduce((sum, d) => sum + (d.amount ?? 1), 0);
}

export function resolveFleet(requests: DeckyRequest[], ctx: ResolveFleetContext): DeckySpec[] {
  const custom = ctx.customServices ?? {};
  checkCustomServiceNames(custom, ctx.catalogue);
  const deckies = requests.flatMap(expandAmount);
  deckies.forEach(checkExpandedNames);
  rejectDuplicateNames(deckies);
  const plans = requests.map((request, index) => planRequest(request, index, ctx.catalogue, custom));
  deckies.forEach((d) => checkExplicitIp(d, ctx.network));

  rejectExistingNames(deckies, ctx.existing);
  const ips = assignIps(deckies, ctx);
  return deckies.map((decky, i) => toSpec(decky, plans[decky.index], ips[i], ctx));
}

/** Mulberry32: a tiny seeded PRNG, so tests and reproducible deploys get the same picks. */
export function seededRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 1–3 distinct services (never more than the pool holds) drawn from `pool` with `rng`. */
export function drawServices(pool: string[], rng: () => number): string[] {
  const remaining = [...pool];
  const count = 1 + pickIndex(rng, Math.min(MAX_RANDOM_SERVICES, remaining.length));
  return Array.from({ length: count }, () => remaining.splice(pickIndex(rng, remaining.length), 1)[0]);
}

function pickIndex(rng: () => number, length: number): number {
  return Math.min(length - 1, Math.floor(rng() * length));
}

/** `amount: 4` on "ws" gives ws-01 … ws-04 (ws-001 … when over 99); a given hostname gets the same suffix. */
function expandAmount(request: DeckyRequest, index: number): ExpandedDecky[] {
  const amount = request.amount ?? 1;
  if (amount === 1) return [{ request, index, name: request.name, hostname: request.hostname ?? request.name }];
  const width = amount > 99 ? 3 : 2;
  return Array.from({ length: amount }, (_, i) => {
    const suffix = String(i + 1).padStart(width, '0');
    const name = `${request.name}-${suffix}`;
    return { request, index, name, hostname: request.hostname ? `${request.hostname}-${suffix}` : name };
  });
}

/** Suffixes can push a valid name or hostname past 63 characters. */
function checkExpandedNames(decky: ExpandedDecky): void {
  const name = DeckyNameSchema.safeParse(decky.name);
  if (!name.success) throw inputError(['deckies', decky.index, 'name'], `decky name "${decky.name}" ${name.error.issues[0].message}`);
  const hostname = DeckyRequestSchema.shape.hostname.safeParse(decky.hostname);
  if (!hostname.success) {
    throw inputError(['deckies', decky.index, 'hostname'], `host name "${decky.hostname}" ${hostname.error.issues[0].message}`);
  }
}

function rejectDuplicateNames(deckies: ExpandedDecky[]): void {
  const firstIndexByName = new Map<string, number>();
  for (const decky of deckies) {
    const first = firstIndexByName.get(decky.name);
    if (first !== undefined) {
      throw inputError(['deckies', decky.index, 'name'], `decky "${decky.name}" is also defined by deckies[${first}]`);
    }
    firstIndexByName.set(decky.name, decky.index);
  }
}

function planRequest(request: DeckyRequest, index: number, catalogue: Catalogue, custom: CustomServices): RequestPlan {
  const archetype = request.archetype === undefined ? undefined : catalogue.archetypes.get(request.archetype);
  if (request.archetype !== undefined && !archetype) {
    throw inputError(
      ['deckies', index, 'archetype'],
      `unknown archetype "${request.archetype}"; valid archetypes: ${[...catalogue.archetypes.keys()].join(', ')}`,
    );
  }
  request.services?.forEach((service, i) => checkDeckyService(service, ['deckies', index, 'services', i], catalogue, custom));
  const duplicate = request.services?.find((s, i) => request.services?.indexOf(s) !== i);
  if (duplicate) throw inputError(['deckies', index, 'services'], `service "${duplicate}" is listed twice`);
  Object.keys(request.service_config ?? {}).forEach((service) => checkDeckyService(service, ['deckies', index, 'service_config', service], catalogue, custom));
  return {
    services: request.services,
    archetype,
    mutate_interval: parseInterval(request, index),
    service_config: request.service_config ?? {},
    custom_services: Object.fromEntries(Object.entries(custom).filter(([name]) => request.services?.includes(name))),
  };
}

/** A service a decky may run: a per-decky catalogue service, or one of `custom` (the decky's own). */
export function checkDeckyService(service: string, path: Path, catalogue: Catalogue, custom: CustomServices = {}): void {
  if (Object.hasOwn(custom, service)) return;
  const entry = catalogue.services.get(service);
  if (!entry) {
    const valid = [...catalogue.perDeckyServices(), ...Object.keys(custom)].join(', ');
    throw inputError(path, `unknown service "${service}"; valid services: ${valid}`);
  }
  if (entry.singleton) throw inputError(path, `service "${service}" runs fleet-wide and cannot be given to a decky`);
}

function parseInterval(request: DeckyRequest, index: number): number | null {
  try {
    return parseMutateInterval(request.mutate_interval) ?? null;
  } catch (err) {
    if (err instanceof FleetInputError) throw inputError(['deckies', index, 'mutate_interval'], err.message);
    throw err;
  }
}

function checkExplicitIp(decky: ExpandedDecky, network: FleetNetwork): void {
  const ip = decky.request.ip;
  if (ip === undefined) return;
  const path = ['deckies', decky.index, 'ip'];
  if (!ipInSubnet(ip, network.subnet)) throw inputError(path, `IP ${ip} is outside the subnet ${network.subnet}`);
  const block = parseCidr(network.subnet);
  const value = ipToInt(ip);
  if (value === block.network || value === block.broadcast) {
    throw inputError(path, `IP ${ip} is the network or broadcast address of ${network.subnet}`);
  }
  if (ip === network.gateway) throw inputError(path, `IP ${ip} is the gateway`);
}

function rejectExistingNames(deckies: ExpandedDecky[], existing: Map<string, string>): void {
  const clashes = deckies.map((d) => d.name).filter((name) => existing.has(name));
  if (clashes.length === 0) return;
  const quoted = clashes.map((n) => `"${n}"`).join(', ');
  const message = clashes.length === 1 ? `decky ${quoted} already exists` : `deckies ${quoted} already exist`;
  throw new FleetConflictError('name_clash', message, { names: clashes });
}

/** Explicit IPs must be free; the others are allocated around them and around the deployed fleet. */
function assignIps(deckies: ExpandedDecky[], ctx: ResolveFleetContext): string[] {
  const holders = new Map([...ctx.existing].map(([name, ip]) => [ip, name]));
  const claimed = new Map<string, string>();
  for (const { name, request } of deckies) {
    if (request.ip === undefined) continue;
    const holder = holders.get(request.ip);
    if (holder !== undefined) {
      throw new FleetConflictError('ip_clash', `IP ${request.ip} of decky "${name}" is already held by deployed decky "${holder}"`, {
        ip: request.ip,
        deckies: [name, holder],
      });
    }
    const other = claimed.get(request.ip);
    if (other !== undefined) {
      throw new FleetConflictError('ip_clash', `IP ${request.ip} is requested by both decky "${other}" and decky "${name}"`, {
        ip: request.ip,
        deckies: [other, name],
      });
    }
    claimed.set(request.ip, name);
  }
  const allocated = allocateIps({
    subnet: ctx.network.subnet,
    gateway: ctx.network.gateway,
    ipRange: ctx.network.ip_range,
    reserved: new Set([...holders.keys(), ...claimed.keys()]),
    count: deckies.filter((d) => d.request.ip === undefined).length,
  });
  let next = 0;
  return deckies.map((d) => d.request.ip ?? allocated[next++]);
}

/** Every check happened before; parsing the result only guards against a bug here. */
function toSpec(decky: ExpandedDecky, plan: RequestPlan, ip: string, ctx: ResolveFleetContext): DeckySpec {
  const { catalogue, rng } = ctx;
  const services = plan.services ?? plan.archetype?.services ?? drawServices(catalogue.perDeckyServices(), rng);
  const distros = plan.archetype?.distros;
  const distro = decky.request.distro ?? (distros ? distros[pickIndex(rng, distros.length)] : DEFAULT_DISTRO);
  return DeckySpecSchema.parse({
    name: decky.name,
    ip,
    services: [...services],
    archetype: plan.archetype?.name ?? null,
    distro,
    base_image: catalogue.baseImage(),
    hostname: decky.hostname,
    nmap_os: decky.request.nmap_os ?? plan.archetype?.nmap_os ?? (distro.startsWith('windows') ? 'windows' : 'linux'),
    service_config: structuredClone(plan.service_config),
    mutate_interval: plan.mutate_interval,
    custom_services: structuredClone(plan.custom_services),
  });
}

function inputError(path: Path, message: string): FleetInputError {
  return new FleetInputError(`${formatPath(path)}: ${message}`, { path });
}

/** ['deckies', 1, 'services', 0] → "deckies[1].services[0]" */
function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
