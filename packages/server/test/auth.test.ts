import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../src/auth/secrets.js';
import { BOOTSTRAP_ADMIN_EMAIL } from '../src/bootstrap.js';
import { loadConfig } from '../src/config.js';
import { TOKEN_MAX_TTL_DAYS } from '../src/routes/tokens/index.js';
import { startServer } from '../src/server.js';
import { createTestServer, type TestServer, testDialects } from './harness.js';

const DAY_MS = 86_400_000;

async function getJson(url: string, token: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json() };
}

describe('server/auth bootstrap', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'patchwarden-auth-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates an admin and a one-time token on the first start only', async () => {
    const flags = { port: 0, dataDir: join(dataDir, 'random'), logLevel: 'silent' };
    const first = await startServer(loadConfig({ flags }));
    const token = first.bootstrapToken;
    const users = token === null ? null : await getJson(`${first.url}/api/v1/users`, token);
    await first.close();
    const second = await startServer(loadConfig({ flags }));
    const again = token === null ? null : await getJson(`${second.url}/api/v1/users`, token);
    await second.close();

    expect(token).toMatch(/^pwt_[A-Za-z0-9_-]{43}$/);
    expect(users?.status).toBe(200);
    expect(users?.body).toMatchObject({
      users: [{ email: BOOTSTRAP_ADMIN_EMAIL, disabledAt: null, roles: [{ role: 'admin', groupId: null }] }],
    });
    expect(second.bootstrapToken).toBeNull();
    expect(again).toEqual(users);
  });

  it('takes the first token from PATCHWARDEN_BOOTSTRAP_TOKEN and prints none', async () => {
    const chosen = generateSecret('token');
    const config = loadConfig({
      env: { PATCHWARDEN_BOOTSTRAP_TOKEN: chosen },
      flags: { port: 0, dataDir: join(dataDir, 'chosen'), logLevel: 'silent' },
    });
    const running = await startServer(config);
    const ok = await getJson(`${running.url}/api/v1/tokens`, chosen);
    const other = await getJson(`${running.url}/api/v1/tokens`, generateSecret('token'));
    await running.close();

    expect(running.bootstrapToken).toBeNull();
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ tokens: [{ name: 'bootstrap', state: 'active', expiresAt: null }] });
    expect(other).toMatchObject({ status: 401, body: { error: { code: 'INVALID_TOKEN' } } });
  });

  it('refuses a PATCHWARDEN_BOOTSTRAP_TOKEN that is not a strong pwt_ token', () => {
    expect(() => loadConfig({ env: { PATCHWARDEN_BOOTSTRAP_TOKEN: 'pwt_short' } })).toThrow(/bootstrapToken/);
  });
});

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `server/auth tokens and users on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let server: TestServer;
      beforeAll(async () => {
        server = await createTestServer(dialect, { tokenTtlDays: 30 });
      });
      afterAll(async () => {
        await server?.close();
      });

      async function createToken(payload: Record<string, unknown>, token?: string) {
        const response = await server.request({
          method: 'POST',
          url: '/api/v1/tokens',
          payload,
          ...(token === undefined ? {} : { token }),
        });
        return { status: response.statusCode, body: response.json() };
      }

      async function whoAmI(token: string) {
        const response = await server.request({ method: 'GET', url: '/api/v1/tokens', token });
        return [response.statusCode, response.statusCode >= 400 ? response.json().error.code : 'OK'];
      }

      it('creates a token whose secret is shown once, works until it expires, then says TOKEN_EXPIRED', async () => {
        const start = server.clock.now;
        const created = await createToken({ name: 'ci', expiresInDays: 2 });
        const secret = created.body.secret as string;
        const listed = await server.request({ method: 'GET', url: '/api/v1/tokens' });

        expect(created.status).toBe(201);
        expect(secret).toMatch(/^pwt_/);
        expect(created.body.token).toMatchObject({
          name: 'ci',
          state: 'active',
          expiresAt: new Date(start.getTime() + 2 * DAY_MS).toISOString(),
        });
        expect(listed.body).not.toContain(secret);
        expect(listed.body).not.toMatch(/hash/i);
        expect(await whoAmI(secret)).toEqual([200, 'OK']);

        server.clock.advance(2 * DAY_MS);
        expect(await whoAmI(secret)).toEqual([401, 'TOKEN_EXPIRED']);
        const after = await server.request({ method: 'GET', url: '/api/v1/tokens' });
        expect(after.json().tokens.find((t: { id: string }) => t.id === created.body.token.id).state).toBe(
          'expired',
        );
      });

      it('gives a token the configured lifetime by default and refuses lifetimes past the limit', async () => {
        const now = server.clock.now.getTime();
        const byDefault = await createToken({ name: 'default' });
        const at = await createToken({ name: 'at', expiresAt: new Date(now + 10 * DAY_MS).toISOString() });
        const tooLong = await createToken({ name: 'long', expiresInDays: TOKEN_MAX_TTL_DAYS + 1 });
        const tooFar = await createToken({
          name: 'far',
          expiresAt: new Date(now + (TOKEN_MAX_TTL_DAYS + 1) * DAY_MS).toISOString(),
        });
        const past = await createToken({ name: 'past', expiresAt: new Date(now - 1000).toISOString() });
        const both = await createToken({
          name: 'both',
          expiresInDays: 1,
          expiresAt: new Date(now + DAY_MS).toISOString(),
        });
        const noName = await createToken({});

        expect(byDefault.body.token.expiresAt).toBe(new Date(now + 30 * DAY_MS).toISOString());
        expect(at.body.token.expiresAt).toBe(new Date(now + 10 * DAY_MS).toISOString());
        expect([tooLong.status, tooLong.body.error.code]).toEqual([400, 'INVALID_REQUEST']);
        expect([tooFar.status, tooFar.body.error.code]).toEqual([400, 'INVALID_EXPIRY']);
        expect([past.status, past.body.error.code]).toEqual([400, 'INVALID_EXPIRY']);
        expect([both.status, both.body.error.code]).toEqual([400, 'INVALID_EXPIRY']);
        expect([noName.status, noName.body.error.code]).toEqual([400, 'INVALID_REQUEST']);
      });

      it('revokes a token: its next use is 401 TOKEN_REVOKED, a second revoke 409, and both are audited', async () => {
        const created = await createToken({ name: 'to-revoke' });
        const secret = created.body.secret as string;
        const id = created.body.token.id as string;

        const revoked = await server.request({ method: 'DELETE', url: `/api/v1/tokens/${id}` });
        const again = await server.request({ method: 'DELETE', url: `/api/v1/tokens/${id}` });
        const missing = await server.request({ method: 'DELETE', url: '/api/v1/tokens/no-such-token' });
        const audit = await server.request({
          method: 'GET',
          url: `/api/v1/audit?targetType=token&targetId=${id}`,
        });

        expect([revoked.statusCode, revoked.json().state]).toEqual([200, 'revoked']);
        expect(await whoAmI(secret)).toEqual([401, 'TOKEN_REVOKED']);
        expect([again.statusCode, again.json().error.code]).toEqual([409, 'TOKEN_ALREADY_REVOKED']);
        expect([missing.statusCode, missing.json().error.code]).toEqual([404, 'TOKEN_NOT_FOUND']);
        expect(audit.json().entries.map((e: { action: string }) => e.action)).toEqual([
          'token.create',
          'token.revoke',
        ]);
        expect(audit.body).not.toContain(secret);
      });

      it("lets a user manage only their own tokens; users:read sees others', only users:write revokes them", async () => {
        const operator = await server.tokenFor('operator');
        const auditor = await server.tokenFor('auditor');
        const own = await createToken({ name: 'op-own' }, operator);
        const adminMade = await createToken({ name: 'admin-made' });

        const operatorList = await server.request({ method: 'GET', url: '/api/v1/tokens', token: operator });
        const auditorList = await server.request({ method: 'GET', url: '/api/v1/tokens', token: auditor });
        const operatorRevokesAdmin = await server.request({
          method: 'DELETE',
          url: `/api/v1/tokens/${adminMade.body.token.id}`,
          token: operator,
        });
        const auditorRevokesAdmin = await server.request({
          method: 'DELETE',
          url: `/api/v1/tokens/${adminMade.body.token.id}`,
          token: auditor,
        });
        const operatorRevokesOwn = await server.request({
          method: 'DELETE',
          url: `/api/v1/tokens/${own.body.token.id}`,
          token: operator,
        });

        const operatorIds = operatorList.json().tokens.map((t: { userId: string }) => t.userId);
        expect(new Set(operatorIds).size).toBe(1);
        expect(operatorList.json().tokens).toHaveLength(2);
        expect(auditorList.json().tokens.map((t: { id: string }) => t.id)).toContain(adminMade.body.token.id);
        expect([operatorRevokesAdmin.statusCode, operatorRevokesAdmin.json().error.code]).toEqual([
          404,
          'TOKEN_NOT_FOUND',
        ]);
        expect([auditorRevokesAdmin.statusCode, auditorRevokesAdmin.json().error.code]).toEqual([
          403,
          'FORBIDDEN',
        ]);
        expect(operatorRevokesOwn.statusCode).toBe(200);
      });

      it("lets an admin mint a token for another user that carries that user's roles, not the admin's", async () => {
        const user = await server.request({
          method: 'POST',
          url: '/api/v1/users',
          payload: { email: 'Approver@Example.com', displayName: 'Ann', roles: [{ role: 'approver' }] },
        });
        const userId = user.json().id as string;
        const minted = await createToken({ name: 'for-ann', userId });

        const canApprove = await server.request({
          method: 'GET',
          url: '/api/v1/advisories',
          token: minted.body.secret,
        });
        const cannotAdmin = await server.request({
          method: 'GET',
          url: '/api/v1/users',
          token: minted.body.secret,
        });
        const unknownUser = await createToken({ name: 'x', userId: 'no-such-user' });

        expect(user.statusCode).toBe(201);
        expect(user.json()).toMatchObject({ email: 'approver@example.com', displayName: 'Ann' });
        expect(minted.body.token.userId).toBe(userId);
        expect(canApprove.statusCode).toBe(200);
        expect([cannotAdmin.statusCode, cannotAdmin.json().error.code]).toEqual([403, 'FORBIDDEN']);
        expect([unknownUser.status, unknownUser.body.error.code]).toEqual([404, 'USER_NOT_FOUND']);
      });

      it('applies role changes to existing tokens at once, and refuses duplicates and unknown groups', async () => {
        const created = await server.request({
          method: 'POST',
          url: '/api/v1/users',
          payload: { email: 'grow@example.com', roles: [] },
        });
        const userId = created.json().id as string;
        const secret = (await createToken({ name: 'grow', userId })).body.secret as string;
        const before = await server.request({ method: 'GET', url: '/api/v1/audit', token: secret });

        const granted = await server.request({
          method: 'POST',
          url: `/api/v1/users/${userId}/roles`,
          payload: { role: 'auditor' },
        });
        const during = await server.request({ method: 'GET', url: '/api/v1/audit', token: secret });
        const duplicate = await server.request({
          method: 'POST',
          url: `/api/v1/users/${userId}/roles`,
          payload: { role: 'auditor' },
        });
        const badGroup = await server.request({
          method: 'POST',
          url: `/api/v1/users/${userId}/roles`,
          payload: { role: 'operator', groupId: 'no-such-group' },
        });
        const badRole = await server.request({
          method: 'POST',
          url: `/api/v1/users/${userId}/roles`,
          payload: { role: 'root' },
        });
        const bindingId = granted.json().roles[0].id as string;
        const revoked = await server.request({
          method: 'DELETE',
          url: `/api/v1/users/${userId}/roles/${bindingId}`,
        });
        const after = await server.request({ method: 'GET', url: '/api/v1/audit', token: secret });

        expect([before.statusCode, before.json().error.code]).toEqual([403, 'FORBIDDEN']);
        expect(granted.statusCode).toBe(201);
        expect(during.statusCode).toBe(200);
        expect([duplicate.statusCode, duplicate.json().error.code]).toEqual([409, 'ROLE_BINDING_EXISTS']);
        expect([badGroup.statusCode, badGroup.json().error.code]).toEqual([404, 'GROUP_NOT_FOUND']);
        expect([badRole.statusCode, badRole.json().error.code]).toEqual([400, 'INVALID_REQUEST']);
        expect([revoked.statusCode, revoked.json().roles]).toEqual([200, []]);
        expect([after.statusCode, after.json().error.code]).toEqual([403, 'FORBIDDEN']);
      });

      it("stops a disabled user's tokens with USER_DISABLED and never disables the last admin", async () => {
        const created = await server.request({
          method: 'POST',
          url: '/api/v1/users',
          payload: { email: 'leaver@example.com', roles: [{ role: 'operator' }] },
        });
        const userId = created.json().id as string;
        const secret = (await createToken({ name: 'leaver', userId })).body.secret as string;
        const adminId = (await server.request({ method: 'GET', url: '/api/v1/users?limit=1' })).json()
          .users[0].id as string;

        const disabled = await server.request({ method: 'POST', url: `/api/v1/users/${userId}/disable` });
        const whileDisabled = await whoAmI(secret);
        const mintForDisabled = await createToken({ name: 'x', userId });
        await server.request({ method: 'POST', url: `/api/v1/users/${userId}/enable` });
        const afterEnable = await whoAmI(secret);
        const lastAdmin = await server.request({ method: 'POST', url: `/api/v1/users/${adminId}/disable` });
        const adminBinding = (await server.request({ method: 'GET', url: `/api/v1/users/${adminId}` })).json()
          .roles[0].id as string;
        const unbindLast = await server.request({
          method: 'DELETE',
          url: `/api/v1/users/${adminId}/roles/${adminBinding}`,
        });

        expect(disabled.json().disabledAt).toBe(server.clock.now.toISOString());
        expect(whileDisabled).toEqual([401, 'USER_DISABLED']);
        expect([mintForDisabled.status, mintForDisabled.body.error.code]).toEqual([409, 'USER_DISABLED']);
        expect(afterEnable).toEqual([200, 'OK']);
        expect([lastAdmin.statusCode, lastAdmin.json().error.code]).toEqual([409, 'LAST_ADMIN']);
        expect([unbindLast.statusCode, unbindLast.json().error.code]).toEqual([409, 'LAST_ADMIN']);
        expect(await whoAmI(server.adminToken)).toEqual([200, 'OK']);
        const adminAudit = await server.request({ method: 'GET', url: `/api/v1/audit?targetId=${adminId}` });
        const leaverAudit = await server.request({ method: 'GET', url: `/api/v1/audit?targetId=${userId}` });
        expect(adminAudit.json().entries).toEqual([]);
        expect(leaverAudit.json().entries.map((e: { action: string }) => e.action)).toEqual([
          'user.create',
          'user.disable',
          'user.enable',
        ]);
      });

      it.each`
        header                      | code
        ${undefined}                | ${'UNAUTHENTICATED'}
        ${'Basic YWRtaW46YWRtaW4='} | ${'UNAUTHENTICATED'}
        ${'Bearer'}                 | ${'UNAUTHENTICATED'}
        ${'Bearer not-a-token'}     | ${'INVALID_TOKEN'}
      `('answers Authorization $header with 401 $code', async ({ header, code }) => {
        const response = await server.request({
          method: 'GET',
          url: '/api/v1/tokens',
          token: null,
          headers: header === undefined ? {} : { authorization: header },
        });

        expect([response.statusCode, response.json().error.code]).toEqual([401, code]);
      });

      it('pages the audit log by seq, filters it, and verifies its chain', async () => {
        const all = await server.request({ method: 'GET', url: '/api/v1/audit?limit=1000' });
        const first = await server.request({ method: 'GET', url: '/api/v1/audit?limit=2' });
        const second = await server.request({
          method: 'GET',
          url: `/api/v1/audit?limit=2&after=${first.json().nextCursor}`,
        });
        const creates = await server.request({ method: 'GET', url: '/api/v1/audit?action=user.create' });
        const verify = await server.request({ method: 'GET', url: '/api/v1/audit/verify' });
        const badLimit = await server.request({ method: 'GET', url: '/api/v1/audit?limit=5000' });

        const seqs = all.json().entries.map((e: { seq: number }) => e.seq);
        expect(seqs.length).toBeGreaterThan(4);
        expect(first.json().entries.map((e: { seq: number }) => e.seq)).toEqual(seqs.slice(0, 2));
        expect(second.json().entries.map((e: { seq: number }) => e.seq)).toEqual(seqs.slice(2, 4));
        expect(new Set(creates.json().entries.map((e: { action: string }) => e.action))).toEqual(
          new Set(['user.create']),
        );
        expect(verify.json()).toEqual({ isIntact: true, count: seqs.length });
        expect([badLimit.statusCode, badLimit.json().error.code]).toEqual([400, 'INVALID_REQUEST']);
      });

      it('creates nested host groups, refuses a taken name and deleting a group with subgroups', async () => {
        const parent = await server.request({
          method: 'POST',
          url: '/api/v1/groups',
          payload: { name: 'prod', description: 'production' },
        });
        const child = await server.request({
          method: 'POST',
          url: '/api/v1/groups',
          payload: { name: 'prod-db', parentId: parent.json().id },
        });
        const taken = await server.request({
          method: 'POST',
          url: '/api/v1/groups',
          payload: { name: 'prod' },
        });
        const orphan = await server.request({
          method: 'POST',
          url: '/api/v1/groups',
          payload: { name: 'orphan', parentId: 'no-such-group' },
        });
        const notEmpty = await server.request({
          method: 'DELETE',
          url: `/api/v1/groups/${parent.json().id}`,
        });
        const deleted = await server.request({ method: 'DELETE', url: `/api/v1/groups/${child.json().id}` });
        const gone = await server.request({ method: 'GET', url: `/api/v1/groups/${child.json().id}` });

        expect(parent.json()).toMatchObject({ name: 'prod', description: 'production', parentId: null });
        expect(child.json()).toMatchObject({ name: 'prod-db', parentId: parent.json().id });
        expect([taken.statusCode, taken.json().error.code]).toEqual([409, 'GROUP_EXISTS']);
        expect([orphan.statusCode, orphan.json().error.code]).toEqual([404, 'GROUP_NOT_FOUND']);
        expect([notEmpty.statusCode, notEmpty.json().error.code]).toEqual([409, 'GROUP_NOT_EMPTY']);
        expect(deleted.statusCode).toBe(204);
        expect([gone.statusCode, gone.json().error.code]).toEqual([404, 'GROUP_NOT_FOUND']);
        const audit = await server.request({
          method: 'GET',
          url: `/api/v1/audit?targetType=group&targetId=${child.json().id}`,
        });
        expect(audit.json().entries.map((e: { action: string; actor: string }) => e.action)).toEqual([
          'group.create',
          'group.delete',
        ]);
      });
    },
  );
}
