import { Migration } from '@mikro-orm/migrations';

/** Degraded deckies are healed automatically: a fleet-wide switch, and a per-decky override (null follows the fleet). */
export class Migration20261129210000AutoHeal extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "deployment_settings" add column "auto_heal" boolean not null default true;`);
    this.addSql(`alter table "decky" add column "auto_heal" boolean null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "decky" drop column "auto_heal";`);
    this.addSql(`alter table "deployment_settings" drop column "auto_heal";`);
  }
}
