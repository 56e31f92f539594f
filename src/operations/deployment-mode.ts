import type { EntityManager } from '@mikro-orm/postgresql';
import { SwarmHost } from '../entities';
import type { DeploymentMode } from '../domain/schemas';
import { deploymentModeMessage, isLiveHost } from '../domain/host-assignment';

/** Live hosts (active since their first heartbeat, with an address), oldest enrollment first: the round-robin order. */
export async function liveSwarmHosts(em: EntityManager): Promise<SwarmHost[]> {
  const hosts = await em.find(SwarmHost, { status: { $ne: 'decommissioned' } }, { orderBy: { enrolledAt: 'asc', name: 'asc' } });
  return hosts.filter(isLiveHost);
}

/**
 * The mode rule shared by deploy and GET /system/deployment-mode (architecture.md §8): swarm when the role is
 * master and at least one host is live; otherwise unihost.
 */
export async function deploymentMode(em: EntityManager, role: 'master' | 'agent' = 'master'): Promise<DeploymentMode & { hosts: SwarmHost[] }> {
  const hosts = role === 'master' ? await liveSwarmHosts(em) : [];
  return {
    mode: hosts.length > 0 ? 'swarm' : 'unihost',
    role,
    swarm_host_count: hosts.length,
    message: deploymentModeMessage(hosts.length),
    hosts,
  };
}
