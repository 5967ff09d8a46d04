import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEBIAN_12 } from './agent-fixture.js';
import { createTestServer, type TestServer, testDialects } from './harness.js';

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `server/enroll-secrets on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let server: TestServer;
      beforeAll(async () => {
        server = await createTestServer(dialect);
        await server.store.db
          .insertInto('host_groups')
          .values({
            id: 'web',
            name: 'web',
            parent_id: null,
            description: null,
            created_at: server.clock.now.toISOString(),
          })
          .execute();
      });
      afterAll(async () => {
        await server?.close();
      });

      function enrol(secret: string, hostname: string) {
        return server.request({
          method: 'POST',
          url: '/api/v1/agent/enroll',
          token: null,
          payload: { enrollSecret: secret, hostname, inventory: { seq: 0, os: DEBIAN_12, packages: [] } },
        });
      }

      it('returns the secret once, lists without it, and enrols hosts into its group up to its max uses', async () => {
        const created = await server.request({
          method: 'POST',
          url: '/api/v1/enroll-secrets',
          payload: { name: 'web fleet', groupId: 'web', maxUses: 1, expiresInDays: 7 },
        });
        const { secret, enrollSecret } = created.json();

        const first = await enrol(secret, 'web-1');
        const second = await enrol(secret, 'web-2');
        const listed = await server.request({ method: 'GET', url: '/api/v1/enroll-secrets' });

        expect(created.statusCode).toBe(201);
        expect(secret).toMatch(/^pwe_/);
        expect(enrollSecret).toMatchObject({
          name: 'web fleet',
          groupId: 'web',
          maxUses: 1,
          useCount: 0,
          state: 'active',
        });
        expect(first.statusCode).toBe(201);
        expect([second.statusCode, second.json().error.code]).toEqual([401, 'ENROLL_SECRET_EXHAUSTED']);
        expect(listed.body).not.toContain(secret);
        expect(
          listed.json().enrollSecrets.find((s: { id: string }) => s.id === enrollSecret.id),
        ).toMatchObject({
          useCount: 1,
          state: 'used-up',
        });
        const host = await server.store.db
          .selectFrom('hosts')
          .select('group_id')
          .where('id', '=', first.json().hostId)
          .executeTakeFirstOrThrow();
        expect(host.group_id).toBe('web');
      });

      it('refuses enrolment with a revoked or expired secret and audits the revocation', async () => {
        const revokedSecret = (
          await server.request({ method: 'POST', url: '/api/v1/enroll-secrets', payload: { name: 'old' } })
        ).json();
        const expiring = (
          await server.request({
            method: 'POST',
            url: '/api/v1/enroll-secrets',
            payload: { name: 'soon', expiresInDays: 1 },
          })
        ).json();

        const revoked = await server.request({
          method: 'DELETE',
          url: `/api/v1/enroll-secrets/${revokedSecret.enrollSecret.id}`,
        });
        const withRevoked = await enrol(revokedSecret.secret, 'x');
        server.clock.advance(2 * 86_400_000);
        const withExpired = await enrol(expiring.secret, 'y');
        const withUnknown = await enrol('pwe_nothing', 'z');
        const missing = await server.request({ method: 'DELETE', url: '/api/v1/enroll-secrets/nope' });

        expect([revoked.statusCode, revoked.json().state]).toEqual([200, 'revoked']);
        expect([withRevoked.statusCode, withRevoked.json().error.code]).toEqual([
          401,
          'ENROLL_SECRET_REVOKED',
        ]);
        expect([withExpired.statusCode, withExpired.json().error.code]).toEqual([
          401,
          'ENROLL_SECRET_EXPIRED',
        ]);
        expect([withUnknown.statusCode, withUnknown.json().error.code]).toEqual([
          401,
          'INVALID_ENROLL_SECRET',
        ]);
        expect([missing.statusCode, missing.json().error.code]).toEqual([404, 'ENROLL_SECRET_NOT_FOUND']);
        const audit = await server.store.db
          .selectFrom('audit_log')
          .select('action')
          .where('target_id', '=', revokedSecret.enrollSecret.id)
          .orderBy('seq')
          .execute();
        expect(audit.map((a) => a.action)).toEqual(['enroll-secret.create', 'enroll-secret.revoke']);
      });

      it('lets an auditor list but not create, and an operator neither', async () => {
        const auditor = await server.tokenFor('auditor');
        const operator = await server.tokenFor('operator');

        const list = await server.request({ method: 'GET', url: '/api/v1/enroll-secrets', token: auditor });
        const create = await server.request({
          method: 'POST',
          url: '/api/v1/enroll-secrets',
          token: auditor,
          payload: { name: 'x' },
        });
        const operatorList = await server.request({
          method: 'GET',
          url: '/api/v1/enroll-secrets',
          token: operator,
        });

        expect(list.statusCode).toBe(200);
        expect([create.statusCode, create.json().error.code]).toEqual([403, 'FORBIDDEN']);
        expect([operatorList.statusCode, operatorList.json().error.code]).toEqual([403, 'FORBIDDEN']);
      });

      it('refuses a secret for a group that does not exist', async () => {
        const response = await server.request({
          method: 'POST',
          url: '/api/v1/enroll-secrets',
          payload: { name: 'x', groupId: 'missing' },
        });

        expect([response.statusCode, response.json().error.code]).toEqual([404, 'GROUP_NOT_FOUND']);
      });
    },
  );
}
