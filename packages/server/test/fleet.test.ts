import { createHost, writeTimestamp } from '@patchwarden/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADVISORIES, type FleetFixture, GROUPS, seedFleet } from '../../store/test/fleet-fixture.js';
import { createTestServer, type TestServer, testDialects } from './harness.js';

interface HostBody {
  id: string;
  name: string;
  labels: Record<string, string>;
  groupId: string | null;
  criticality: string;
  compliant: boolean;
}

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `server/fleet routes on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let server: TestServer;
      let fleet: FleetFixture;
      let dbOperator: string;
      let auditor: string;

      beforeAll(async () => {
        server = await createTestServer(dialect);
        fleet = await seedFleet(server.store.db, server.clock.now);
        dbOperator = await server.tokenFor('operator', GROUPS.db);
        auditor = await server.tokenFor('auditor');
      });
      afterAll(async () => {
        await server?.close();
      });

      async function get(url: string, token?: string) {
        const response = await server.request({
          method: 'GET',
          url,
          ...(token === undefined ? {} : { token }),
        });
        return { status: response.statusCode, body: response.json() };
      }

      async function hostNames(query: string, token?: string): Promise<string[]> {
        const { status, body } = await get(`/api/v1/hosts?limit=500&${query}`, token);
        expect(status).toBe(200);
        return (body.hosts as HostBody[]).map((h) => h.name);
      }

      it.each([
        ['', ['alpha', 'bravo', 'charlie', 'delta', 'echo']],
        ['label=env=prod', ['alpha', 'charlie', 'echo']],
        ['label=env=prod&label=team=web', ['alpha']],
        [`group=${GROUPS.web}`, ['alpha', 'bravo']],
        ['os=debian&osVersion=12', ['alpha', 'bravo', 'delta']],
        ['package=openssl', ['alpha', 'bravo', 'charlie']],
        [`advisory=${encodeURIComponent(ADVISORIES.a1)}`, ['alpha', 'bravo']],
        ['cve=CVE-2024-0004', ['charlie']],
        ['compliance=noncompliant', ['alpha', 'bravo']],
        ['compliance=compliant', ['charlie', 'delta', 'echo']],
        ['minSeverity=medium', ['alpha', 'bravo', 'charlie']],
        ['kev=true', ['alpha', 'bravo']],
        ['kev=true&label=env=prod', ['alpha']],
      ])('GET /hosts?%s filters', async (query, expected) => {
        expect(await hostNames(query)).toEqual(expected);
      });

      it('sorts by last seen, risk and name', async () => {
        expect(await hostNames('sort=last_seen')).toEqual(['charlie', 'alpha', 'echo', 'bravo', 'delta']);
        expect((await hostNames('sort=risk&order=desc')).slice(0, 3)).toEqual(['alpha', 'bravo', 'charlie']);
        expect(await hostNames('sort=name&order=desc')).toEqual([
          'echo',
          'delta',
          'charlie',
          'bravo',
          'alpha',
        ]);
      });

      it('reports compliance and rollups per host', async () => {
        const { body } = await get('/api/v1/hosts?label=team=web');

        expect(body.hosts[0]).toMatchObject({
          name: 'alpha',
          compliant: false,
          openFindings: 2,
          kevFindings: 1,
          worstSeverity: 'critical',
          rebootRequired: true,
          os: { distro: 'debian', versionId: '12' },
        });
      });

      it('walks all pages with the cursor: the full set, no duplicates, pages of the asked size', async () => {
        const group = 'group-paging';
        await server.store.db
          .insertInto('host_groups')
          .values({
            id: group,
            name: 'paging',
            parent_id: null,
            description: null,
            created_at: writeTimestamp(server.clock.now),
          })
          .execute();
        const created: string[] = [];
        for (let i = 0; i < 40; i += 1) {
          const host = await createHost(
            server.store.db,
            { name: `page-${i % 9}`, groupId: group },
            server.clock.now,
          );
          created.push(host.id);
        }
        const pages: string[][] = [];
        let cursor: string | null = null;
        do {
          const query: string = `group=${group}&limit=7${cursor === null ? '' : `&cursor=${cursor}`}`;
          const { status, body } = await get(`/api/v1/hosts?${query}`);
          expect(status).toBe(200);
          pages.push((body.hosts as HostBody[]).map((h) => h.id));
          cursor = body.nextCursor;
        } while (cursor !== null && pages.length < 20);

        const walked = pages.flat();
        expect(pages.map((p) => p.length)).toEqual([7, 7, 7, 7, 7, 5]);
        expect(new Set(walked).size).toBe(40);
        expect([...walked].sort()).toEqual([...created].sort());
        const { body: all } = await get(`/api/v1/hosts?group=${group}&limit=500`);
        expect(walked).toEqual((all.hosts as HostBody[]).map((h) => h.id));
      });

      it('answers 400 for a page size over the limit, a bad cursor and unknown parameters', async () => {
        const tooBig = await get('/api/v1/hosts?limit=501');
        const zero = await get('/api/v1/findings?limit=0');
        const badCursor = await get('/api/v1/hosts?cursor=bm9wZQ');
        const first = await get('/api/v1/hosts?limit=1');
        const otherSort = await get(`/api/v1/hosts?limit=1&sort=risk&cursor=${first.body.nextCursor}`);
        const unknown = await get('/api/v1/hosts?colour=blue');
        const badSeverity = await get('/api/v1/findings?severity=dire');

        expect([tooBig.status, tooBig.body.error.code]).toEqual([400, 'INVALID_REQUEST']);
        expect([zero.status, zero.body.error.code]).toEqual([400, 'INVALID_REQUEST']);
        expect([badCursor.status, badCursor.body.error.code]).toEqual([400, 'INVALID_CURSOR']);
        expect([otherSort.status, otherSort.body.error.code]).toEqual([400, 'INVALID_CURSOR']);
        expect([unknown.status, unknown.body.error.code]).toEqual([400, 'INVALID_REQUEST']);
        expect([badSeverity.status, badSeverity.body.error.code]).toEqual([400, 'INVALID_REQUEST']);
      });

      it('shows an operator scoped to group db only that group, and 404 for other hosts', async () => {
        const names = await hostNames('', dbOperator);
        const own = await get(`/api/v1/hosts/${fleet.hosts.charlie}`, dbOperator);
        const other = await get(`/api/v1/hosts/${fleet.hosts.alpha}`, dbOperator);
        const findings = await get('/api/v1/findings', dbOperator);
        const otherFinding = await get(`/api/v1/findings/${fleet.findings.alphaA1}`, dbOperator);
        const patches = await get('/api/v1/patches', dbOperator);
        const summary = await get('/api/v1/summary', dbOperator);

        expect(names).toEqual(['charlie', 'echo']);
        expect(own.status).toBe(200);
        expect([other.status, other.body.error.code]).toEqual([404, 'HOST_NOT_FOUND']);
        expect(findings.body.findings.map((f: { hostName: string }) => f.hostName)).toEqual([
          'charlie',
          'charlie',
        ]);
        expect([otherFinding.status, otherFinding.body.error.code]).toEqual([404, 'FINDING_NOT_FOUND']);
        expect(patches.body.patches.map((p: { packageName: string }) => p.packageName)).toEqual(['curl']);
        expect(summary.body.hosts.total).toBe(2);
        expect(summary.body.findings.open).toBe(2);
      });

      it('gives host detail with OS, labels, group, packages and open findings', async () => {
        const { status, body } = await get(`/api/v1/hosts/${fleet.hosts.charlie}`);

        expect(status).toBe(200);
        expect(body.host).toMatchObject({ name: 'charlie', labels: { env: 'prod' }, criticality: 'high' });
        expect(body.group).toEqual({ id: GROUPS.db, name: 'db' });
        expect(body.packages.map((p: { name: string; version: string }) => `${p.name}=${p.version}`)).toEqual(
          ['bash=5.1-6ubuntu1', 'curl=8.2.0-1ubuntu1', 'openssl=3.0.2-0ubuntu1', 'zlib1g=1:1.2.13.dfsg-1'],
        );
        expect([body.packageCount, body.packagesTruncated, body.findingsTruncated]).toEqual([
          4,
          false,
          false,
        ]);
        expect(
          body.openFindings.map((f: { advisoryId: string; overdue: boolean }) => [f.advisoryId, f.overdue]),
        ).toEqual([
          [ADVISORIES.a3, false],
          [ADVISORIES.a4, false],
        ]);
      });

      it('lists findings with filters and gives one with its history', async () => {
        const critical = await get('/api/v1/findings?severity=critical');
        const two = await get('/api/v1/findings?severity=critical&severity=high&sort=due&order=asc');
        const byHost = await get(`/api/v1/findings?host=${fleet.hosts.alpha}&kev=true`);
        const fixed = await get('/api/v1/findings?status=fixed');
        const detail = await get(`/api/v1/findings/${fleet.findings.echoA3}`);
        const missing = await get('/api/v1/findings/nope');

        expect(critical.body.findings.map((f: { hostName: string }) => f.hostName)).toEqual([
          'alpha',
          'bravo',
        ]);
        expect(two.body.findings.map((f: { id: string }) => f.id).slice(2)).toEqual([fleet.findings.alphaA2]);
        expect(byHost.body.findings).toEqual([
          expect.objectContaining({
            id: fleet.findings.alphaA1,
            kev: true,
            overdue: true,
            cves: ['CVE-2024-0001', 'CVE-2024-0002'],
            fixedVersion: '3.0.15-1~deb12u1',
          }),
        ]);
        expect(fixed.body.findings.map((f: { id: string }) => f.id)).toEqual([fleet.findings.echoA3]);
        expect(detail.body.events.map((e: { kind: string }) => e.kind)).toEqual(['opened', 'fixed']);
        expect(detail.body.advisory).toEqual({
          id: ADVISORIES.a3,
          title: 'USN-0003-1 title',
          severity: 'medium',
          cvssScore: null,
        });
        expect([missing.status, missing.body.error.code]).toEqual([404, 'FINDING_NOT_FOUND']);
      });

      it('computes the patch-centric view for the seeded fleet', async () => {
        const { status, body } = await get('/api/v1/patches');
        const byCves = await get('/api/v1/patches?sort=cves&limit=1');

        // openssl 3.0.15: alpha (A1 + A2) and bravo (A1) -> 2 hosts, 3 findings, CVE-0001/0002/0003,
        // KEV CVE-0001 once, 2 KEV findings. curl 8.5.0: charlie only (echo's is fixed); zlib has no fix.
        expect(status).toBe(200);
        expect(
          body.patches.map((p: Record<string, unknown>) => [
            p.packageName,
            p.fixedVersion,
            p.hosts,
            p.findings,
            p.cves,
            p.kevCves,
            p.kevFindings,
            p.worstSeverity,
          ]),
        ).toEqual([
          ['openssl', '3.0.15-1~deb12u1', 2, 3, 3, 1, 2, 'critical'],
          ['curl', '8.5.0-2ubuntu1', 1, 1, 1, 0, 0, 'medium'],
        ]);
        expect(byCves.body.patches.map((p: { packageName: string }) => p.packageName)).toEqual(['openssl']);
        expect(typeof byCves.body.nextCursor).toBe('string');
      });

      it('summarises the fleet', async () => {
        const { status, body } = await get('/api/v1/summary?staleAfterHours=48');

        expect(status).toBe(200);
        expect(body.findings).toEqual({
          open: 5,
          bySeverity: { critical: 2, high: 1, medium: 1, low: 1, negligible: 0, unknown: 0 },
          byFixState: { 'fix-available': 4, 'no-fix-yet': 1, 'will-not-fix': 0, unknown: 0 },
          kev: 2,
          overdue: 2,
          waived: 0,
        });
        expect(body.hosts).toMatchObject({
          withOpenFindings: 3,
          withKevFindings: 2,
          noncompliant: 2,
          rebootRequired: 2,
        });
        expect(body.staleAfterHours).toBe(48);
      });

      it('edits a host with hosts:write, audited; refuses readers and other groups', async () => {
        const edited = await server.request({
          method: 'PATCH',
          url: `/api/v1/hosts/${fleet.hosts.bravo}`,
          payload: { labels: { env: 'prod', tier: 'gold' }, criticality: 'critical', owner: 'web-team' },
        });
        const byAuditor = await server.request({
          method: 'PATCH',
          url: `/api/v1/hosts/${fleet.hosts.bravo}`,
          payload: { owner: 'me' },
          token: auditor,
        });
        const otherGroup = await server.request({
          method: 'PATCH',
          url: `/api/v1/hosts/${fleet.hosts.bravo}`,
          payload: { owner: 'me' },
          token: dbOperator,
        });
        const moveOut = await server.request({
          method: 'PATCH',
          url: `/api/v1/hosts/${fleet.hosts.charlie}`,
          payload: { groupId: GROUPS.web },
          token: dbOperator,
        });
        const empty = await server.request({
          method: 'PATCH',
          url: `/api/v1/hosts/${fleet.hosts.bravo}`,
          payload: {},
        });
        const badGroup = await server.request({
          method: 'PATCH',
          url: `/api/v1/hosts/${fleet.hosts.bravo}`,
          payload: { groupId: 'no-such-group' },
        });
        const audit = await server.store.db
          .selectFrom('audit_log')
          .select(['action', 'target_id', 'detail'])
          .where('action', '=', 'host.update')
          .execute();

        expect(edited.statusCode).toBe(200);
        expect(edited.json()).toMatchObject({
          labels: { env: 'prod', tier: 'gold' },
          criticality: 'critical',
        });
        expect([byAuditor.statusCode, byAuditor.json().error.code]).toEqual([403, 'FORBIDDEN']);
        expect([otherGroup.statusCode, otherGroup.json().error.code]).toEqual([404, 'HOST_NOT_FOUND']);
        expect([moveOut.statusCode, moveOut.json().error.code]).toEqual([403, 'FORBIDDEN']);
        expect([empty.statusCode, empty.json().error.code]).toEqual([400, 'INVALID_REQUEST']);
        expect([badGroup.statusCode, badGroup.json().error.code]).toEqual([400, 'GROUP_NOT_FOUND']);
        expect(audit).toHaveLength(1);
        expect(audit[0]?.target_id).toBe(fleet.hosts.bravo);
        expect(JSON.parse(audit[0]?.detail ?? '{}')).toMatchObject({
          before: { labels: { env: 'staging' }, criticality: 'medium', owner: null },
          after: { labels: { env: 'prod', tier: 'gold' }, criticality: 'critical', owner: 'web-team' },
        });
      });

      it('deletes a host with hosts:write, audited, only within scope', async () => {
        const outside = await server.request({
          method: 'DELETE',
          url: `/api/v1/hosts/${fleet.hosts.delta}`,
          token: dbOperator,
        });
        const deleted = await server.request({ method: 'DELETE', url: `/api/v1/hosts/${fleet.hosts.delta}` });
        const again = await server.request({ method: 'DELETE', url: `/api/v1/hosts/${fleet.hosts.delta}` });
        const after = await get(`/api/v1/hosts/${fleet.hosts.delta}`);
        const audit = await server.store.db
          .selectFrom('audit_log')
          .select(['target_id'])
          .where('action', '=', 'host.delete')
          .execute();

        expect([outside.statusCode, outside.json().error.code]).toEqual([404, 'HOST_NOT_FOUND']);
        expect(deleted.statusCode).toBe(204);
        expect([again.statusCode, after.status]).toEqual([404, 404]);
        expect(audit).toEqual([{ target_id: fleet.hosts.delta }]);
      });
    },
  );
}
