import path from 'node:path';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { Client } from 'pg';
import { entitySchemas } from '../entities';
import { Migration20261127000000Initial } from './migrations/Migration20261127000000Initial';
import { Migration20261127010000MutateEnabled } from './migrations/Migration20261127010000MutateEnabled';
import { Migration20261128000000Swarm } from './migrations/Migration20261128000000Swarm';
import { Migration20261129010000CustomServices } from './migrations/Migration20261129010000CustomServices';
import { Migration20261129200000LifecycleRunKeys } from './migrations/Migration20261129200000LifecycleRunKeys';
import { Migration20261129200000ApiTokenRevocation } from './migrations/Migration20261129200000ApiTokenRevocation';
import { Migration20261129210000AutoHeal } from './migrations/Migration20261129210000AutoHeal';
import { Migration20261129220000AgentVersion } from './migrations/Migration20261129220000AgentVersion';
import { Migration20261129220000HostNetworkDrivers } from './migrations/Migration20261129220000HostNetworkDrivers';
import { Migration20261129230000DeckyGeneration } from './migrations/Migration20261129230000DeckyGeneration';
import { Migration20261130000000LifecycleUpdatedAtIndex } from './migrations/Migration20261130000000LifecycleUpdatedAtIndex';
import { Migration20261130000001LifecycleNetworkDriver } from './migrations/Migration20261130000001LifecycleNetworkDriver';
import { Migration20261206000000LifecycleNotify } from './migrations/Migration20261206000000LifecycleNotify';
import { Migration20261206010000DeckyStateNotify } from './migrations/Migration20261206010000DeckyStateNotify';

/** Connections of an ORM opened without `poolMax`: the worker's activities run up to 20 at once. */
const DEFAULT_POOL_MAX = 10;

export function ormOptions(clientUrl: string, poolMax = DEFAULT_POOL_MAX): Options {
  return {
    clientUrl,
    entities: entitySchemas,
    extensions: [Migrator],
    // Migrations are listed explicitly so they run the same from src (tsx) and dist (tsc).
    migrations: {
      migrationsList: [
        { name: 'Migration20261127000000Initial', class: Migration20261127000000Initial },
        { name: 'Migration20261127010000MutateEnabled', class: Migration20261127010000MutateEnabled },
        { name: 'Migration20261128000000Swarm', class: Migration20261128000000Swarm },
        { name: 'Migration20261129010000CustomServices', class: Migration20261129010000CustomServices },
        { name: 'Migration20261129200000LifecycleRunKeys', class: Migration20261129200000LifecycleRunKeys },
        { name: 'Migration20261129200000ApiTokenRevocation', class: Migration20261129200000ApiTokenRevocation },
        { name: 'Migration20261129210000AutoHeal', class: Migration20261129210000AutoHeal },
        { name: 'Migration20261129220000AgentVersion', class: Migration20261129220000AgentVersion },
        { name: 'Migration20261129220000HostNetworkDrivers', class: Migration20261129220000HostNetworkDrivers },
        { name: 'Migration20261129230000DeckyGeneration', class: Migration20261129230000DeckyGeneration },
        { name: 'Migration20261130000000LifecycleUpdatedAtIndex', class: Migration20261130000000LifecycleUpdatedAtIndex },
        { name: 'Migration20261130000001LifecycleNetworkDriver', class: Migration20261130000001LifecycleNetworkDriver },
        { name: 'Migration20261206000000LifecycleNotify', class: Migration20261206000000LifecycleNotify },
        { name: 'Migration20261206010000DeckyStateNotify', class: Migration20261206010000DeckyStateNotify },
      ],
      path: path.join(__dirname, 'migrations'),
      transactional: true,
      snapshot: false,
    },
    pool: { min: 0, max: poolMax },
    debug: false,
    allowGlobalContext: false,
  };
}

export async function openOrm(clientUrl: string, poolMax?: number): Promise<MikroORM> {
  return MikroORM.init(ormOptions(clientUrl, poolMax));
}

/** pg_advisory_lock key of the migrator ("decn"). */
const MIGRATION_LOCK_KEY = 0x6465636e;

/**
 * Applies the pending migrations, then runs `then` (e.g. seeding the admin token), one process at
 * a time: several `decnet api`/`decnet worker` processes started together on a fresh database would
 * otherwise race to create the same tables and rows. The lock is held by a session of its own, so
 * it goes away with the session, even on a crash.
 */
export async function migrate<T = void>(orm: MikroORM, then?: () => Promise<T>): Promise<T | undefined> {
  const session = new Client({ connectionString: orm.config.getClientUrl() });
  await session.connect();
  try {
    await session.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await orm.getMigrator().up();
    return await then?.();
  } finally {
    await session.end();
  }
}
