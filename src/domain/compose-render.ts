/**
 * Compose rendering shared by the master and the swarm agents, so a decky looks the same
 * wherever it runs. One compose file per decky: deploying or tearing down one decky never
 * touches another's services, even though all deckies of a scope share one compose project.
 *
 * The file format is "2.4" because it is the one both Debian's docker-compose 1.29 and
 * compose v2 accept with external network names, sysctls and `network_mode: service:`.
 */
import { stringify } from 'yaml';
import type { Catalogue } from './catalog';
import { FleetInputError } from './errors';
import type { CustomService, DeckySpec, NmapOs } from './schemas';

/** Labels on every container we create: the product only ever touches what carries them. */
export const LABELS = {
  decky: 'decnet.decky',
  service: 'decnet.service',
  role: 'decnet.role',
  project: 'decnet.project',
} as const;

/** Values of the LABELS.role label. */
export const ROLES = { base: 'base', service: 'service' } as const;

/** The compose key of the file's one LAN network; its real Docker name is lanNetworkName(). */
const LAN_KEY = 'lan';

/** Compose v2's rule for project names (v1 is laxer); checking it here keeps both happy. */
const PROJECT_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * Kernel settings of the base container that shape the OS fingerprint nmap sees: initial TTL
 * and TCP timestamps. Only net.* sysctls: they are per network namespace, which the service
 * containers share with the base.
 */
export const NMAP_OS_SYSCTLS: Readonly<Record<NmapOs, Readonly<Record<string, string>>>> = {
  linux: { 'net.ipv4.ip_default_ttl': '64', 'net.ipv4.tcp_timestamps': '1' },
  bsd: { 'net.ipv4.ip_default_ttl': '64', 'net.ipv4.tcp_timestamps': '1' },
  macos: { 'net.ipv4.ip_default_ttl': '64', 'net.ipv4.tcp_timestamps': '1' },
  windows: { 'net.ipv4.ip_default_ttl': '128', 'net.ipv4.tcp_timestamps': '0' },
  embedded: { 'net.ipv4.ip_default_ttl': '255', 'net.ipv4.tcp_timestamps': '0' },
  // IOS starts at TTL 255 and sends no TCP timestamps.
  cisco: { 'net.ipv4.ip_default_ttl': '255', 'net.ipv4.tcp_timestamps': '0' },
};

export interface ComposeService {
  image: string;
  container_name: string;
  hostname?: string;
  command?: string[];
  restart: 'unless-stopped';
  /** docker-init as PID 1: forwards stop signals and reaps zombies, so stopping takes no grace period. */
  init: true;
  cap_add?: string[];
  sysctls?: Record<string, string>;
  labels: Record<string, string>;
  networks?: Record<string, { ipv4_address: string }>;
  network_mode?: string;
  depends_on?: string[];
  environment?: Record<string, string>;
}

export interface ComposeFile {
  version: '2.4';
  services: Record<string, ComposeService>;
  networks: Record<string, { external: true; name: string }>;
}

export interface RenderOptions {
  /** Compose project of the scope: "decnet" on the master, prefixed on agents. */
  project: string;
  catalogue: Catalogue;
  /** The LAN network's Docker name; default `<project>_lan`. */
  network?: string;
}

export function lanNetworkName(project: string): string {
  return `${project}_lan`;
}

/**
 * "<project>_<decky>" and "<project>_<decky>.<service>": decky names have neither "_" nor "."
 * and project names have no ".", so no two deckies or projects can produce the same name
 * (with "-" as separator, decky "web-ssh" and service ssh of decky "web" would collide).
 */
export function baseContainerName(project: string, decky: string): string {
  return `${project}_${decky}`;
}

export function serviceContainerName(project: string, decky: string, service: string): string {
  return `${baseContainerName(project, decky)}.${service}`;
}

/** Compose service key of one decky service (the base container's key is the decky name). */
export function composeServiceKey(decky: string, service: string): string {
  return `${decky}-${service}`;
}

export function renderDeckyCompose(decky: DeckySpec, { project, catalogue, network }: RenderOptions): ComposeFile {
  if (!PROJECT_PATTERN.test(project)) {
    throw new Error(`compose project "${project}" must be lower-case letters, digits, "_" and "-", starting with a letter or digit`);
  }
  const services: Record<string, ComposeService> = { [decky.name]: renderBase(decky, project) };
  for (const service of decky.services) {
    services[composeServiceKey(decky.name, service)] = renderService(decky, service, project, catalogue);
  }
  return {
    version: '2.4',
    services,
    networks: { [LAN_KEY]: { external: true, name: network ?? lanNetworkName(project) } },
  };
}

/**
 * Every string double-quoted: docker-compose 1.29 reads YAML 1.1 (PyYAML), where plain
 * values such as `on`, `no`, `=` or `1:20` are not strings, so a YAML 1.2 writer's plain
 * output could change meaning or be rejected.
 */
export function renderComposeYaml(decky: DeckySpec, options: RenderOptions): string {
  return stringify(renderDeckyCompose(decky, options), { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'QUOTE_DOUBLE' });
}

/** The base container owns the IP and the network namespace; it only has to stay alive. */
function renderBase(decky: DeckySpec, project: string): ComposeService {
  return {
    image: decky.base_image,
    container_name: baseContainerName(project, decky.name),
    hostname: decky.hostname,
    command: ['sleep', 'infinity'],
    restart: 'unless-stopped',
    init: true,
    cap_add: ['NET_ADMIN'],
    sysctls: { ...NMAP_OS_SYSCTLS[decky.nmap_os] },
    labels: { [LABELS.decky]: decky.name, [LABELS.role]: ROLES.base, [LABELS.project]: project },
    networks: { [LAN_KEY]: { ipv4_address: decky.ip } },
  };
}

/** The image of one of the decky's services: its custom service's, else the catalogue's. */
export function serviceImage(decky: DeckySpec, service: string, catalogue: Catalogue): string {
  return customService(decky, service)?.image ?? catalogue.imageFor(service);
}

function customService(decky: DeckySpec, service: string): CustomService | undefined {
  return Object.hasOwn(decky.custom_services, service) ? decky.custom_services[service] : undefined;
}

function renderService(decky: DeckySpec, service: string, project: string, catalogue: Catalogue): ComposeService {
  const custom = customService(decky, service);
  const ports = custom ? (custom.ports ?? []) : (catalogue.services.get(service)?.ports ?? []);
  return {
    image: serviceImage(decky, service, catalogue),
    container_name: serviceContainerName(project, decky.name, service),
    // Compose interpolates `$VAR` in a command too: the argv must reach the container verbatim.
    ...(custom?.exec ? { command: custom.exec.map(escapeInterpolation) } : {}),
    restart: 'unless-stopped',
    init: true,
    labels: {
      [LABELS.decky]: decky.name,
      [LABELS.service]: service,
      [LABELS.role]: ROLES.service,
      [LABELS.project]: project,
    },
    network_mode: `service:${decky.name}`,
    depends_on: [decky.name],
    environment: {
      DECNET_DECKY: decky.name,
      DECNET_SERVICE: service,
      DECNET_PORTS: ports.join(','),
      ...configEnvironment(decky.service_config[service] ?? {}, decky.name, service),
    },
  };
}

/**
 * service_config keys become DECNET_CFG_<KEY> variables. `$` is doubled because compose
 * interpolates `$VAR` in the file, and an operator's banner text must reach the service verbatim.
 */
function configEnvironment(config: Record<string, string>, decky: string, service: string): Record<string, string> {
  const environment: Record<string, string> = {};
  const sourceKey: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    const variable = `DECNET_CFG_${key.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
    if (sourceKey[variable] !== undefined) {
      throw new FleetInputError(`decky "${decky}" service "${service}": config keys "${sourceKey[variable]}" and "${key}" both map to ${variable}`, {
        path: ['service_config', service, key],
      });
    }
    sourceKey[variable] = key;
    environment[variable] = escapeInterpolation(value);
  }
  return environment;
}

function escapeInterpolation(value: string): string {
  return value.replaceAll('$', () => '$$');
}
