import type { Advisory, AdvisoryIndexInput, EpssScore, KevEntry } from '@patchwarden/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFeed,
  createHost,
  getAdvisory,
  listAdvisoryInputs,
  loadEpssScores,
  loadKevEntries,
  migrateToLatest,
  putAdvisories,
  putEpssScores,
  putKevEntries,
  readRevision,
} from '../src/index.js';
import { type TestStore, testDialects } from './dialects.js';

const t0 = new Date('2026-11-22T10:00:00.000Z');

function dsa(id: string, pkg: string, fixed: string, cves: string[]): AdvisoryIndexInput {
  const advisory: Advisory = {
    id,
    source: 'debian-tracker',
    aliases: cves,
    related: [],
    cves,
    summary: `${pkg} security update`,
    published: '2026-01-02',
    modified: null,
    withdrawn: null,
    severity: 'high',
    cvss: [],
    affected: [
      {
        ecosystem: 'deb',
        scope: { distro: 'debian', release: '12', stream: null },
        name: pkg,
        nameKind: 'source',
        ranges: [{ introduced: null, fixed, lastAffected: null, limit: null }],
        versions: [],
        binaries: [],
        noFixReason: null,
        severity: null,
        urgency: null,
      },
    ],
    references: [],
  };
  return { advisory, origin: { location: 'DSA-list', timestamp: '2026-11-22T00:00:00Z' } };
}

function kev(cve: string, dueDate: string): KevEntry {
  return {
    cve,
    vendorProject: 'OpenSSL',
    product: 'OpenSSL',
    name: 'test entry',
    dateAdded: '2026-01-01',
    dueDate,
    knownRansomwareUse: false,
  };
}

function epss(cve: string, score: number): EpssScore {
  return { cve, epss: score, percentile: 0.5, scoreDate: '2026-11-21', modelVersion: null };
}

const refsOf = (result: { touched: { scopeKey: string; name: string }[] }) =>
  result.touched.map((ref) => `${ref.scopeKey}/${ref.name}`).sort();

for (const dialect of testDialects()) {
  const title = `store/advisories on ${dialect.name}${dialect.skipReason ? ` (skipped: ${dialect.skipReason})` : ''}`;

  describe.skipIf(dialect.skipReason !== null)(title, () => {
    let store: TestStore;
    let feedId: string;

    beforeAll(async () => {
      store = await dialect.open();
      await migrateToLatest(store.db);
      feedId = (
        await createFeed(
          store.db,
          { name: 'dsa', kind: 'debian-dsa-list', location: '/x', scheduleSeconds: null },
          t0,
        )
      ).id;
    });

    afterAll(async () => {
      await store?.dispose();
    });

    const first = [
      dsa('DSA-1-1', 'openssl', '3.0.15-1~deb12u1', ['CVE-2026-0001']),
      dsa('DSA-2-1', 'bash', '5.2.15-2+b8', ['CVE-2026-0002']),
    ];

    it('adds new records, touching their packages, and bumps the revision', async () => {
      const result = await store.db
        .transaction()
        .execute((trx) => putAdvisories(trx, { feedId, inputs: first, isCompleteSnapshot: true }));

      expect(result).toMatchObject({ added: 2, changed: 0, unchanged: 0, removed: 0, revision: 1 });
      expect(refsOf(result)).toEqual(['debian:12/bash', 'debian:12/openssl']);
      expect((await listAdvisoryInputs(store.db)).map((e) => e.advisory.id)).toEqual(['DSA-1-1', 'DSA-2-1']);
    });

    it('writes nothing for the same records again', async () => {
      const result = await store.db
        .transaction()
        .execute((trx) => putAdvisories(trx, { feedId, inputs: first, isCompleteSnapshot: true }));

      expect(result).toEqual({ added: 0, changed: 0, unchanged: 2, removed: 0, touched: [], revision: null });
      expect(await readRevision(store.db, 'advisories')).toBe(1);
    });

    it('rewrites only a changed record, touching its old and new packages', async () => {
      const changed = [first[0], dsa('DSA-2-1', 'bash-static', '5.2.15-2+b9', ['CVE-2026-0002'])].filter(
        (e) => e !== undefined,
      );

      const result = await store.db
        .transaction()
        .execute((trx) => putAdvisories(trx, { feedId, inputs: changed, isCompleteSnapshot: true }));
      const stored = await getAdvisory(store.db, 'DSA-2-1');

      expect(result).toMatchObject({ added: 0, changed: 1, unchanged: 1, removed: 0, revision: 2 });
      expect(refsOf(result)).toEqual(['debian:12/bash', 'debian:12/bash-static']);
      expect(stored?.advisory.affected[0]?.name).toBe('bash-static');
      expect(stored?.rowId).toBe('debian-tracker:DSA-2-1');
      expect(stored?.feedId).toBe(feedId);
    });

    it('removes records a complete snapshot no longer has, and keeps them for a partial one', async () => {
      const onlyFirst = first.slice(0, 1);

      const partial = await store.db
        .transaction()
        .execute((trx) => putAdvisories(trx, { feedId, inputs: onlyFirst, isCompleteSnapshot: false }));
      const complete = await store.db
        .transaction()
        .execute((trx) => putAdvisories(trx, { feedId, inputs: onlyFirst, isCompleteSnapshot: true }));
      const affected = await store.db.selectFrom('advisory_affected').select('advisory_id').execute();

      expect(partial).toMatchObject({ unchanged: 1, removed: 0 });
      expect(complete).toMatchObject({ unchanged: 1, removed: 1 });
      expect(refsOf(complete)).toEqual(['debian:12/bash-static']);
      expect(await getAdvisory(store.db, 'DSA-2-1')).toBeNull();
      expect(affected.map((row) => row.advisory_id)).toEqual(['debian-tracker:DSA-1-1']);
    });

    it('rewrites a record that findings cite in place, and keeps it withdrawn when the snapshot drops it', async () => {
      const host = await createHost(store.db, { name: 'h1' }, t0);
      await store.db
        .insertInto('findings')
        .values({
          id: 'f1',
          host_id: host.id,
          advisory_id: 'debian-tracker:DSA-1-1',
          package_name: 'openssl',
          installed_version: '3.0.9-1',
          status: 'open',
          opened_at: t0.toISOString(),
        })
        .execute();
      const changed = dsa('DSA-1-1', 'openssl', '3.0.16-1~deb12u1', ['CVE-2026-0001']);

      const rewritten = await store.db
        .transaction()
        .execute((trx) => putAdvisories(trx, { feedId, inputs: [changed], isCompleteSnapshot: true }));
      const dropped = await store.db
        .transaction()
        .execute((trx) => putAdvisories(trx, { feedId, inputs: [], isCompleteSnapshot: true, now: t0 }));
      const stored = await getAdvisory(store.db, 'DSA-1-1');
      const again = await store.db
        .transaction()
        .execute((trx) => putAdvisories(trx, { feedId, inputs: [], isCompleteSnapshot: true, now: t0 }));

      expect(rewritten).toMatchObject({ changed: 1, removed: 0 });
      expect(dropped).toMatchObject({ removed: 1 });
      expect(refsOf(dropped)).toEqual(['debian:12/openssl']);
      expect(stored).toMatchObject({ feedId: null, withdrawnAt: t0 });
      expect(stored?.advisory.withdrawn).toBe(t0.toISOString());
      expect(again).toMatchObject({ removed: 0, touched: [] });
    });

    it('rolls back with the transaction: nothing half-written', async () => {
      const before = await readRevision(store.db, 'advisories');

      await expect(
        store.db.transaction().execute(async (trx) => {
          await putAdvisories(trx, {
            feedId,
            inputs: [dsa('DSA-9-1', 'zlib', '1', [])],
            isCompleteSnapshot: false,
          });
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');

      expect(await getAdvisory(store.db, 'DSA-9-1')).toBeNull();
      expect(await readRevision(store.db, 'advisories')).toBe(before);
    });

    it('writes KEV entries only where they changed', async () => {
      const entries = [kev('CVE-2026-0001', '2026-02-01'), kev('CVE-2026-0002', '2026-02-02')];

      const added = await store.db.transaction().execute((trx) => putKevEntries(trx, { feedId, entries }));
      const again = await store.db.transaction().execute((trx) => putKevEntries(trx, { feedId, entries }));
      const moved = await store.db.transaction().execute((trx) =>
        putKevEntries(trx, {
          feedId,
          entries: [entries[0] ?? kev('x', 'y'), kev('CVE-2026-0002', '2026-03-01')],
        }),
      );
      const loaded = await loadKevEntries(store.db);

      expect(added.sort()).toEqual(['CVE-2026-0001', 'CVE-2026-0002']);
      expect(again).toEqual([]);
      expect(moved).toEqual(['CVE-2026-0002']);
      expect(loaded.get('CVE-2026-0002')?.dueDate).toBe('2026-03-01');
    });

    it('writes EPSS scores only where they changed', async () => {
      const scores = [epss('CVE-2026-0001', 0.1), epss('CVE-2026-0002', 0.2)];

      const added = await store.db.transaction().execute((trx) => putEpssScores(trx, { feedId, scores }));
      const again = await store.db.transaction().execute((trx) => putEpssScores(trx, { feedId, scores }));
      const changed = await store.db
        .transaction()
        .execute((trx) => putEpssScores(trx, { feedId, scores: [epss('CVE-2026-0001', 0.9)] }));
      const loaded = await loadEpssScores(store.db);

      expect([added, again, changed]).toEqual([2, 0, 1]);
      expect(loaded.get('CVE-2026-0001')?.epss).toBe(0.9);
      expect(loaded.get('CVE-2026-0002')?.epss).toBe(0.2);
    });
  });
}
