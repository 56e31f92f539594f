import { Migration } from '@mikro-orm/migrations';

/** A decky keeps the definitions of its bring-your-own services (INI `[custom-<name>]`), so a mutation, heal or agent renders them again. */
export class Migration20261129010000CustomServices extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "decky" add column "custom_services" jsonb not null default '{}';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "decky" drop column "custom_services";`);
  }
}
