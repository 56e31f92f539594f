import { Migration } from '@mikro-orm/migrations';

/**
 * API tokens can be revoked (kept, listed, refused) and say where they came from, so a changed
 * DECNET_ADMIN_TOKEN revokes the one it replaces. Existing tokens get their source from the
 * names the seeding gave them; the others came from `decnet token create`.
 */
export class Migration20261129200000ApiTokenRevocation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "api_token" add column "source" varchar(255) not null default 'cli', add column "revoked_at" timestamptz null;`);
    this.addSql(`alter table "api_token" add constraint "api_token_source_check" check ("source" in ('env', 'first_start', 'cli'));`);
    this.addSql(`update "api_token" set "source" = 'env' where "name" = 'admin (DECNET_ADMIN_TOKEN)';`);
    this.addSql(`update "api_token" set "source" = 'first_start' where "name" = 'admin (first start)';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "api_token" drop constraint "api_token_source_check", drop column "source", drop column "revoked_at";`);
  }
}
