/** The fleet-wide deployment limit: read, and set (never below the fleet deployed now). A deploy checks it (deploy.ts). */
import { Decky, loadDeploymentSettings } from '../entities';
import type { SystemLimits } from '../domain/schemas';
import { ConflictError } from './errors';
import type { OperationsContext } from './context';
import { lockFleet } from './locks';

export async function readLimits(ctx: OperationsContext): Promise<SystemLimits> {
  const em = ctx.orm.em.fork();
  const settings = await loadDeploymentSettings(em);
  return { deployment_limit: settings.deploymentLimit, deckies_used: await em.count(Decky, {}) };
}

export async function setDeploymentLimit(ctx: OperationsContext, limit: number): Promise<SystemLimits> {
  return ctx.orm.em.fork().transactional(async (tx) => {
    // Under the deploy lock no deploy can add deckies between the count and the new limit.
    await lockFleet(tx);
    const used = await tx.count(Decky, {});
    if (limit < used) {
      throw new ConflictError('deployment_limit_below_fleet', `deployment_limit ${limit} is below the ${used} decky(ies) deployed now; tear some down first`, {
        deckies_used: used,
      });
    }
    const settings = await loadDeploymentSettings(tx);
    settings.deploymentLimit = limit;
    ctx.logger.info({ deployment_limit: limit }, 'deployment limit set');
    return { deployment_limit: limit, deckies_used: used };
  });
}
