import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000000Initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "api_token" ("id" uuid not null, "name" varchar(255) not null, "role" varchar(255) not null, "token_hash" varchar(255) not null, "created_at" timestamptz not null, "last_used_at" timestamptz null, constraint "api_token_pkey" primary key ("id"));`,
    );
    this.addSql(`alter table "api_token" add constraint "api_token_token_hash_unique" unique ("token_hash");`);

    this.addSql(
      `create table "decky" ("name" varchar(255) not null, "ip" varchar(255) not null, "services" jsonb not null, "archetype" varchar(255) null, "distro" varchar(255) not null, "base_image" varchar(255) not null, "hostname" varchar(255) not null, "nmap_os" varchar(255) not null, "service_config" jsonb not null, "mutate_interval" int null, "last_mutated" timestamptz null, "host_uuid" uuid null, "state" varchar(255) not null default 'pending', "last_error" text null, "last_seen" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "decky_pkey" primary key ("name"));`,
    );
    this.addSql(`alter table "decky" add constraint "decky_ip_unique" unique ("ip");`);

    this.addSql(
      `create table "decky_lifecycle" ("id" uuid not null, "decky_name" varchar(255) not null, "host_uuid" uuid null, "operation" varchar(255) not null, "trigger" varchar(255) not null, "status" varchar(255) not null default 'pending', "error" text null, "steps" jsonb not null, "workflow_id" varchar(255) not null, "run_id" varchar(255) null, "started_at" timestamptz not null, "updated_at" timestamptz not null, "completed_at" timestamptz null, constraint "decky_lifecycle_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "decky_lifecycle_decky_name_index" on "decky_lifecycle" ("decky_name");`);
    this.addSql(`create index "decky_lifecycle_status_index" on "decky_lifecycle" ("status");`);
    // Operations on one decky are serialized: at most one row per decky may be in flight.
    this.addSql(`create unique index "decky_lifecycle_one_in_flight" on "decky_lifecycle" ("decky_name") where "status" in ('pending', 'running');`);

    this.addSql(
      `create table "deployment_settings" ("id" int not null default 1, "interface" varchar(255) null, "subnet" varchar(255) null, "gateway" varchar(255) null, "ip_range" varchar(255) null, "ipvlan" boolean not null default false, "mutate_interval" int not null default 30, "deployment_limit" int not null default 10, constraint "deployment_settings_pkey" primary key ("id"), constraint deployment_limit_range check (deployment_limit between 1 and 500));`,
    );
    this.addSql(`insert into "deployment_settings" ("id") values (1);`);

    this.addSql(
      `create table "idempotency_key" ("key" varchar(255) not null, "request_hash" varchar(255) not null, "response" jsonb not null, "created_at" timestamptz not null, constraint "idempotency_key_pkey" primary key ("key"));`,
    );
  }

  override async down(): Promise<void> {
    for (const table of ['idempotency_key', 'deployment_settings', 'decky_lifecycle', 'decky', 'api_token']) {
      this.addSql(`drop table if exists "${table}" cascade;`);
    }
  }
}
