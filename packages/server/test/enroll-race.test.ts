import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEBIAN_12, image } from './agent-fixture.js';
import { createTestServer, type TestServer, testDialects } from './harness.js';

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `server/enrolment races on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let server: TestServer;
      beforeEach(async () => {
        server = await createTestServer(dialect);
      });
      afterEach(async () => {
        await server?.close();
      });

      it('makes one host of agents enrolling with the same new machine id at the same time', async () => {
        // Different secrets, so the secrets' use counters do not serialise the enrolments.
        const secrets: string[] = [];
        for (let i = 0; i < 6; i++) {
          const created = await server.request({
            method: 'POST',
            url: '/api/v1/enroll-secrets',
            payload: { name: `fleet-${i}` },
          });
          secrets.push(created.json().secret as string);
        }
        const enrol = (i: number) =>
          server.request({
            method: 'POST',
            url: '/api/v1/agent/enroll',
            token: null,
            payload: {
              enrollSecret: secrets[i],
              hostname: `clone-${i}`,
              machineId: 'b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6',
              kernel: '6.1.0-18-amd64',
              agentVersion: '0.1.0',
              inventory: { seq: 0, os: DEBIAN_12, packages: image() },
            },
          });
        const replies = await Promise.all([0, 1, 2, 3, 4, 5].map(enrol));
        expect(replies.map((r) => r.statusCode)).toEqual([201, 201, 201, 201, 201, 201]);
        const hostIds = new Set(replies.map((r) => r.json().hostId as string));
        expect(hostIds.size).toBe(1);
        expect(replies.filter((r) => r.json().isReenrolment === false)).toHaveLength(1);
        const hosts = await server.store.db.selectFrom('hosts').select('id').execute();
        expect(hosts.map((h) => h.id)).toEqual([...hostIds]);
        // Each enrolment revoked the keys before it: exactly one node key is live.
        const keys = await server.store.db
          .selectFrom('node_keys')
          .select('id')
          .where('revoked_at', 'is', null)
          .execute();
        expect(keys).toHaveLength(1);
      });
    },
  );
}
