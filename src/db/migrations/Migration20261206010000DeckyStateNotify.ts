import { Migration } from '@mikro-orm/migrations';

/**
 * Drift's verdicts are announced on `decnet_events` by PostgreSQL itself, like lifecycle statuses
 * (Migration20261206000000LifecycleNotify): a decky going between `running` and `degraded`, or
 * degraded for another reason, whichever process wrote it (the master's drift watcher, a swarm
 * heartbeat, an operation's end) and even when it was killed right after its commit. A decky
 * reaching `running` from `pending` or leaving for a teardown is its lifecycle row's event.
 */
export class Migration20261206010000DeckyStateNotify extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create function "decky_state_notify"() returns trigger language plpgsql as $$
      begin
        perform pg_notify('decnet_events', json_build_object(
          'decky_state', json_build_object('name', new.name, 'state', new.state,
            'changed', old.state is distinct from new.state,
            -- NOTIFY takes under 8,000 bytes: 1,000 characters, even escaped, fit; a longer one is read.
            'reason', case when length(new.last_error) <= 1000 then new.last_error end,
            'reason_long', coalesce(length(new.last_error) > 1000, false)),
          -- Not updated_at: a swarm heartbeat's update of the state leaves it as it was.
          'at', now())::text);
        return null;
      end $$;`);
    this.addSql(`create trigger "decky_state_notify" after update of "state", "last_error" on "decky" for each row
      when (old.state in ('running', 'degraded') and new.state in ('running', 'degraded')
        and (old.state is distinct from new.state or (new.state = 'degraded' and old.last_error is distinct from new.last_error)))
      execute function "decky_state_notify"();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger "decky_state_notify" on "decky";`);
    this.addSql(`drop function "decky_state_notify"();`);
  }
}
