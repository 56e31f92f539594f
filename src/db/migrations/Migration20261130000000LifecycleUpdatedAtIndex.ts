import { Migration } from '@mikro-orm/migrations';

/** An event listener back from a lost connection re-reads the rows written since shortly before it (src/bus/pg-relay.ts). */
export class Migration20261130000000LifecycleUpdatedAtIndex extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "decky_lifecycle_updated_at_index" on "decky_lifecycle" ("updated_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "decky_lifecycle_updated_at_index";`);
  }
}
