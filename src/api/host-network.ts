/**
 * This host's network as the kernel describes it: the interface names (/sys/class/net), the IPv4
 * routing table (/proc/net/route) and the interfaces' addresses (os.networkInterfaces()). Read
 * as data here; src/domain/lan.ts parses it.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import { parseDefaultRoute, suggestLan, type LanSuggestion } from '../domain/lan';

/**
 * Every interface of this host, sorted. sysfs lists the ones without an address too (a veth
 * parent); without sysfs (not Linux) the interfaces that have an address.
 */
export async function hostInterfaces(): Promise<string[]> {
  const names = await fs.readdir('/sys/class/net').catch(() => Object.keys(os.networkInterfaces()));
  return names.sort();
}

/** The default-route LAN of this host, or null (no default route, or no IPv4 subnet holding its gateway). */
export async function detectLan(): Promise<LanSuggestion | null> {
  // No routing table to read (not Linux): nothing to suggest.
  const routes = await fs.readFile('/proc/net/route', 'utf8').catch(() => '');
  return suggestLan(parseDefaultRoute(routes, os.endianness() === 'LE'), os.networkInterfaces());
}
