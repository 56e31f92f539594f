import { Migration } from '@mikro-orm/migrations';

/** Swarm hosts and their one-shot enrollment tokens (architecture.md §3, §8). */
export class Migration20261128000000Swarm extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "swarm_host" ("uuid" uuid not null, "name" varchar(255) not null, "address" varchar(255) null, "agent_port" int not null default 8765, "status" varchar(255) not null default 'enrolled', "last_heartbeat" timestamptz null, "client_cert_fingerprint" varchar(64) not null, "use_ipvlan" boolean not null default false, "enrolled_at" timestamptz not null, "notes" text null, constraint "swarm_host_pkey" primary key ("uuid"), constraint "swarm_host_status_check" check ("status" in ('enrolled', 'active', 'unreachable', 'decommissioned')), constraint "swarm_host_agent_port_range" check ("agent_port" between 1 and 65535));`,
    );
    // A name belongs to one live host; a decommissioned host's name may be enrolled again.
    this.addSql(`create unique index "swarm_host_name_live_unique" on "swarm_host" ("name") where "status" <> 'decommissioned';`);

    this.addSql(
      `create table "enrollment_token" ("token_hash" varchar(64) not null, "host_uuid" uuid not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "master_host" varchar(255) not null, "script_fetch_count" int not null default 0, "bundle_fetched_at" timestamptz null, "fetched_by_address" varchar(255) null, "cert_pem" text not null, "key_pem" text null, constraint "enrollment_token_pkey" primary key ("token_hash"), constraint "enrollment_token_host_uuid_foreign" foreign key ("host_uuid") references "swarm_host" ("uuid") on update cascade on delete cascade);`,
    );
    this.addSql(`create index "enrollment_token_host_uuid_index" on "enrollment_token" ("host_uuid");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "enrollment_token" cascade;`);
    this.addSql(`drop table if exists "swarm_host" cascade;`);
  }
}
