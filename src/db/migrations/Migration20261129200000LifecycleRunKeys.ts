import { Migration } from '@mikro-orm/migrations';

/**
 * A mutation row keeps the services it replaces (a resumed swarm mutation reports them too), and a
 * scheduled one the Schedule run that planned it (a retried plan finds its row, not "busy").
 */
export class Migration20261129200000LifecycleRunKeys extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "decky_lifecycle" add column "previous_services" jsonb null, add column "schedule_run" varchar(255) null;`);
    this.addSql(`alter table "decky_lifecycle" add constraint "decky_lifecycle_schedule_run_unique" unique ("schedule_run");`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "decky_lifecycle" drop column "schedule_run", drop column "previous_services";`);
  }
}
