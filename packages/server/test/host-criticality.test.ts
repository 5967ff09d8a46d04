import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEnrollSecret, enroll, seedTracker, TRACKER_JSON } from './agent-fixture.js';
import { createTestServer, type TestServer, testDialects } from './harness.js';

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `server/host criticality on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let server: TestServer;
      beforeEach(async () => {
        server = await createTestServer(dialect);
        await seedTracker(server.store, TRACKER_JSON, 'tracker.json');
        await server.app.detection.refresh();
      });
      afterEach(async () => {
        await server?.close();
      });

      async function riskOf(hostId: string) {
        const findings = await server.store.db
          .selectFrom('findings')
          .select(['advisory_id', 'risk_score'])
          .where('host_id', '=', hostId)
          .where('status', '=', 'open')
          .orderBy('advisory_id')
          .execute();
        const host = await server.store.db
          .selectFrom('hosts')
          .select('max_risk_score')
          .where('id', '=', hostId)
          .executeTakeFirstOrThrow();
        return { scores: findings.map((f) => Number(f.risk_score)), max: Number(host.max_risk_score) };
      }

      it("re-scores the host's open findings when an operator changes its criticality", async () => {
        const { hostId } = await enroll(server, await createEnrollSecret(server), { hostname: 'db-1' });
        const medium = await riskOf(hostId);
        expect(medium.scores.length).toBeGreaterThan(0);

        const patch = (criticality: string) =>
          server.request({ method: 'PATCH', url: `/api/v1/hosts/${hostId}`, payload: { criticality } });
        expect((await patch('critical')).statusCode).toBe(200);
        const critical = await riskOf(hostId);
        expect(critical.scores).toHaveLength(medium.scores.length);
        for (const [i, score] of critical.scores.entries()) {
          expect(score).toBeGreaterThan(medium.scores[i] ?? Infinity);
        }
        expect(critical.max).toBe(Math.max(...critical.scores));

        expect((await patch('low')).statusCode).toBe(200);
        const low = await riskOf(hostId);
        for (const [i, score] of low.scores.entries()) {
          expect(score).toBeLessThan(medium.scores[i] ?? -Infinity);
        }
        expect(low.max).toBe(Math.max(...low.scores));

        // Back to where it was: the same scores as before any edit.
        expect((await patch('medium')).statusCode).toBe(200);
        expect(await riskOf(hostId)).toEqual(medium);
      });
    },
  );
}
