import { Migration } from '@mikro-orm/migrations';

/** A swarm host keeps the version its agent reports in its heartbeats, so the hosts table can flag agents older than the master. */
export class Migration20261129220000AgentVersion extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "swarm_host" add column "agent_version" varchar(64) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "swarm_host" drop column "agent_version";`);
  }
}
