import { EntitySchema, type EntityManager } from '@mikro-orm/core';

/** The singleton row (id 1) holding the LAN the master's fleet lives on and fleet-wide limits. */
export class DeploymentSettings {
  id = 1;
  interface: string | null = null;
  subnet: string | null = null;
  gateway: string | null = null;
  ipRange: string | null = null;
  ipvlan = false;
  mutateInterval = 30;
  deploymentLimit = 10;
  /** Degraded deckies are healed without an operator unless switched off here or per decky. */
  autoHeal = true;
}

/** The singleton row; a migration inserts it, so it is always there. */
export function loadDeploymentSettings(em: EntityManager): Promise<DeploymentSettings> {
  return em.findOneOrFail(DeploymentSettings, { id: 1 });
}

export const DeploymentSettingsSchema = new EntitySchema<DeploymentSettings>({
  class: DeploymentSettings,
  tableName: 'deployment_settings',
  properties: {
    id: { type: 'integer', primary: true, autoincrement: false },
    interface: { type: 'string', nullable: true },
    subnet: { type: 'string', nullable: true },
    gateway: { type: 'string', nullable: true },
    ipRange: { type: 'string', nullable: true },
    ipvlan: { type: 'boolean', default: false },
    mutateInterval: { type: 'integer', default: 30 },
    deploymentLimit: { type: 'integer', default: 10 },
    autoHeal: { type: 'boolean', default: true },
  },
  checks: [{ name: 'deployment_limit_range', expression: 'deployment_limit between 1 and 500' }],
});
