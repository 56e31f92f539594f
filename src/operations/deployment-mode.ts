import type { DeploymentMode } from '../domain/schemas';

/**
 * The mode rule shared by deploy and GET /system/deployment-mode (SPEC §8). No swarm host can be
 * enrolled yet, so a master always deploys locally.
 */
export function deploymentMode(role: 'master' | 'agent' = 'master'): DeploymentMode {
  return { mode: 'unihost', role, swarm_host_count: 0, message: 'will deploy locally' };
}
