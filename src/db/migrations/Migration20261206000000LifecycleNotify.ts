import { Migration } from '@mikro-orm/migrations';

/**
 * Every status a lifecycle row reaches is announced on `decnet_events` (EVENTS_CHANNEL in
 * src/bus/pg-relay.ts) by PostgreSQL itself, at the commit of the write: a process killed right
 * after its commit cannot lose the event, and rows ended by the reconciler or superseded by a
 * teardown are announced too. Rows are born `pending` (no event), so only updates notify.
 */
export class Migration20261206000000LifecycleNotify extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create function "decky_lifecycle_notify"() returns trigger language plpgsql as $$
      begin
        perform pg_notify('decnet_events', json_build_object(
          'lifecycle', json_build_object('id', new.id, 'status', new.status, 'operation', new.operation),
          'decky', new.decky_name,
          'at', new.updated_at)::text);
        return null;
      end $$;`);
    this.addSql(`create trigger "decky_lifecycle_status_notify" after update of "status" on "decky_lifecycle" for each row
      when (old.status is distinct from new.status and new.status in ('running', 'succeeded', 'failed'))
      execute function "decky_lifecycle_notify"();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger "decky_lifecycle_status_notify" on "decky_lifecycle";`);
    this.addSql(`drop function "decky_lifecycle_notify"();`);
  }
}
