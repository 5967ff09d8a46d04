import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHost,
  deleteFleetHost,
  type FleetHost,
  getFindingDetail,
  getFleetSummary,
  getHostDetail,
  type HostQuery,
  type HostSort,
  migrateToLatest,
  queryFindings,
  queryHosts,
  queryPatches,
  type SortOrder,
  updateFleetHost,
  writeTimestamp,
} from '../src/index.js';
import { type TestStore, testDialects } from './dialects.js';
import { ADVISORIES, FIXTURE_NOW, type FleetFixture, GROUPS, seedFleet } from './fleet-fixture.js';

const now = FIXTURE_NOW;

for (const dialect of testDialects()) {
  const title = `store/fleet on ${dialect.name}${dialect.skipReason ? ` (skipped: ${dialect.skipReason})` : ''}`;

  describe.skipIf(dialect.skipReason !== null)(title, () => {
    let store: TestStore;
    let fleet: FleetFixture;

    beforeAll(async () => {
      store = await dialect.open();
      await migrateToLatest(store.db);
      fleet = await seedFleet(store.db);
    });

    afterAll(async () => {
      await store?.dispose();
    });

    async function names(query: Partial<HostQuery>): Promise<string[]> {
      const page = await queryHosts(store.db, store.dialect, { scope: 'all', now, limit: 500, ...query });
      return page.items.map((host) => host.name);
    }

    it.each([
      ['no filter', {}, ['alpha', 'bravo', 'charlie', 'delta', 'echo']],
      ['label env=prod', { labels: { env: 'prod' } }, ['alpha', 'charlie', 'echo']],
      ['two labels', { labels: { env: 'prod', team: 'web' } }, ['alpha']],
      ['group web', { groupId: GROUPS.web }, ['alpha', 'bravo']],
      ['os debian 12', { osDistro: 'debian', osVersion: '12' }, ['alpha', 'bravo', 'delta']],
      ['os ubuntu', { osDistro: 'ubuntu' }, ['charlie']],
      [
        'package openssl (set, added by override, removed by override)',
        { packageName: 'openssl' },
        ['alpha', 'bravo', 'charlie'],
      ],
      ['package curl', { packageName: 'curl' }, ['charlie']],
      ['advisory A1', { advisoryId: ADVISORIES.a1 }, ['alpha', 'bravo']],
      ['CVE of a fixed and an open finding', { cve: 'CVE-2024-0004' }, ['charlie']],
      ['noncompliant', { compliance: 'noncompliant' as const }, ['alpha', 'bravo']],
      ['compliant', { compliance: 'compliant' as const }, ['charlie', 'delta', 'echo']],
      ['min severity high', { minSeverity: 'high' as const }, ['alpha', 'bravo']],
      ['min severity medium', { minSeverity: 'medium' as const }, ['alpha', 'bravo', 'charlie']],
      ['KEV only', { isKevOnly: true }, ['alpha', 'bravo']],
      ['scope db', { scope: [GROUPS.db] }, ['charlie', 'echo']],
      ['scope web and db', { scope: [GROUPS.db, GROUPS.web] }, ['alpha', 'bravo', 'charlie', 'echo']],
      [
        'scope web and db, label env=prod',
        { scope: [GROUPS.db, GROUPS.web], labels: { env: 'prod' } },
        ['alpha', 'charlie', 'echo'],
      ],
      [
        'scope db and label env=prod and package curl',
        { scope: [GROUPS.db], labels: { env: 'prod' }, packageName: 'curl' },
        ['charlie'],
      ],
      ['empty scope', { scope: [] }, []],
    ])('filters hosts: %s', async (_name, query, expected) => {
      expect(await names(query as Partial<HostQuery>)).toEqual(expected);
    });

    it.each([
      ['name', 'asc', ['alpha', 'bravo', 'charlie', 'delta', 'echo']],
      ['name', 'desc', ['echo', 'delta', 'charlie', 'bravo', 'alpha']],
      // alpha 2 open, charlie 2, bravo 1, delta 0, echo 0; ties by id (same direction).
      ['last_seen', 'desc', ['charlie', 'alpha', 'echo', 'bravo', 'delta']],
      ['last_seen', 'asc', ['bravo', 'echo', 'alpha', 'charlie', 'delta']],
      ['risk', 'desc', ['alpha', 'bravo', 'charlie', 'delta', 'echo']],
    ])('sorts hosts by %s %s, hosts without a value last', async (sort, order, expected) => {
      const got = await names({ sort: sort as HostSort, order: order as SortOrder });
      const withoutRisk = got.slice(3).sort();

      expect(sort === 'risk' ? [...got.slice(0, 3), ...withoutRisk] : got).toEqual(expected);
    });

    it('sorts by open findings with ties broken by id', async () => {
      const page = await queryHosts(store.db, store.dialect, { scope: 'all', now, sort: 'open_findings' });

      const expected = [...page.items].sort(
        (a, b) => b.openFindings - a.openFindings || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
      );
      expect(page.items.map((h) => h.openFindings)).toEqual([2, 2, 1, 0, 0]);
      expect(page.items.map((h) => h.id)).toEqual(expected.map((h) => h.id));
    });

    it('returns the rollups and OS of a host', async () => {
      const page = await queryHosts(store.db, store.dialect, { scope: 'all', now, labels: { team: 'web' } });
      const alpha = page.items[0] as FleetHost;

      expect({
        openFindings: alpha.openFindings,
        kevFindings: alpha.kevFindings,
        worstSeverity: alpha.worstSeverity,
        maxRiskScore: alpha.maxRiskScore,
        earliestDueAt: alpha.earliestDueAt?.toISOString(),
        isRebootRequired: alpha.isRebootRequired,
        distro: alpha.os?.distro,
      }).toEqual({
        openFindings: 2,
        kevFindings: 1,
        worstSeverity: 'critical',
        maxRiskScore: 90,
        earliestDueAt: '2026-11-01T00:00:00.000Z',
        isRebootRequired: true,
        distro: 'debian',
      });
    });

    describe('keyset pagination over a larger fleet', () => {
      const bulkGroup = 'group-bulk';
      let bulk: FleetHost[];

      beforeAll(async () => {
        await store.db
          .insertInto('host_groups')
          .values({
            id: bulkGroup,
            name: 'bulk',
            parent_id: null,
            description: null,
            created_at: writeTimestamp(now),
          })
          .execute();
        for (let i = 0; i < 53; i += 1) {
          // Duplicate names, seen times and risks, and some nulls, so ties and the null segment are exercised.
          const host = await createHost(
            store.db,
            {
              id: `bulk-${String((i * 37) % 53).padStart(3, '0')}`,
              name: `bulk-${i % 7}`,
              groupId: bulkGroup,
            },
            now,
          );
          await store.db
            .updateTable('hosts')
            .set({
              last_seen_at: i % 5 === 0 ? null : writeTimestamp(new Date(now.getTime() - (i % 9) * 60_000)),
              open_findings: i % 4,
              max_risk_score: i % 3 === 0 ? null : (i % 6) * 10.5,
            })
            .where('id', '=', host.id)
            .execute();
        }
        const all = await queryHosts(store.db, store.dialect, {
          scope: [bulkGroup],
          now,
          limit: 500,
        });
        bulk = all.items;
      });

      it.each([
        ['name', 'asc'],
        ['name', 'desc'],
        ['last_seen', 'asc'],
        ['last_seen', 'desc'],
        ['open_findings', 'asc'],
        ['open_findings', 'desc'],
        ['risk', 'asc'],
        ['risk', 'desc'],
      ])('walks every page by %s %s: each host once, in sort order', async (sort, order) => {
        const seen: FleetHost[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page = await queryHosts(store.db, store.dialect, {
            scope: [bulkGroup],
            now,
            sort: sort as HostSort,
            order: order as SortOrder,
            limit: 4,
            cursor,
          });
          seen.push(...page.items);
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor !== null && pages < 100);

        const expected = sortLikeTheStore(bulk, sort as HostSort, order as SortOrder).map((h) => h.id);
        expect(seen.map((h) => h.id)).toEqual(expected);
        expect(new Set(seen.map((h) => h.id)).size).toBe(53);
        expect(pages).toBe(14);
      });
    });

    it.each([
      ['last_seen', 'desc'],
      ['risk', 'asc'],
      ['name', 'desc'],
    ])('walks a scope of two groups by %s %s: each host once, in sort order', async (sort, order) => {
      const scope = ['group-bulk', GROUPS.web];
      const everything = await queryHosts(store.db, store.dialect, { scope: 'all', now, limit: 500 });
      const inScope = everything.items.filter((h) => h.groupId !== null && scope.includes(h.groupId));
      const seen: FleetHost[] = [];
      let cursor: string | null = null;
      do {
        const page = await queryHosts(store.db, store.dialect, {
          scope,
          now,
          sort: sort as HostSort,
          order: order as SortOrder,
          limit: 6,
          cursor,
        });
        seen.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== null && seen.length < 200);

      expect(inScope).toHaveLength(55);
      expect(seen.map((h) => h.id)).toEqual(
        sortLikeTheStore(inScope, sort as HostSort, order as SortOrder).map((h) => h.id),
      );
    });

    it('refuses page sizes outside 1..500 and cursors from another listing', async () => {
      const first = await queryHosts(store.db, store.dialect, { scope: 'all', now, limit: 2 });

      await expect(
        queryHosts(store.db, store.dialect, { scope: 'all', now, limit: 501 }),
      ).rejects.toMatchObject({
        code: 'INVALID_PAGE_SIZE',
        status: 400,
      });
      await expect(
        queryHosts(store.db, store.dialect, { scope: 'all', now, limit: 0 }),
      ).rejects.toMatchObject({
        code: 'INVALID_PAGE_SIZE',
      });
      await expect(
        queryHosts(store.db, store.dialect, { scope: 'all', now, sort: 'risk', cursor: first.nextCursor }),
      ).rejects.toMatchObject({ code: 'INVALID_CURSOR', status: 400 });
      await expect(
        queryHosts(store.db, store.dialect, { scope: 'all', now, cursor: 'not-a-cursor' }),
      ).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
      await expect(
        queryHosts(store.db, store.dialect, { scope: 'all', now, labels: { "x'y": '1' } }),
      ).rejects.toMatchObject({ code: 'INVALID_FILTER' });
    });

    it('computes the patch-centric view', async () => {
      const page = await queryPatches(store.db, store.dialect, { scope: 'all' });

      expect(
        page.items.map((p) => ({ ...p, earliestDueAt: p.earliestDueAt?.toISOString() ?? null })),
      ).toEqual([
        {
          packageName: 'openssl',
          fixedVersion: '3.0.15-1~deb12u1',
          hosts: 2,
          findings: 3,
          advisories: 2,
          cves: 3,
          kevCves: 1,
          kevFindings: 2,
          worstSeverity: 'critical',
          maxRiskScore: 90,
          earliestDueAt: '2026-11-01T00:00:00.000Z',
        },
        {
          packageName: 'curl',
          fixedVersion: '8.5.0-2ubuntu1',
          hosts: 1,
          findings: 1,
          advisories: 1,
          cves: 1,
          kevCves: 0,
          kevFindings: 0,
          worstSeverity: 'medium',
          maxRiskScore: 40,
          earliestDueAt: '2027-01-15T00:00:00.000Z',
        },
      ]);
      expect(page.nextCursor).toBeNull();
    });

    it('scopes, filters and pages the patch view', async () => {
      const scoped = await queryPatches(store.db, store.dialect, { scope: [GROUPS.db] });
      const kev = await queryPatches(store.db, store.dialect, { scope: 'all', isKevOnly: true });
      const first = await queryPatches(store.db, store.dialect, { scope: 'all', sort: 'cves', limit: 1 });
      const second = await queryPatches(store.db, store.dialect, {
        scope: 'all',
        sort: 'cves',
        limit: 1,
        cursor: first.nextCursor,
      });

      expect(scoped.items.map((p) => [p.packageName, p.hosts])).toEqual([['curl', 1]]);
      expect(kev.items.map((p) => p.packageName)).toEqual(['openssl']);
      expect([first.items[0]?.packageName, second.items[0]?.packageName, second.nextCursor]).toEqual([
        'openssl',
        'curl',
        null,
      ]);
    });

    it('lists findings by host, severity, KEV and CVE, and pages them', async () => {
      const all = await queryFindings(store.db, { scope: 'all', now });
      const byHost = await queryFindings(store.db, { scope: 'all', now, hostId: fleet.hosts.charlie });
      const critical = await queryFindings(store.db, { scope: 'all', now, severities: ['critical'] });
      const kev = await queryFindings(store.db, { scope: 'all', now, isKevOnly: true, sort: 'opened' });
      const fixed = await queryFindings(store.db, { scope: 'all', now, status: 'fixed' });
      const overdue = await queryFindings(store.db, { scope: 'all', now, isOverdueOnly: true });
      const scoped = await queryFindings(store.db, { scope: [GROUPS.web], now, cve: 'CVE-2024-0003' });
      const walked: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await queryFindings(store.db, { scope: 'all', now, sort: 'due', limit: 2, cursor });
        walked.push(...page.items.map((f) => f.id));
        cursor = page.nextCursor;
      } while (cursor !== null);

      const f = fleet.findings;
      expect(all.items.map((x) => x.id)).toEqual([f.alphaA1, f.bravoA1, f.alphaA2, f.charlieA3, f.charlieA4]);
      expect(byHost.items.map((x) => x.id)).toEqual([f.charlieA3, f.charlieA4]);
      expect(critical.items.map((x) => x.id)).toEqual([f.alphaA1, f.bravoA1]);
      expect(new Set(kev.items.map((x) => x.id))).toEqual(new Set([f.alphaA1, f.bravoA1]));
      expect(fixed.items.map((x) => x.id)).toEqual([f.echoA3]);
      expect(new Set(overdue.items.map((x) => x.id))).toEqual(new Set([f.alphaA1, f.bravoA1]));
      expect(scoped.items.map((x) => [x.id, x.hostName, x.cves])).toEqual([
        [f.alphaA2, 'alpha', ['CVE-2024-0003']],
      ]);
      // due ascending, ties by id, no due date last
      expect(walked.slice(2)).toEqual([f.alphaA2, f.charlieA3, f.charlieA4]);
      expect(new Set(walked.slice(0, 2))).toEqual(new Set([f.alphaA1, f.bravoA1]));
    });

    it('gives a finding with its advisory and events, only in scope', async () => {
      const detail = await getFindingDetail(store.db, 'all', fleet.findings.echoA3);
      const outside = await getFindingDetail(store.db, [GROUPS.web], fleet.findings.echoA3);

      expect(detail?.advisory?.title).toBe('USN-0003-1 title');
      expect(detail?.events.map((e) => [e.kind, e.at.toISOString(), e.detail])).toEqual([
        ['opened', '2026-11-10T00:00:00.000Z', { installedVersion: '8.2.0-1' }],
        ['fixed', '2026-11-20T00:00:00.000Z', { installedVersion: '8.5.0-2ubuntu1' }],
      ]);
      expect(outside).toBeNull();
    });

    it('gives host detail with packages (overrides applied) and open findings', async () => {
      const charlie = await getHostDetail(store.db, 'all', fleet.hosts.charlie);
      const delta = await getHostDetail(store.db, 'all', fleet.hosts.delta);
      const hidden = await getHostDetail(store.db, [GROUPS.web], fleet.hosts.charlie);

      expect(charlie?.packages.map((p) => `${p.name}=${p.version}`)).toEqual([
        'bash=5.1-6ubuntu1',
        'curl=8.2.0-1ubuntu1',
        'openssl=3.0.2-0ubuntu1',
        'zlib1g=1:1.2.13.dfsg-1',
      ]);
      expect(charlie?.group).toEqual({ id: GROUPS.db, name: 'db' });
      expect(charlie?.openFindings.map((f) => f.packageName)).toEqual(['curl', 'zlib1g']);
      expect(delta?.packages.map((p) => p.name)).toEqual(['bash', 'libssl3']);
      expect(delta?.group).toBeNull();
      expect(hidden).toBeNull();
    });

    it('summarises the fleet and a scope', async () => {
      // The two fixture groups: every fixture host but delta (no group), and none of the bulk hosts.
      const summary = await getFleetSummary(store.db, {
        scope: [GROUPS.web, GROUPS.db],
        now,
        staleAfterHours: 24,
      });
      const db = await getFleetSummary(store.db, { scope: [GROUPS.db], now, staleAfterHours: 24 });

      expect(summary.hosts).toEqual({
        total: 4,
        withOpenFindings: 3,
        withKevFindings: 2,
        noncompliant: 2,
        stale: 2,
        neverSeen: 0,
        rebootRequired: 2,
      });
      expect(summary.findings).toEqual({
        open: 5,
        bySeverity: { critical: 2, high: 1, medium: 1, low: 1, negligible: 0, unknown: 0 },
        byFixState: { 'fix-available': 4, 'no-fix-yet': 1, 'will-not-fix': 0, unknown: 0 },
        kev: 2,
        overdue: 2,
        waived: 0,
      });
      expect(db.hosts).toEqual({
        total: 2,
        withOpenFindings: 1,
        withKevFindings: 0,
        noncompliant: 0,
        stale: 1,
        neverSeen: 0,
        rebootRequired: 1,
      });
      expect(db.findings.open).toBe(2);
    });

    it('updates and deletes a host only within scope', async () => {
      const outside = await updateFleetHost(store.db, [GROUPS.web], fleet.hosts.echo, { owner: 'x' });
      const updated = await updateFleetHost(store.db, 'all', fleet.hosts.echo, {
        labels: { tier: 'gold', env: 'prod' },
        groupId: GROUPS.web,
        criticality: 'critical',
        owner: 'ops@example.org',
      });
      const unknownGroup = await updateFleetHost(store.db, 'all', fleet.hosts.echo, {
        groupId: 'no-such-group',
      }).catch((err: unknown) => err);
      const notDeleted = await deleteFleetHost(store.db, [GROUPS.db], fleet.hosts.echo);
      const deleted = await deleteFleetHost(store.db, [GROUPS.web], fleet.hosts.echo);

      expect(outside).toBeNull();
      expect(updated).toMatchObject({
        labels: { env: 'prod', tier: 'gold' },
        groupId: GROUPS.web,
        criticality: 'critical',
        owner: 'ops@example.org',
      });
      expect(unknownGroup).toMatchObject({ code: 'GROUP_NOT_FOUND' });
      expect([notDeleted, deleted]).toEqual([false, true]);
      expect(await getFindingDetail(store.db, 'all', fleet.findings.echoA3)).toBeNull();
    });
  });
}

/** The order the store promises: by key in `order`, ties by id in `order`, hosts without a key last by id. */
function sortLikeTheStore(hosts: FleetHost[], sort: HostSort, order: SortOrder): FleetHost[] {
  const keyOf = (h: FleetHost): string | number | null =>
    sort === 'name'
      ? h.name
      : sort === 'last_seen'
        ? (h.lastSeenAt?.toISOString() ?? null)
        : sort === 'open_findings'
          ? h.openFindings
          : h.maxRiskScore;
  const sign = order === 'asc' ? 1 : -1;
  return [...hosts].sort((a, b) => {
    const ka = keyOf(a);
    const kb = keyOf(b);
    if (ka === null || kb === null) {
      if (ka !== kb) return ka === null ? 1 : -1;
    } else if (ka !== kb) {
      return (ka < kb ? -1 : 1) * sign;
    }
    return (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * sign;
  });
}
