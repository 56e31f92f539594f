import { EntitySchema, type Opt } from '@mikro-orm/core';
import type { CustomServices, DeckyState, NmapOs } from '../domain/schemas';

/** A decky's desired state. The row exists from deploy until its teardown succeeds. */
export class Decky {
  name!: string;
  ip!: string;
  services!: string[];
  archetype: string | null = null;
  distro!: string;
  baseImage!: string;
  hostname!: string;
  nmapOs!: NmapOs;
  serviceConfig: Record<string, Record<string, string>> = {};
  /** Bring-your-own services defined for this decky (by name), rendered next to the catalogue's. */
  customServices: CustomServices = {};
  /** Minutes; null = the global interval. */
  mutateInterval: number | null = null;
  /** False once an operator switched mutation off for this decky. */
  mutateEnabled = true;
  lastMutated: Date | null = null;
  hostUuid: string | null = null;
  /** Fencing: bumped each time the decky is given to another host; jobs and agents carry it, and an agent holding an older one removes the decky. */
  generation: Opt<number> = 0;
  state: DeckyState = 'pending';
  /** Null follows the fleet's setting (DeploymentSettings.autoHeal). */
  autoHeal: boolean | null = null;
  lastError: string | null = null;
  lastSeen: Date | null = null;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

export const DeckySchema = new EntitySchema<Decky>({
  class: Decky,
  tableName: 'decky',
  properties: {
    name: { type: 'string', primary: true },
    ip: { type: 'string', unique: true },
    services: { type: 'json' },
    archetype: { type: 'string', nullable: true },
    distro: { type: 'string' },
    baseImage: { type: 'string' },
    hostname: { type: 'string' },
    nmapOs: { type: 'string' },
    serviceConfig: { type: 'json' },
    customServices: { type: 'json' },
    mutateInterval: { type: 'integer', nullable: true },
    mutateEnabled: { type: 'boolean', default: true },
    lastMutated: { type: 'Date', nullable: true },
    hostUuid: { type: 'uuid', nullable: true },
    generation: { type: 'integer', default: 0 },
    state: { type: 'string' },
    autoHeal: { type: 'boolean', nullable: true },
    lastError: { type: 'text', nullable: true },
    lastSeen: { type: 'Date', nullable: true },
    createdAt: { type: 'Date' },
    updatedAt: { type: 'Date', onUpdate: () => new Date() },
  },
});
