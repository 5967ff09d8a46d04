import { readFileSync } from 'node:fs';
import {
  bindRole,
  createApiToken,
  createHost,
  createNodeKey,
  createUser,
  findApiTokenByHash,
  type Role,
  setUserDisabled,
} from '@patchwarden/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expandGroupBindings,
  HOST_SCOPED,
  PERMISSIONS,
  type Permission,
  permissionScope,
  ROLE_PERMISSIONS,
  type RoleBinding,
  SCOPE_FREE,
} from '../src/auth/permissions.js';
import { generateSecret, hashSecret } from '../src/auth/secrets.js';
import { listRoutes, type RouteRecord } from '../src/plugins/auth.js';
import { createTestServer, type TestServer, testDialects } from './harness.js';

// The RBAC matrix: every route of the live app, called with every role's token. Expectations come
// from ROLE_PERMISSIONS; a hand-written table below pins the ones that matter most, so a change to
// ROLE_PERMISSIONS that widens a role cannot pass silently.

const MISSING_ID = 'rbac-missing-id';

/** Public routes under /api/v1 besides the agent protocol (which checks its own secrets). */
const PUBLIC_API_ROUTES = new Set(['GET /api/v1/openapi.json']);

interface Subject {
  name: string;
  bindings: RoleBinding[];
  token: string;
  userId: string;
}

function urlOf(route: RouteRecord): string {
  return route.url.replace(/:[A-Za-z0-9_]+/g, MISSING_ID).replace(/\*$/, MISSING_ID);
}

function hasBody(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

describe('auth/permissions', () => {
  it.each`
    role          | permission                | granted
    ${'admin'}    | ${'users:write'}          | ${true}
    ${'admin'}    | ${'audit:read'}           | ${true}
    ${'operator'} | ${'hosts:write'}          | ${true}
    ${'operator'} | ${'jobs:write'}           | ${true}
    ${'operator'} | ${'users:write'}          | ${false}
    ${'operator'} | ${'users:read'}           | ${false}
    ${'operator'} | ${'deployments:approve'}  | ${false}
    ${'operator'} | ${'audit:read'}           | ${false}
    ${'operator'} | ${'groups:write'}         | ${false}
    ${'approver'} | ${'deployments:approve'}  | ${true}
    ${'approver'} | ${'hosts:write'}          | ${false}
    ${'approver'} | ${'jobs:write'}           | ${false}
    ${'approver'} | ${'feeds:write'}          | ${false}
    ${'auditor'}  | ${'audit:read'}           | ${true}
    ${'auditor'}  | ${'reports:read'}         | ${true}
    ${'auditor'}  | ${'hosts:write'}          | ${false}
    ${'auditor'}  | ${'users:write'}          | ${false}
    ${'auditor'}  | ${'deployments:approve'}  | ${false}
    ${'auditor'}  | ${'enroll-secrets:write'} | ${false}
  `('$role holds $permission: $granted', ({ role, permission, granted }) => {
    expect(ROLE_PERMISSIONS[role as Role].includes(permission as Permission)).toBe(granted);
  });

  it('gives admin every permission and no role a permission that does not exist', () => {
    expect([...ROLE_PERMISSIONS.admin].sort()).toEqual([...PERMISSIONS].sort());
    for (const permissions of Object.values(ROLE_PERMISSIONS)) {
      for (const permission of permissions) {
        expect(PERMISSIONS).toContain(permission);
      }
    }
  });

  it('scopes host permissions to bound groups, grants scope-free ones fully and others not at all', () => {
    const scoped: RoleBinding[] = [
      { role: 'operator', groupId: 'g2' },
      { role: 'operator', groupId: 'g1' },
      { role: 'approver', groupId: 'g1' },
    ];

    expect(permissionScope(scoped, 'hosts:write')).toEqual(['g1', 'g2']);
    expect(permissionScope(scoped, 'deployments:approve')).toEqual(['g1']);
    expect(permissionScope(scoped, 'feeds:sync')).toBe('none');
    expect(permissionScope(scoped, 'users:read')).toBe('none');
    expect(permissionScope(scoped, 'advisories:read')).toBe('all');
    expect(permissionScope(scoped, 'tokens:write')).toBe('all');
    expect(permissionScope([...scoped, { role: 'auditor', groupId: null }], 'hosts:read')).toBe('all');
    expect(permissionScope([...scoped, { role: 'auditor', groupId: null }], 'hosts:write')).toEqual([
      'g1',
      'g2',
    ]);
    expect(permissionScope([], 'hosts:read')).toBe('none');
    expect([...SCOPE_FREE].filter((p) => HOST_SCOPED.has(p))).toEqual([]);
  });

  it('extends a group binding to the subgroups below it', () => {
    const groups = [
      { id: 'eu', parentId: null },
      { id: 'eu-web', parentId: 'eu' },
      { id: 'eu-web-blue', parentId: 'eu-web' },
      { id: 'us', parentId: null },
      { id: 'loop-a', parentId: 'loop-b' },
      { id: 'loop-b', parentId: 'loop-a' },
    ];

    const expanded = expandGroupBindings(
      [
        { role: 'operator', groupId: 'eu-web' },
        { role: 'auditor', groupId: null },
        { role: 'approver', groupId: 'loop-a' },
      ],
      groups,
    );

    expect(permissionScope(expanded, 'hosts:write')).toEqual(['eu-web', 'eu-web-blue']);
    expect(permissionScope(expanded, 'hosts:read')).toBe('all');
    expect(permissionScope(expanded, 'deployments:approve')).toEqual(['loop-a', 'loop-b']);
  });
});

/** The roles → permissions table of docs/security.md, as generated from the code. */
function permissionsTable(): string {
  const roles = Object.keys(ROLE_PERMISSIONS) as Role[];
  const lines = [
    `| Permission | ${roles.join(' | ')} | Role bound to a group grants it |`,
    `|---|${roles.map(() => ':-:').join('|')}|---|`,
  ];
  for (const permission of PERMISSIONS) {
    const scope = HOST_SCOPED.has(permission)
      ? "for that group's hosts"
      : SCOPE_FREE.has(permission)
        ? 'everywhere'
        : 'no';
    const cells = roles.map((role) => (ROLE_PERMISSIONS[role].includes(permission) ? 'yes' : ''));
    lines.push(`| \`${permission}\` | ${cells.join(' | ')} | ${scope} |`);
  }
  return lines.join('\n');
}

describe('docs/security.md', () => {
  it('shows the roles → permissions table exactly as the code defines it', () => {
    const doc = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');
    const documented = /<!-- permissions-table:start -->\n([\s\S]*?)\n<!-- permissions-table:end -->/.exec(
      doc,
    )?.[1];

    expect(documented).toBe(permissionsTable());
  });
});

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `server/rbac matrix on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let server: TestServer;
      let subjects: Subject[];
      let routes: RouteRecord[];
      let groupId: string;

      async function subject(name: string, role: Role, group: string | null = null): Promise<Subject> {
        const token = await server.tokenFor(role, group);
        return { name, bindings: [{ role, groupId: group }], token, userId: await userIdOf(token) };
      }

      async function userIdOf(token: string): Promise<string> {
        const found = await findApiTokenByHash(server.store.db, hashSecret(token));
        if (found === null) {
          throw new Error('the test token is not stored');
        }
        return found.user.id;
      }

      function call(route: RouteRecord, token: string | null) {
        return server.request({
          method: route.method as 'GET',
          url: urlOf(route),
          token,
          ...(hasBody(route.method) ? { payload: {} } : {}),
        });
      }

      beforeAll(async () => {
        server = await createTestServer(dialect);
        const group = await server.request({
          method: 'POST',
          url: '/api/v1/groups',
          payload: { name: 'rbac-g' },
        });
        groupId = group.json().id;
        subjects = [
          {
            name: 'admin',
            bindings: [{ role: 'admin', groupId: null }],
            token: server.adminToken,
            userId: await userIdOf(server.adminToken),
          },
          await subject('operator', 'operator'),
          await subject('approver', 'approver'),
          await subject('auditor', 'auditor'),
          await subject('operator@group', 'operator', groupId),
          await subject('auditor@group', 'auditor', groupId),
        ];
        routes = listRoutes(server.app).filter((r) => r.url.startsWith('/api/v1/') && r.method !== 'HEAD');
      });
      afterAll(async () => {
        await server?.close();
      });

      it('sees the routes of users, tokens, audit and groups in the live route table', () => {
        const names = new Set(routes.map((r) => `${r.method} ${r.url}`));

        for (const expected of [
          'GET /api/v1/users',
          'POST /api/v1/users',
          'POST /api/v1/users/:id/roles',
          'POST /api/v1/tokens',
          'DELETE /api/v1/tokens/:id',
          'GET /api/v1/audit',
          'GET /api/v1/audit/verify',
          'POST /api/v1/groups',
          'DELETE /api/v1/groups/:id',
        ]) {
          expect(names).toContain(expected);
        }
      });

      it('finds a permission declared on every /api/v1 route but the agent protocol and the OpenAPI document', () => {
        const undeclared = routes
          .filter((r) => r.permission === null)
          .filter((r) => {
            const name = `${r.method} ${r.url}`;
            const isAgentProtocol = r.url.startsWith('/api/v1/agent/');
            return !(isAgentProtocol || (r.auth === 'public' && PUBLIC_API_ROUTES.has(name)));
          })
          .map((r) => `${r.method} ${r.url} (${r.auth})`);

        expect(undeclared).toEqual([]);
        expect(routes.filter((r) => r.auth === 'agent' && !r.url.startsWith('/api/v1/agent/'))).toEqual([]);
      });

      it('lets each role through exactly the routes its permissions allow, and gives the rest 403 FORBIDDEN', async () => {
        const mismatches: string[] = [];
        let allowedCalls = 0;
        let forbiddenCalls = 0;
        for (const route of routes.filter((r) => r.permission !== null)) {
          const permission = route.permission as Permission;
          for (const s of subjects) {
            const isAllowed = permissionScope(s.bindings, permission) !== 'none';
            const response = await call(route, s.token);
            const code = response.statusCode >= 400 ? response.json().error?.code : undefined;
            if (isAllowed) {
              allowedCalls++;
              if (response.statusCode === 401 || response.statusCode === 403) {
                mismatches.push(
                  `${s.name} ${route.method} ${route.url} [${permission}]: ${response.statusCode} ${code}, want allowed`,
                );
              }
            } else {
              forbiddenCalls++;
              if (response.statusCode !== 403 || code !== 'FORBIDDEN') {
                mismatches.push(
                  `${s.name} ${route.method} ${route.url} [${permission}]: ${response.statusCode} ${code}, want 403 FORBIDDEN`,
                );
              }
            }
          }
        }

        expect(mismatches).toEqual([]);
        expect(allowedCalls).toBeGreaterThan(0);
        expect(forbiddenCalls).toBeGreaterThan(0);
        for (const s of subjects.filter((x) => x.name !== 'admin')) {
          expect(
            routes.some((r) => r.permission !== null && permissionScope(s.bindings, r.permission) === 'none'),
            `${s.name} is forbidden some route`,
          ).toBe(true);
        }
      });

      it('answers no permission-checked route with a 5xx for a missing id or an empty body', async () => {
        const failures: string[] = [];
        for (const route of routes.filter((r) => r.permission !== null)) {
          const response = await call(route, server.adminToken);
          if (response.statusCode >= 500) {
            failures.push(
              `${route.method} ${route.url}: ${response.statusCode} ${response.body.slice(0, 200)}`,
            );
          }
        }

        expect(failures).toEqual([]);
      });

      it('answers every permission route without a token with 401 UNAUTHENTICATED, and bad tokens with their codes', async () => {
        const user = await createUser(server.store.db, { email: 'rbac-dead@test' }, server.clock.now);
        await bindRole(server.store.db, { userId: user.id, role: 'admin' }, server.clock.now);
        const revoked = generateSecret('token');
        const expired = generateSecret('token');
        const revokedRow = await createApiToken(
          server.store.db,
          { userId: user.id, name: 'revoked', tokenHash: hashSecret(revoked), expiresAt: null },
          server.clock.now,
        );
        await createApiToken(
          server.store.db,
          {
            userId: user.id,
            name: 'expired',
            tokenHash: hashSecret(expired),
            expiresAt: new Date(server.clock.now.getTime() - 1),
          },
          server.clock.now,
        );
        await server.request({ method: 'DELETE', url: `/api/v1/tokens/${revokedRow.id}` });
        const host = await createHost(server.store.db, { name: 'rbac-host' }, server.clock.now);
        const nodeKey = generateSecret('node-key');
        await createNodeKey(
          server.store.db,
          { hostId: host.id, keyHash: hashSecret(nodeKey) },
          server.clock.now,
        );
        const leaver = await createUser(server.store.db, { email: 'rbac-leaver@test' }, server.clock.now);
        await bindRole(server.store.db, { userId: leaver.id, role: 'admin' }, server.clock.now);
        const disabled = generateSecret('token');
        await createApiToken(
          server.store.db,
          { userId: leaver.id, name: 'leaver', tokenHash: hashSecret(disabled), expiresAt: null },
          server.clock.now,
        );
        await setUserDisabled(server.store.db, leaver.id, server.clock.now);
        const cases: [string | null, number, string][] = [
          [disabled, 401, 'USER_DISABLED'],
          [null, 401, 'UNAUTHENTICATED'],
          [revoked, 401, 'TOKEN_REVOKED'],
          [expired, 401, 'TOKEN_EXPIRED'],
          [generateSecret('token'), 401, 'INVALID_TOKEN'],
          [nodeKey, 401, 'INVALID_TOKEN'],
        ];

        const mismatches: string[] = [];
        for (const route of routes.filter((r) => r.permission !== null)) {
          for (const [token, status, code] of cases) {
            const response = await call(route, token);
            const got = `${response.statusCode} ${response.json().error?.code}`;
            if (got !== `${status} ${code}`) {
              mismatches.push(`${route.method} ${route.url} with ${code}: ${got}`);
            }
          }
        }
        for (const route of routes.filter((r) => r.auth === 'agent')) {
          const response = await call(route, server.adminToken);
          if (response.statusCode !== 401) {
            mismatches.push(`${route.method} ${route.url} (agent) with a user token: ${response.statusCode}`);
          }
        }

        expect(mismatches).toEqual([]);
      });

      it.each`
        who                 | method    | url                                 | body                                                 | status | code
        ${'auditor'}        | ${'GET'}  | ${'/api/v1/audit'}                  | ${undefined}                                         | ${200} | ${undefined}
        ${'auditor'}        | ${'GET'}  | ${'/api/v1/audit/verify'}           | ${undefined}                                         | ${200} | ${undefined}
        ${'auditor'}        | ${'GET'}  | ${'/api/v1/users'}                  | ${undefined}                                         | ${200} | ${undefined}
        ${'auditor'}        | ${'POST'} | ${'/api/v1/tokens'}                 | ${{ name: 'mine' }}                                  | ${201} | ${undefined}
        ${'auditor'}        | ${'POST'} | ${'/api/v1/tokens'}                 | ${{ name: 'theirs', userId: '$operator' }}           | ${403} | ${'FORBIDDEN'}
        ${'auditor'}        | ${'POST'} | ${'/api/v1/users'}                  | ${{ email: 'x@test', roles: [] }}                    | ${403} | ${'FORBIDDEN'}
        ${'auditor'}        | ${'POST'} | ${'/api/v1/groups'}                 | ${{ name: 'auditor-group' }}                         | ${403} | ${'FORBIDDEN'}
        ${'operator'}       | ${'POST'} | ${'/api/v1/users'}                  | ${{ email: 'y@test', roles: [] }}                    | ${403} | ${'FORBIDDEN'}
        ${'operator'}       | ${'GET'}  | ${'/api/v1/users'}                  | ${undefined}                                         | ${403} | ${'FORBIDDEN'}
        ${'operator'}       | ${'GET'}  | ${'/api/v1/audit'}                  | ${undefined}                                         | ${403} | ${'FORBIDDEN'}
        ${'operator'}       | ${'GET'}  | ${'/api/v1/tokens?userId=$auditor'} | ${undefined}                                         | ${403} | ${'FORBIDDEN'}
        ${'operator'}       | ${'GET'}  | ${'/api/v1/groups'}                 | ${undefined}                                         | ${200} | ${undefined}
        ${'approver'}       | ${'POST'} | ${'/api/v1/groups'}                 | ${{ name: 'approver-group' }}                        | ${403} | ${'FORBIDDEN'}
        ${'approver'}       | ${'GET'}  | ${'/api/v1/audit'}                  | ${undefined}                                         | ${403} | ${'FORBIDDEN'}
        ${'approver'}       | ${'POST'} | ${'/api/v1/users/$approver/roles'}  | ${{ role: 'admin' }}                                 | ${403} | ${'FORBIDDEN'}
        ${'operator@group'} | ${'GET'}  | ${'/api/v1/audit'}                  | ${undefined}                                         | ${403} | ${'FORBIDDEN'}
        ${'operator@group'} | ${'POST'} | ${'/api/v1/tokens'}                 | ${{ name: 'scoped' }}                                | ${201} | ${undefined}
        ${'auditor@group'}  | ${'GET'}  | ${'/api/v1/audit'}                  | ${undefined}                                         | ${403} | ${'FORBIDDEN'}
        ${'admin'}          | ${'POST'} | ${'/api/v1/users'}                  | ${{ email: 'z@test', roles: [{ role: 'auditor' }] }} | ${201} | ${undefined}
        ${'admin'}          | ${'POST'} | ${'/api/v1/tokens'}                 | ${{ name: 'for-op', userId: '$operator' }}           | ${201} | ${undefined}
      `('pinned: $who $method $url is $status $code', async ({ who, method, url, body, status, code }) => {
        const byName = new Map(subjects.map((s) => [s.name, s]));
        const resolve = (text: string) =>
          text.replace(/\$([a-z@]+)/g, (_m, name: string) => byName.get(name)?.userId ?? name);
        const payload = body === undefined ? undefined : JSON.parse(resolve(JSON.stringify(body)));

        const response = await server.request({
          method,
          url: resolve(url),
          token: byName.get(who)?.token ?? null,
          ...(payload === undefined ? {} : { payload }),
        });

        expect([
          response.statusCode,
          response.statusCode >= 400 ? response.json().error.code : undefined,
        ]).toEqual([status, code]);
      });

      it('shows a group-scoped operator only the groups it is bound to, with their subgroups', async () => {
        const child = await server.request({
          method: 'POST',
          url: '/api/v1/groups',
          payload: { name: 'rbac-g-child', parentId: groupId },
        });
        await server.request({ method: 'POST', url: '/api/v1/groups', payload: { name: 'rbac-other' } });
        const scoped = subjects.find((s) => s.name === 'operator@group');

        const seen = await server.request({
          method: 'GET',
          url: '/api/v1/groups',
          token: scoped?.token ?? null,
        });
        const other = await server.request({
          method: 'GET',
          url: '/api/v1/groups',
          token: server.adminToken,
        });

        expect(seen.json().groups.map((g: { name: string }) => g.name)).toEqual(['rbac-g', 'rbac-g-child']);
        expect(child.statusCode).toBe(201);
        expect(other.json().groups.map((g: { name: string }) => g.name)).toContain('rbac-other');
      });
    },
  );
}
