import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest, migrations } from '../src/index.js';
import { type TestStore, testDialects } from './dialects.js';

for (const dialect of testDialects()) {
  const title = `store/migrations on ${dialect.name}${dialect.skipReason ? ` (skipped: ${dialect.skipReason})` : ''}`;

  describe.skipIf(dialect.skipReason !== null)(title, () => {
    let store: TestStore;

    beforeAll(async () => {
      store = await dialect.open();
    });

    afterAll(async () => {
      await store?.dispose();
    });

    it('applies every migration to an empty database, creating the tables', async () => {
      const applied = await migrateToLatest(store.db);

      expect(applied).toEqual(Object.keys(migrations));
      const tables = (await store.db.introspection.getTables()).map((table) => table.name).sort();
      expect(tables).toEqual([
        'advisories',
        'advisory_affected',
        'api_tokens',
        'audit_log',
        'enrollment_secrets',
        'epss_scores',
        'feeds',
        'finding_events',
        'findings',
        'group_hooks',
        'host_groups',
        'host_package_overrides',
        'hosts',
        'job_hosts',
        'jobs',
        'kev_entries',
        'node_keys',
        'package_set_members',
        'package_sets',
        'revisions',
        'role_bindings',
        'roles',
        'user_roles',
        'users',
      ]);
    });

    it('is a no-op when run again', async () => {
      const applied = await migrateToLatest(store.db);

      expect(applied).toEqual([]);
    });

    it('refuses a database that records a migration this code does not know', async () => {
      const future = '2099-01-01-001-from-the-future';
      await sql`insert into kysely_migration (name, timestamp) values (${future}, ${new Date().toISOString()})`.execute(
        store.db,
      );

      const attempt = migrateToLatest(store.db);

      await expect(attempt).rejects.toMatchObject({
        code: 'DATABASE_NEWER_THAN_CODE',
        message: expect.stringContaining(future),
      });
      await sql`delete from kysely_migration where name = ${future}`.execute(store.db);
      expect(await migrateToLatest(store.db)).toEqual([]);
    });
  });
}
