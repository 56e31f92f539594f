import { Migration } from '@mikro-orm/migrations';

/** A decky's mutation can be switched off (PUT mutate-interval null) apart from "use the global interval". */
export class Migration20261127010000MutateEnabled extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "decky" add column "mutate_enabled" boolean not null default true;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "decky" drop column "mutate_enabled";`);
  }
}
