import { parseDebianTrackerJson } from '@patchwarden/core';
import { putAdvisories } from '@patchwarden/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDetectionService } from '../src/detection/service.js';
import {
  countRows,
  createEnrollSecret,
  type Enrolled,
  enroll,
  findingEvents,
  findingRows,
  image,
  seedKev,
  seedTracker,
  TRACKER_JSON,
  UBUNTU_2204,
  ZLIB_TRACKER_JSON,
} from './agent-fixture.js';
import { createTestServer, type TestServer, testDialects } from './harness.js';

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `server/detection on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let server: TestServer;
      let secret: string;
      beforeEach(async () => {
        server = await createTestServer(dialect);
        await seedTracker(server.store, TRACKER_JSON, 'tracker.json');
        await server.app.detection.refresh();
        secret = await createEnrollSecret(server);
      });
      afterEach(async () => {
        await server?.close();
      });

      it('re-evaluates after a feed change only the hosts that hold an affected package in its scope', async () => {
        const withZlib = await enroll(server, secret, { hostname: 'with-zlib' });
        const withoutZlib = await enroll(server, secret, {
          hostname: 'without-zlib',
          packages: image().filter((p) => p.name !== 'zlib1g'),
        });
        const ubuntu = await enroll(server, secret, { hostname: 'ubuntu', os: UBUNTU_2204 });
        const eventsBefore = await countRows(server.store, 'finding_events');

        const written = await seedTracker(server.store, ZLIB_TRACKER_JSON, 'zlib.json');
        const result = await server.app.detection.reevaluatePackages(written.touched);

        expect(written.touched).toEqual([{ scopeKey: 'debian:12', name: 'zlib' }]);
        expect(result).toEqual({ hosts: 1, opened: 1, reopened: 0, fixed: 0 });
        expect(
          (await findingRows(server.store, withZlib.hostId)).filter((r) => r.startsWith('zlib')),
        ).toEqual(['zlib1g debian-tracker:CVE-2023-45853 open']);
        expect((await findingRows(server.store, withoutZlib.hostId)).some((r) => r.startsWith('zlib'))).toBe(
          false,
        );
        expect((await findingRows(server.store, ubuntu.hostId)).some((r) => r.startsWith('zlib'))).toBe(
          false,
        );
        expect(await countRows(server.store, 'finding_events')).toBe(eventsBefore + 1);
        const host = await server.store.db
          .selectFrom('hosts')
          .select('open_findings')
          .where('id', '=', withZlib.hostId)
          .executeTakeFirstOrThrow();
        expect(host.open_findings).toBe((await findingRows(server.store, withZlib.hostId)).length);
      });

      it('marks findings known exploited after a KEV change, with the earlier CISA due date', async () => {
        const { hostId } = await enroll(server, secret, { hostname: 'kev' });

        await seedKev(server.store, 'CVE-2024-5535');
        const result = await server.app.detection.reevaluatePackages([
          { scopeKey: 'debian:12', name: 'openssl' },
        ]);

        expect(result.hosts).toBe(1);
        const rows = await server.store.db
          .selectFrom('findings')
          .select(['package_name', 'advisory_id', 'is_kev', 'due_at', 'risk_score'])
          .where('host_id', '=', hostId)
          .where('is_kev', '=', 1)
          .orderBy('package_name')
          .execute();
        expect(
          rows.map((r) => [r.package_name, r.advisory_id, new Date(r.due_at ?? 0).toISOString()]),
        ).toEqual([
          ['libssl3', 'debian-tracker:CVE-2024-5535', '2026-11-29T00:00:00.000Z'],
          ['openssl', 'debian-tracker:CVE-2024-5535', '2026-11-29T00:00:00.000Z'],
        ]);
        const host = await server.store.db
          .selectFrom('hosts')
          .select(['kev_findings', 'max_risk_score', 'earliest_due_at'])
          .where('id', '=', hostId)
          .executeTakeFirstOrThrow();
        expect(host.kev_findings).toBe(2);
        expect(Number(host.max_risk_score)).toBe(Math.max(...rows.map((r) => Number(r.risk_score))));
        expect(new Date(host.earliest_due_at ?? 0).toISOString()).toBe('2026-11-29T00:00:00.000Z');
      });

      it('closes findings of a withdrawn advisory on re-evaluation', async () => {
        const { hostId } = await enroll(server, secret, { hostname: 'withdrawn' });
        const parsed = parseDebianTrackerJson(TRACKER_JSON, 'tracker.json');
        const curl = parsed.advisories.filter((a) => a.id === 'CVE-2024-2398');

        const written = await server.store.db.transaction().execute((trx) =>
          putAdvisories(trx, {
            feedId: null,
            inputs: curl.map((advisory) => ({
              advisory: { ...advisory, withdrawn: '2026-11-21T00:00:00Z' },
              origin: { location: 'tracker.json', timestamp: null },
            })),
            isCompleteSnapshot: false,
          }),
        );
        await server.app.detection.reevaluatePackages(written.touched);

        expect((await findingRows(server.store, hostId)).filter((r) => r.includes('curl'))).toEqual([
          'curl debian-tracker:CVE-2024-2398 fixed',
          'libcurl4 debian-tracker:CVE-2024-2398 fixed',
        ]);
        expect((await findingEvents(server.store, hostId)).filter((e) => e.startsWith('fixed'))).toEqual([
          'fixed curl debian-tracker:CVE-2024-2398',
          'fixed libcurl4 debian-tracker:CVE-2024-2398',
        ]);
      });

      it("picks up another replica's feed change through the stored revision", async () => {
        const { hostId } = await enroll(server, secret, { hostname: 'replica' });
        const other = createDetectionService({
          store: server.store,
          log: server.app.log,
          now: () => server.clock.now,
        });
        const before = await other.refresh();

        const written = await seedTracker(server.store, ZLIB_TRACKER_JSON, 'zlib.json');
        const after = await other.refresh();
        const evaluation = await server.store.db
          .transaction()
          .execute((trx) => other.evaluateHost(trx, hostId, { packageNames: ['zlib1g'] }));

        expect(after).toBe(written.revision);
        expect(after).toBeGreaterThan(before);
        expect(evaluation).toMatchObject({ hostId, opened: 1, fixed: 0 });
      });

      it('judges hosts sharing a package set identically and keeps other packages untouched on a delta', async () => {
        const packages = image(100);
        const hosts: Enrolled[] = [];
        for (let i = 0; i < 5; i++) {
          hosts.push(
            await enroll(server, secret, { hostname: `same-${i}`, machineId: `same-${i}`, packages }),
          );
        }
        const rows = await Promise.all(hosts.map((h) => findingRows(server.store, h.hostId)));

        expect(await countRows(server.store, 'package_sets')).toBe(1);
        for (const r of rows) expect(r).toEqual(rows[0]);
        const evaluation = await server.store.db
          .transaction()
          .execute((trx) =>
            server.app.detection.evaluateHost(trx, hosts[0]?.hostId ?? '', { packageNames: ['filler1'] }),
          );
        expect(evaluation).toMatchObject({ opened: 0, fixed: 0, reopened: 0, open: rows[0]?.length });
      });
    },
  );
}
