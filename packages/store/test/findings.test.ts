import type { Advisory } from '@patchwarden/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createHost,
  type DetectedFinding,
  findingsFirstSeen,
  migrateToLatest,
  putAdvisories,
  reconcileHostFindings,
} from '../src/index.js';
import { type TestStore, testDialects } from './dialects.js';

const t0 = new Date('2026-11-22T10:00:00.000Z');
const t1 = new Date('2026-11-23T10:00:00.000Z');
const t2 = new Date('2026-11-24T10:00:00.000Z');

function advisory(id: string): Advisory {
  return {
    id,
    source: 'osv',
    aliases: [],
    related: [],
    cves: [],
    summary: null,
    published: null,
    modified: null,
    withdrawn: null,
    severity: 'high',
    cvss: [],
    affected: [],
    references: [],
  };
}

function detected(
  packageName: string,
  advisoryId: string,
  overrides: Partial<DetectedFinding> = {},
): DetectedFinding {
  return {
    advisoryId,
    packageName,
    installedVersion: '1.0',
    fixedVersion: '1.1',
    severity: 'high',
    riskScore: 50,
    dueAt: new Date('2026-12-22T00:00:00.000Z'),
    ecosystem: 'deb',
    architecture: 'amd64',
    sourcePackage: null,
    fixState: 'fix-available',
    cves: ['CVE-2026-0001'],
    isKev: false,
    epss: 0.1,
    evidence: [{ advisoryId }],
    ...overrides,
  };
}

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `store/findings on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let store: TestStore;
      let hostId: string;
      beforeEach(async () => {
        store = await dialect.open();
        await migrateToLatest(store.db);
        hostId = (await createHost(store.db, { name: 'h' }, t0)).id;
        await putAdvisories(store.db, {
          feedId: null,
          inputs: ['A-1', 'A-2', 'A-3'].map((id) => ({ advisory: advisory(id), origin: null })),
          isCompleteSnapshot: false,
        });
      });
      afterEach(async () => {
        await store?.dispose();
      });

      function reconcile(rows: DetectedFinding[], now: Date, packageNames?: string[]) {
        return store.db
          .transaction()
          .execute((trx) =>
            reconcileHostFindings(trx, hostId, rows, packageNames === undefined ? {} : { packageNames }, now),
          );
      }

      async function events() {
        const rows = await store.db
          .selectFrom('finding_events')
          .innerJoin('findings', 'findings.id', 'finding_events.finding_id')
          .select(['findings.package_name', 'findings.advisory_id', 'finding_events.kind'])
          .orderBy('finding_events.at')
          .orderBy('findings.package_name')
          .orderBy('findings.advisory_id')
          .execute();
        return rows.map((r) => `${r.kind} ${r.package_name} ${r.advisory_id}`);
      }

      async function host() {
        return store.db
          .selectFrom('hosts')
          .select(['open_findings', 'kev_findings', 'worst_severity', 'max_risk_score', 'earliest_due_at'])
          .where('id', '=', hostId)
          .executeTakeFirstOrThrow();
      }

      it('opens, fixes and reopens finding rows with their history and rollups', async () => {
        const opened = await reconcile(
          [
            detected('openssl', 'osv:A-1', { severity: 'critical', riskScore: 90, isKev: true }),
            detected('openssl', 'osv:A-2'),
            detected('curl', 'osv:A-3', {
              severity: 'low',
              riskScore: 10,
              dueAt: new Date('2026-12-01T00:00:00Z'),
            }),
          ],
          t0,
        );
        const rollupsAfterOpen = await host();
        const fixed = await reconcile([detected('openssl', 'osv:A-2')], t1);
        const reopened = await reconcile([detected('openssl', 'osv:A-2'), detected('curl', 'osv:A-3')], t2);

        expect(opened).toEqual({ opened: 3, reopened: 0, fixed: 0, updated: 0, open: 3 });
        expect({
          ...rollupsAfterOpen,
          earliest_due_at: new Date(rollupsAfterOpen.earliest_due_at ?? 0).toISOString(),
        }).toEqual({
          open_findings: 3,
          kev_findings: 1,
          worst_severity: 'critical',
          max_risk_score: 90,
          earliest_due_at: '2026-12-01T00:00:00.000Z',
        });
        expect(fixed).toEqual({ opened: 0, reopened: 0, fixed: 2, updated: 0, open: 1 });
        expect(reopened).toEqual({ opened: 0, reopened: 1, fixed: 0, updated: 0, open: 2 });
        expect(await events()).toEqual([
          'opened curl osv:A-3',
          'opened openssl osv:A-1',
          'opened openssl osv:A-2',
          'fixed curl osv:A-3',
          'fixed openssl osv:A-1',
          'reopened curl osv:A-3',
        ]);
        const a1 = await store.db
          .selectFrom('findings')
          .select(['status', 'fixed_at'])
          .where('advisory_id', '=', 'osv:A-1')
          .executeTakeFirstOrThrow();
        expect([a1.status, new Date(a1.fixed_at ?? 0).toISOString()]).toEqual(['fixed', t1.toISOString()]);
        expect(await host()).toMatchObject({ open_findings: 2, kev_findings: 0, worst_severity: 'high' });
      });

      it('rolls up: a missing severity counts as unknown, a word outside the list ranks last, none open clears', async () => {
        await reconcile(
          [
            detected('openssl', 'osv:A-1', { severity: 'bogus', riskScore: null, dueAt: null }),
            detected('curl', 'osv:A-2', {
              severity: null,
              riskScore: 5,
              dueAt: new Date('2026-12-03T00:00:00Z'),
            }),
          ],
          t0,
        );
        const unknownWorst = await host();
        await reconcile(
          [detected('openssl', 'osv:A-1', { severity: 'bogus', isKev: true, riskScore: null })],
          t1,
        );
        const bogusOnly = await host();
        await reconcile([], t2);

        expect({
          ...unknownWorst,
          earliest_due_at: new Date(unknownWorst.earliest_due_at ?? 0).toISOString(),
        }).toEqual({
          open_findings: 2,
          kev_findings: 0,
          worst_severity: 'unknown',
          max_risk_score: 5,
          earliest_due_at: '2026-12-03T00:00:00.000Z',
        });
        expect(bogusOnly).toMatchObject({ open_findings: 1, kev_findings: 1, worst_severity: 'bogus' });
        expect(await host()).toEqual({
          open_findings: 0,
          kev_findings: 0,
          worst_severity: null,
          max_risk_score: null,
          earliest_due_at: null,
        });
      });

      it('judges only the named packages when limited, and writes changed details', async () => {
        await reconcile([detected('openssl', 'osv:A-1'), detected('curl', 'osv:A-3')], t0);

        const result = await reconcile([detected('openssl', 'osv:A-1', { installedVersion: '1.0.1' })], t1, [
          'openssl',
        ]);

        expect(result).toEqual({ opened: 0, reopened: 0, fixed: 0, updated: 1, open: 2 });
        const rows = await store.db
          .selectFrom('findings')
          .select(['package_name', 'status', 'installed_version'])
          .orderBy('package_name')
          .execute();
        expect(rows).toEqual([
          { package_name: 'curl', status: 'open', installed_version: '1.0' },
          { package_name: 'openssl', status: 'open', installed_version: '1.0.1' },
        ]);
        expect((await findingsFirstSeen(store.db, hostId)).get('openssl')?.toISOString()).toBe(
          t0.toISOString(),
        );
      });

      it('writes nothing when the same findings are detected again', async () => {
        await reconcile([detected('openssl', 'osv:A-1')], t0);

        const again = await reconcile([detected('openssl', 'osv:A-1')], t1);

        expect(again).toEqual({ opened: 0, reopened: 0, fixed: 0, updated: 0, open: 1 });
        expect(await events()).toEqual(['opened openssl osv:A-1']);
      });
    },
  );
}
