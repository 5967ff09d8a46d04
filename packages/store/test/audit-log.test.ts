import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAuditEntry, migrateToLatest, verifyAuditChain } from '../src/index.js';
import { type TestStore, testDialects } from './dialects.js';

const now = new Date('2026-11-21T12:00:00.123Z');

for (const dialect of testDialects()) {
  const title = `store/audit-log on ${dialect.name}${dialect.skipReason ? ` (skipped: ${dialect.skipReason})` : ''}`;

  describe.skipIf(dialect.skipReason !== null)(title, () => {
    let store: TestStore;

    beforeAll(async () => {
      store = await dialect.open();
      await migrateToLatest(store.db);
    });

    afterAll(async () => {
      await store?.dispose();
    });

    it('chains each entry to the one before it', async () => {
      const first = await appendAuditEntry(
        store,
        { actor: 'user-1', action: 'host.create', targetType: 'host', targetId: 'h1' },
        now,
      );
      const second = await appendAuditEntry(
        store,
        { actor: null, action: 'feed.sync', detail: { source: 'osv', changed: 3 } },
        now,
      );

      expect(first).toMatchObject({ seq: 1, prevHash: null, at: now });
      expect(second).toMatchObject({
        seq: 2,
        prevHash: first.hash,
        detail: { source: 'osv', changed: 3 },
      });
      expect(second.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(await verifyAuditChain(store.db)).toEqual({ isIntact: true, count: 2 });
    });

    it('keeps one unforked chain under concurrent appends', async () => {
      const appends = Array.from({ length: 20 }, (_, i) =>
        appendAuditEntry(store, { actor: 'system', action: 'job.finish', targetId: `j${i}` }, now),
      );

      const entries = await Promise.all(appends);

      expect(entries.map((entry) => entry.seq).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 3),
      );
      expect(await verifyAuditChain(store.db)).toEqual({ isIntact: true, count: 22 });
    });

    it('rolls an entry back with the caller transaction', async () => {
      const attempt = store.db.transaction().execute(async (trx) => {
        await appendAuditEntry({ db: trx, dialect: store.dialect }, { actor: 'x', action: 'a.b' }, now);
        throw new Error('the change failed');
      });

      await expect(attempt).rejects.toThrow('the change failed');
      expect(await verifyAuditChain(store.db)).toEqual({ isIntact: true, count: 22 });
    });

    it('reports the first entry whose stored fields were edited', async () => {
      await store.db
        .updateTable('audit_log')
        .set({ detail: '{"source":"osv","changed":0}' })
        .where('seq', '=', 2)
        .execute();

      const report = await verifyAuditChain(store.db);

      expect(report).toEqual({ isIntact: false, count: 22, brokenAt: 2 });
    });
  });
}
