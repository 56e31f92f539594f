/**
 * Several processes starting together on a fresh database (e.g. `decnet api` and `decnet worker`)
 * migrate it one at a time: every one of them comes up, and the schema is applied once.
 */
import { createDatabase } from '../../src/infra/embedded-postgres';
import { migrate, openOrm } from '../../src/db/orm';
import { requireEnv } from '../support/master';

test('four concurrent migrations of one fresh database all succeed, each migration applied once', async () => {
  const url = await createDatabase(requireEnv('TEST_DATABASE_ADMIN_URL'), `t_migrations_${Date.now()}`);
  const orms = await Promise.all(Array.from({ length: 4 }, () => openOrm(url)));
  try {
    await Promise.all(orms.map((orm) => migrate(orm)));
    const applied: Array<{ name: string }> = await orms[0].em.getConnection().execute('select name from mikro_orm_migrations order by id');
    const names = applied.map((m) => m.name);
    expect(names.length).toBeGreaterThan(0);
    expect(new Set(names).size).toBe(names.length);
    expect(await orms[1].getMigrator().getPendingMigrations()).toEqual([]);
  } finally {
    await Promise.all(orms.map((orm) => orm.close(true)));
  }
});
