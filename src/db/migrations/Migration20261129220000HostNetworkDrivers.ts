import { Migration } from '@mikro-orm/migrations';

/** The LAN drivers a host's kernel supports, as its agent reports them (null until it does). */
export class Migration20261129220000HostNetworkDrivers extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "swarm_host" add column "network_drivers" jsonb null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "swarm_host" drop column "network_drivers";`);
  }
}
