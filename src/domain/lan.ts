/**
 * The LAN the deckies join (GET/PUT /system/network): its zod schemas and validation rules, and
 * the detection of the host's default LAN from the kernel's routing table and the interfaces'
 * addresses, parsed here from data the caller read. No Node imports: the web UI imports the types.
 */
import { z } from 'zod';
import { intToIp, ipToInt, parseCidr, type Ipv4Block } from './ip-allocation';
import { CidrSchema, DriverMoveFields, Ipv4Schema, NetworkDriverSchema, NetworkSchema } from './schemas';

export const LanDriverSchema = NetworkDriverSchema.meta({
  description: 'macvlan: each decky gets its own MAC and IP on the LAN; ipvlan (L2): own IPs, the MAC of the parent (Wi-Fi bridged VMs need it)',
});
export type LanDriver = z.infer<typeof LanDriverSchema>;

/** The shortest and longest prefixes that make sense for a LAN with room for deckies. */
const PREFIX = { min: 8, max: 30 };

/** "192.168.1.5/24 is not a network address…" when host bits are set; null when the CIDR is its own network. */
function networkAddressProblem(cidr: string): string | null {
  const block = parseCidr(cidr);
  const expected = `${intToIp(block.network)}/${block.prefix}`;
  return expected === cidr ? null : `${cidr} is not a network address; did you mean ${expected}?`;
}

function hostAddressProblem(ip: string, block: Ipv4Block, subnet: string): string | null {
  const value = ipToInt(ip);
  if (value < block.network || value > block.broadcast) return `${ip} is not inside the subnet ${subnet}`;
  if (value === block.network) return `${ip} is the network address of ${subnet}, not a host`;
  if (value === block.broadcast) return `${ip} is the broadcast address of ${subnet}, not a host`;
  return null;
}

/**
 * The rules of a LAN beyond each field's shape: the subnet is a network address with a sane
 * prefix, the gateway a host inside it, ip_range a network inside it. Zod runs refinements even
 * when a field failed its shape, so fields without a valid shape are left to that issue.
 */
function checkLan(lan: { subnet: string; gateway: string; ip_range?: string }, ctx: z.RefinementCtx): void {
  if (!CidrSchema.safeParse(lan.subnet).success) return;
  const subnetProblem = networkAddressProblem(lan.subnet);
  if (subnetProblem) ctx.addIssue({ code: 'custom', path: ['subnet'], message: subnetProblem });
  const block = parseCidr(lan.subnet);
  if (block.prefix < PREFIX.min || block.prefix > PREFIX.max) {
    ctx.addIssue({ code: 'custom', path: ['subnet'], message: `must be a /${PREFIX.min} to /${PREFIX.max} network, got /${block.prefix}` });
  }
  const subnet = `${intToIp(block.network)}/${block.prefix}`;
  const gatewayProblem = Ipv4Schema.safeParse(lan.gateway).success ? hostAddressProblem(lan.gateway, block, subnet) : null;
  if (gatewayProblem) ctx.addIssue({ code: 'custom', path: ['gateway'], message: gatewayProblem });
  if (CidrSchema.safeParse(lan.ip_range).success) {
    const ipRange = lan.ip_range as string;
    const rangeProblem = networkAddressProblem(ipRange);
    if (rangeProblem) ctx.addIssue({ code: 'custom', path: ['ip_range'], message: rangeProblem });
    const range = parseCidr(ipRange);
    if (range.network < block.network || range.broadcast > block.broadcast) {
      ctx.addIssue({ code: 'custom', path: ['ip_range'], message: `${lan.ip_range} is not inside the subnet ${subnet}` });
    }
  }
}

const InterfaceNameSchema = NetworkSchema.shape.interface;

/** PUT /system/network: the whole LAN; an omitted ip_range means the whole subnet, an omitted driver macvlan. */
export const LanRequestSchema = z
  .object({
    interface: InterfaceNameSchema.meta({ description: "The parent interface on this host (the deckies' LAN)" }),
    subnet: CidrSchema.meta({ description: 'The LAN, as its network address: 192.168.1.0/24' }),
    gateway: Ipv4Schema.meta({ description: "The LAN's router: a host address inside the subnet" }),
    ip_range: CidrSchema.optional().meta({ description: 'Where decky addresses come from, a network inside the subnet; the whole subnet when left out' }),
    driver: LanDriverSchema.default('macvlan'),
  })
  .strict()
  .superRefine(checkLan)
  .meta({
    id: 'LanRequest',
    description: 'The LAN the deckies join. It can change only while no decky is deployed.',
    examples: [{ interface: 'eth0', subnet: '192.168.1.0/24', gateway: '192.168.1.1', driver: 'macvlan' }],
  });
export type LanRequest = z.infer<typeof LanRequestSchema>;

/**
 * LanRequestSchema plus "the interface exists here": `interfaces` are the host's interface names
 * (the caller reads them), so the 400 names the wrong one and lists the others.
 */
export function lanRequestOnHost(interfaces: string[]) {
  return LanRequestSchema.superRefine((lan, ctx) => {
    if (!InterfaceNameSchema.safeParse(lan.interface).success || interfaces.includes(lan.interface)) return;
    ctx.addIssue({
      code: 'custom',
      path: ['interface'],
      message: `no interface "${lan.interface}" on this host; it has ${interfaces.length ? interfaces.join(', ') : 'none'}`,
    });
  });
}

export const ConfiguredLanSchema = z
  .object({
    configured: z.literal(true),
    interface: z.string(),
    subnet: z.string(),
    gateway: z.string(),
    ip_range: z.string().nullable().meta({ description: 'null: addresses come from the whole subnet' }),
    driver: LanDriverSchema,
  })
  .meta({ id: 'ConfiguredLan', description: 'The LAN in use' });
export type ConfiguredLan = z.infer<typeof ConfiguredLanSchema>;

/** 202 of PUT /system/network when only the driver changes under the master's own deckies: they are moved. */
export const LanDriverMoveSchema = ConfiguredLanSchema.extend(DriverMoveFields).meta({
  id: 'LanDriverMove',
  description: 'The LAN as it is now (`driver` still the one the deckies are on), and the moves under way',
});
export type LanDriverMove = z.infer<typeof LanDriverMoveSchema>;

export const LanSuggestionSchema = z
  .object({ interface: z.string(), subnet: z.string(), gateway: z.string() })
  .meta({ id: 'LanSuggestion', description: "The host's default-route interface, its IPv4 subnet and the route's gateway" });
export type LanSuggestion = z.infer<typeof LanSuggestionSchema>;

/** GET /system/network. */
export const SystemNetworkSchema = z
  .union([
    ConfiguredLanSchema,
    z
      .object({
        configured: z.literal(false),
        suggestion: LanSuggestionSchema.optional().meta({ description: 'Absent when the host has no usable default route' }),
      })
      .meta({ id: 'UnconfiguredLan', description: 'No LAN yet: deploys are refused until one is set' }),
  ])
  .meta({ id: 'SystemNetwork' });
export type SystemNetwork = z.infer<typeof SystemNetworkSchema>;

export interface DefaultRoute {
  interface: string;
  gateway: string;
  metric: number;
}

const RTF_UP = 0x1;
const RTF_GATEWAY = 0x2;

/** A 32-bit address as /proc/net/route writes it: hex in the host's byte order. */
function routeHexToIp(hex: string, littleEndian: boolean): string {
  const value = Number.parseInt(hex, 16) >>> 0;
  return intToIp(littleEndian ? (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24)) >>> 0 : value);
}

/**
 * The IPv4 default route with the lowest metric from the text of /proc/net/route (columns named
 * by its header line), or null when there is none.
 */
export function parseDefaultRoute(procNetRoute: string, littleEndian = true): DefaultRoute | null {
  const [header, ...lines] = procNetRoute.split('\n').filter((l) => l.trim());
  if (!header) return null;
  const columns = header.trim().split(/\s+/);
  const at = (name: string) => columns.indexOf(name);
  const [iface, destination, gateway, flags, metric, mask] = ['Iface', 'Destination', 'Gateway', 'Flags', 'Metric', 'Mask'].map(at);
  if ([iface, destination, gateway, flags, metric, mask].some((i) => i < 0)) return null;
  let best: DefaultRoute | null = null;
  for (const line of lines) {
    const cells = line.trim().split(/\s+/);
    const flagBits = Number.parseInt(cells[flags], 16);
    const isDefault = Number.parseInt(cells[destination], 16) === 0 && Number.parseInt(cells[mask], 16) === 0;
    if (!isDefault || (flagBits & (RTF_UP | RTF_GATEWAY)) !== (RTF_UP | RTF_GATEWAY)) continue;
    const route = { interface: cells[iface], gateway: routeHexToIp(cells[gateway], littleEndian), metric: Number(cells[metric]) };
    if (!best || route.metric < best.metric) best = route;
  }
  return best;
}

/** One address of an interface, as os.networkInterfaces() describes it. */
export interface InterfaceAddress {
  address: string;
  netmask: string;
  family: string | number;
  internal: boolean;
}

function prefixOfNetmask(netmask: string): number | null {
  const bits = ipToInt(netmask).toString(2).padStart(32, '0');
  if (!/^1*0*$/.test(bits)) return null;
  const zero = bits.indexOf('0');
  return zero === -1 ? 32 : zero;
}

/**
 * The LAN to suggest: the default route's interface, the IPv4 subnet of its address that holds the
 * gateway, and that gateway. Null when any of it is missing or the result would not be a valid LAN.
 */
export function suggestLan(route: DefaultRoute | null, addresses: Record<string, InterfaceAddress[] | undefined>): LanSuggestion | null {
  if (!route) return null;
  for (const a of addresses[route.interface] ?? []) {
    if (a.internal || (a.family !== 'IPv4' && a.family !== 4)) continue;
    const prefix = prefixOfNetmask(a.netmask);
    if (prefix === null) continue;
    const block = parseCidr(`${a.address}/${prefix}`);
    const suggestion = { interface: route.interface, subnet: `${intToIp(block.network)}/${prefix}`, gateway: route.gateway };
    if (LanRequestSchema.safeParse(suggestion).success) return suggestion;
  }
  return null;
}
