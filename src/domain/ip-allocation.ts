/**
 * IPv4 arithmetic and the allocator that hands out decky addresses. Addresses are handled as
 * unsigned 32-bit integers so ranges can be walked and compared without string juggling.
 */
import { FleetConflictError, FleetInputError } from './errors';

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export interface Ipv4Block {
  /** First address of the block (host bits cleared), as an unsigned integer. */
  network: number;
  /** Last address of the block, as an unsigned integer. */
  broadcast: number;
  prefix: number;
}

export function ipToInt(ip: string): number {
  const octets = ip.split('.');
  if (octets.length !== 4 || !octets.every((o) => OCTET.test(o))) {
    throw new FleetInputError(`"${ip}" is not an IPv4 address`);
  }
  return octets.reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

/** Parses "a.b.c.d/n"; host bits are cleared, so 192.168.1.7/24 is the block 192.168.1.0/24. */
export function parseCidr(cidr: string): Ipv4Block {
  const match = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
  const prefix = match ? Number(match[2]) : NaN;
  if (!match || prefix > 32) throw new FleetInputError(`"${cidr}" is not an IPv4 CIDR like 192.168.1.0/24`);
  const size = 2 ** (32 - prefix);
  const network = ipToInt(match[1]) - (ipToInt(match[1]) % size);
  return { network, broadcast: network + size - 1, prefix };
}

export function ipInSubnet(ip: string, cidr: string): boolean {
  const block = parseCidr(cidr);
  const value = ipToInt(ip);
  return value >= block.network && value <= block.broadcast;
}

export interface AllocateIpsRequest {
  subnet: string;
  gateway: string;
  /** Narrower pool inside the subnet to allocate from (DECNET's ip_range). */
  ipRange?: string;
  /** Addresses already taken: the deployed fleet and explicit IPs of the request. */
  reserved: Set<string>;
  count: number;
}

/**
 * The `count` lowest free addresses of the pool, ascending. Network, broadcast and gateway are
 * never handed out, even when the pool is an ip_range whose own edges would be usable hosts.
 */
export function allocateIps({ subnet, gateway, ipRange, reserved, count }: AllocateIpsRequest): string[] {
  const block = parseCidr(subnet);
  const pool = ipRange === undefined ? block : parseCidr(ipRange);
  if (pool.network < block.network || pool.broadcast > block.broadcast) {
    throw new FleetInputError(`ip_range ${ipRange} is not inside subnet ${subnet}`, { key: 'ip_range' });
  }
  const unusable = new Set([block.network, block.broadcast, ipToInt(gateway)]);
  const allocated: string[] = [];
  for (let value = pool.network; value <= pool.broadcast && allocated.length < count; value++) {
    const ip = intToIp(value);
    if (!unusable.has(value) && !reserved.has(ip)) allocated.push(ip);
  }
  if (allocated.length < count) {
    const poolName = ipRange === undefined ? `subnet ${subnet}` : `ip_range ${ipRange} of subnet ${subnet}`;
    throw new FleetConflictError('pool_exhausted', `not enough free IPs in ${poolName}: ${count} needed, ${allocated.length} free`, {
      needed: count,
      free: allocated.length,
      pool: ipRange ?? subnet,
    });
  }
  return allocated;
}
