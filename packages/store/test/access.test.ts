import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bindRole,
  countActiveAdmins,
  createApiToken,
  createHost,
  createHostGroup,
  createUser,
  deleteHostGroup,
  findApiTokenByHash,
  getApiToken,
  listApiTokens,
  listHostGroups,
  listRoleBindings,
  listUsers,
  migrateToLatest,
  revokeApiToken,
  setUserDisabled,
  unbindRole,
} from '../src/index.js';
import { type TestStore, testDialects } from './dialects.js';

const now = new Date('2026-11-22T10:00:00.000Z');
const later = new Date('2026-11-22T11:00:00.000Z');

for (const dialect of testDialects()) {
  const title = `store/access on ${dialect.name}${dialect.skipReason ? ` (skipped: ${dialect.skipReason})` : ''}`;

  describe.skipIf(dialect.skipReason !== null)(title, () => {
    let store: TestStore;

    beforeAll(async () => {
      store = await dialect.open();
      await migrateToLatest(store.db);
    });

    afterAll(async () => {
      await store?.dispose();
    });

    it('lists users by email in pages, each with their bindings', async () => {
      const group = await createHostGroup(store.db, { name: 'web' }, now);
      const carol = await createUser(store.db, { email: 'carol@example.com' }, now);
      const alice = await createUser(store.db, { email: 'alice@example.com', displayName: 'Alice' }, now);
      const bob = await createUser(store.db, { email: 'bob@example.com' }, now);
      await bindRole(store.db, { userId: alice.id, role: 'operator', groupId: group.id }, now);
      await bindRole(store.db, { userId: alice.id, role: 'auditor' }, now);

      const first = await listUsers(store.db, { limit: 2 });
      const second = await listUsers(store.db, { after: first.nextCursor, limit: 2 });

      expect(first.users.map((u) => u.email)).toEqual(['alice@example.com', 'bob@example.com']);
      expect(first.nextCursor).toBe('bob@example.com');
      expect(first.users[0]?.bindings.map((b) => [b.role, b.groupId])).toEqual([
        ['auditor', null],
        ['operator', group.id],
      ]);
      expect(first.users[1]?.bindings).toEqual([]);
      expect(second).toEqual({
        users: [{ ...carol, bindings: [] }],
        nextCursor: null,
      });
      expect(bob.displayName).toBe('bob@example.com');
      await expect(listUsers(store.db, { limit: 1001 })).rejects.toMatchObject({ code: 'INVALID_PAGE_SIZE' });
    });

    it('refuses a duplicate binding (also the null-group one), an unknown group and an unknown user', async () => {
      const user = await createUser(store.db, { email: 'dup@example.com' }, now);
      const group = await createHostGroup(store.db, { name: 'db' }, now);
      await bindRole(store.db, { userId: user.id, role: 'operator' }, now);
      await bindRole(store.db, { userId: user.id, role: 'operator', groupId: group.id }, now);

      await expect(bindRole(store.db, { userId: user.id, role: 'operator' }, now)).rejects.toMatchObject({
        code: 'ROLE_BINDING_EXISTS',
        status: 409,
      });
      await expect(
        bindRole(store.db, { userId: user.id, role: 'operator', groupId: group.id }, now),
      ).rejects.toMatchObject({ code: 'ROLE_BINDING_EXISTS' });
      await expect(
        bindRole(store.db, { userId: user.id, role: 'operator', groupId: 'no-such-group' }, now),
      ).rejects.toMatchObject({ code: 'GROUP_NOT_FOUND', status: 404 });
      await expect(bindRole(store.db, { userId: 'nobody', role: 'admin' }, now)).rejects.toMatchObject({
        code: 'USER_NOT_FOUND',
      });
      expect(await listRoleBindings(store.db, user.id)).toHaveLength(2);
    });

    it('unbinds roles and counts only enabled global admins', async () => {
      const before = await countActiveAdmins(store.db);
      const admin = await createUser(store.db, { email: 'root@example.com' }, now);
      const binding = await bindRole(store.db, { userId: admin.id, role: 'admin' }, now);
      const scoped = await createUser(store.db, { email: 'scoped-admin@example.com' }, now);
      const group = await createHostGroup(store.db, { name: 'scoped' }, now);
      await bindRole(store.db, { userId: scoped.id, role: 'admin', groupId: group.id }, now);

      expect(await countActiveAdmins(store.db)).toBe(before + 1);
      const disabled = await setUserDisabled(store.db, admin.id, later);
      expect(disabled?.disabledAt).toEqual(later);
      expect(await countActiveAdmins(store.db)).toBe(before);
      expect((await setUserDisabled(store.db, admin.id, null))?.disabledAt).toBeNull();
      expect(await unbindRole(store.db, binding.id)).toBe(true);
      expect(await unbindRole(store.db, binding.id)).toBe(false);
      expect(await countActiveAdmins(store.db)).toBe(before);
      expect(await setUserDisabled(store.db, 'nobody', later)).toBeNull();
    });

    it('lists tokens without hashes, newest first, and revokes a token once', async () => {
      const user = await createUser(store.db, { email: 'tokens@example.com' }, now);
      const old = await createApiToken(
        store.db,
        { userId: user.id, name: 'old', tokenHash: 'a'.repeat(64), expiresAt: later },
        now,
      );
      const fresh = await createApiToken(
        store.db,
        { userId: user.id, name: 'fresh', tokenHash: 'b'.repeat(64), expiresAt: null },
        later,
      );

      const listed = await listApiTokens(store.db, { userId: user.id });
      const revoked = await revokeApiToken(store.db, old.id, later);

      expect(listed).toEqual([fresh, old]);
      expect(Object.keys(listed[0] ?? {})).not.toContain('tokenHash');
      expect(revoked).toEqual({ ...old, revokedAt: later });
      expect((await findApiTokenByHash(store.db, 'a'.repeat(64)))?.token.revokedAt).toEqual(later);
      await expect(revokeApiToken(store.db, old.id, later)).rejects.toMatchObject({
        code: 'TOKEN_ALREADY_REVOKED',
        status: 409,
      });
      expect(await revokeApiToken(store.db, 'no-such-token', later)).toBeNull();
      expect(await getApiToken(store.db, fresh.id)).toEqual(fresh);
      expect((await listApiTokens(store.db)).length).toBeGreaterThanOrEqual(2);
    });

    it('creates, lists and deletes host groups; refuses a taken name, an unknown parent and a non-empty group', async () => {
      const parent = await createHostGroup(store.db, { name: 'eu', description: 'Europe' }, now);
      const child = await createHostGroup(store.db, { name: 'eu-web', parentId: parent.id }, now);
      const user = await createUser(store.db, { email: 'eu-operator@example.com' }, now);
      await bindRole(store.db, { userId: user.id, role: 'operator', groupId: child.id }, now);
      await createHost(store.db, { name: 'web-1', groupId: child.id }, now);

      await expect(createHostGroup(store.db, { name: 'eu' }, now)).rejects.toMatchObject({
        code: 'GROUP_EXISTS',
        status: 409,
      });
      await expect(createHostGroup(store.db, { name: 'x', parentId: 'nope' }, now)).rejects.toMatchObject({
        code: 'GROUP_NOT_FOUND',
      });
      await expect(deleteHostGroup(store.db, parent.id)).rejects.toMatchObject({ code: 'GROUP_NOT_EMPTY' });
      await expect(deleteHostGroup(store.db, child.id)).rejects.toMatchObject({ code: 'GROUP_NOT_EMPTY' });
      expect((await listHostGroups(store.db)).filter((g) => g.name.startsWith('eu'))).toEqual([
        { id: parent.id, name: 'eu', parentId: null, description: 'Europe', createdAt: now },
        { id: child.id, name: 'eu-web', parentId: parent.id, description: null, createdAt: now },
      ]);
      await store.db.deleteFrom('hosts').where('group_id', '=', child.id).execute();
      expect(await deleteHostGroup(store.db, child.id)).toBe(true);
      expect(await listRoleBindings(store.db, user.id)).toEqual([]);
      expect(await deleteHostGroup(store.db, child.id)).toBe(false);
    });
  });
}
