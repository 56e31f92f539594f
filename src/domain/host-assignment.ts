/**
 * Where deckies run in swarm mode (architecture.md §8), as pure functions: which hosts are live, the
 * round-robin assignment that keeps existing placements and re-homes orphans, and the network
 * driver each host is sent.
 */

export interface HostLiveness {
  uuid: string;
  status: string;
  address: string | null;
}

/**
 * A host deckies may be given: `active` (its agent heartbeated over mTLS, and not silent since),
 * with an address the master can reach. A host whose bundle was only downloaded stays `enrolled`
 * and is not live: a download proves nothing about a running agent (architecture.md §8).
 */
export function isLiveHost(host: HostLiveness): boolean {
  return host.status === 'active' && !!host.address;
}

export interface Placement {
  name: string;
  /** The host the decky is on now; null = unassigned (new, or runs on the master). */
  hostUuid: string | null;
}

/**
 * Drop every host uuid that is not among `liveHosts` (orphans of decommissioned or silent hosts),
 * then give the unassigned deckies `liveHosts[i % n]` in order; existing live assignments stay.
 * With no live host every decky stays unassigned (it runs on the master).
 */
export function assignHostsRoundRobin(deckies: readonly Placement[], liveHosts: readonly string[]): Map<string, string | null> {
  const live = new Set(liveHosts);
  const assigned = new Map<string, string | null>();
  let next = 0;
  for (const d of deckies) {
    if (d.hostUuid && live.has(d.hostUuid)) {
      assigned.set(d.name, d.hostUuid);
    } else if (liveHosts.length === 0) {
      assigned.set(d.name, null);
    } else {
      assigned.set(d.name, liveHosts[next % liveHosts.length]);
      next++;
    }
  }
  return assigned;
}

/** The mode message operators see before they deploy. */
export function deploymentModeMessage(liveHostCount: number): string {
  return liveHostCount > 0 ? `will shard across ${liveHostCount} host${liveHostCount === 1 ? '' : 's'}` : 'will deploy locally';
}

/**
 * The LAN network a host is asked to create: ipvlan when the host says so (`use_ipvlan`), never
 * the other way; else the network as configured. Deploy plans and the dispatch to agents share it.
 */
export function networkForHost<N extends { driver: 'macvlan' | 'ipvlan' }>(network: N, host: { useIpvlan: boolean }): { network: N; forcedIpvlan: boolean } {
  if (host.useIpvlan && network.driver !== 'ipvlan') return { network: { ...network, driver: 'ipvlan' }, forcedIpvlan: true };
  return { network, forcedIpvlan: false };
}
