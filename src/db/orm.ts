import path from 'node:path';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { entitySchemas } from '../entities';
import { Migration20261127000000Initial } from './migrations/Migration20261127000000Initial';
import { Migration20261127010000MutateEnabled } from './migrations/Migration20261127010000MutateEnabled';
import { Migration20261128000000Swarm } from './migrations/Migration20261128000000Swarm';
import { Migration20261129010000CustomServices } from './migrations/Migration20261129010000CustomServices';
import { Migration20261129210000AutoHeal } from './migrations/Migration20261129210000AutoHeal';
import { Migration20261129220000HostNetworkDrivers } from './migrations/Migration20261129220000HostNetworkDrivers';
import { Migration20261129200000ApiTokenRevocation } from './migrations/Migration20261129200000ApiTokenRevocation';

export function ormOptions(clientUrl: string): Options {
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
        { name: 'Migration20261129210000AutoHeal', class: Migration20261129210000AutoHeal },
        { name: 'Migration20261129200000ApiTokenRevocation', class: Migration20261129200000ApiTokenRevocation },
        { name: 'Migration20261129220000HostNetworkDrivers', class: Migration20261129220000HostNetworkDrivers },
      ],
      path: path.join(__dirname, 'migrations'),
      transactional: true,
      snapshot: false,
    },
    pool: { min: 0, max: 10 },
    debug: false,
    allowGlobalContext: false,
  };
}

export async function openOrm(clientUrl: string): Promise<MikroORM> {
  return MikroORM.init(ormOptions(clientUrl));
}

export async function migrate(orm: MikroORM): Promise<void> {
  await orm.getMigrator().up();
}
