import { Migration } from '@mikro-orm/migrations';

/** A `move` row (trigger `driver_change`) records the LAN driver it takes its decky to. */
export class Migration20261130000001LifecycleNetworkDriver extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "decky_lifecycle" add column "network_driver" varchar(255) null;`);
    this.addSql(`alter table "decky_lifecycle" add constraint "decky_lifecycle_network_driver_check" check ("network_driver" in ('macvlan', 'ipvlan'));`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "decky_lifecycle" drop constraint "decky_lifecycle_network_driver_check", drop column "network_driver";`);
  }
}
