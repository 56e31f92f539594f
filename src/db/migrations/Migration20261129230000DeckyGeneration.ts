import { Migration } from '@mikro-orm/migrations';

/** Fencing (architecture.md §8): every assignment of a decky to a host carries a generation, bumped on each re-home. */
export class Migration20261129230000DeckyGeneration extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "decky" add column "generation" integer not null default 0;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "decky" drop column "generation";`);
  }
}
