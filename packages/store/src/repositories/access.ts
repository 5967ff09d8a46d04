import { randomUUID } from 'node:crypto';
import { PatchwardenError } from '@patchwarden/core';
import type { Kysely } from 'kysely';
import { readOptionalTimestamp, readTimestamp, writeTimestamp } from '../codec.js';
import { reusable } from '../compiled.js';
import type { Database, Role } from '../schema.js';

// Users, their role bindings and API tokens. Secrets never reach this module: callers pass the
// sha256 hash of a token, and look tokens up by it.

export interface User {
  id: string;
  email: string;
  displayName: string;
  createdAt: Date;
  disabledAt: Date | null;
}

export interface RoleBindingRecord {
  id: string;
  userId: string;
  role: Role;
  groupId: string | null;
}

export interface ApiToken {
  id: string;
  userId: string;
  name: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** A token found by its hash, with its user and their bindings, whatever its state. */
export interface TokenLookup {
  token: ApiToken;
  user: User;
  bindings: RoleBindingRecord[];
}

export async function createUser(
  db: Kysely<Database>,
  input: { id?: string; email: string; displayName?: string },
  now: Date,
): Promise<User> {
  const id = input.id ?? randomUUID();
  const existing = await db
    .selectFrom('users')
    .select('id')
    .where('email', '=', input.email)
    .executeTakeFirst();
  if (existing !== undefined) {
    throw new PatchwardenError('USER_EXISTS', `a user with email ${input.email} exists`, 409);
  }
  await db
    .insertInto('users')
    .values({
      id,
      email: input.email,
      display_name: input.displayName ?? input.email,
      password_hash: null,
      created_at: writeTimestamp(now),
      disabled_at: null,
    })
    .execute();
  return {
    id,
    email: input.email,
    displayName: input.displayName ?? input.email,
    createdAt: now,
    disabledAt: null,
  };
}

export async function countUsers(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Gives a user a role everywhere (`groupId` null) or for one host group. Throws `USER_NOT_FOUND`,
 * `GROUP_NOT_FOUND` (404) or `ROLE_BINDING_EXISTS` (409: the same role and scope is already bound;
 * checked here because SQL unique indexes treat two null `group_id`s as distinct).
 */
export async function bindRole(
  db: Kysely<Database>,
  input: { userId: string; role: Role; groupId?: string | null },
  now: Date,
): Promise<RoleBindingRecord> {
  const id = randomUUID();
  const groupId = input.groupId ?? null;
  if ((await getUser(db, input.userId)) === null) {
    throw new PatchwardenError('USER_NOT_FOUND', `user ${input.userId} does not exist`, 404);
  }
  if (groupId !== null && (await getHostGroup(db, groupId)) === null) {
    throw new PatchwardenError('GROUP_NOT_FOUND', `host group ${groupId} does not exist`, 404);
  }
  let existing = db
    .selectFrom('role_bindings')
    .select('id')
    .where('user_id', '=', input.userId)
    .where('role', '=', input.role);
  existing =
    groupId === null ? existing.where('group_id', 'is', null) : existing.where('group_id', '=', groupId);
  if ((await existing.executeTakeFirst()) !== undefined) {
    throw new PatchwardenError(
      'ROLE_BINDING_EXISTS',
      `user ${input.userId} already holds ${input.role} ${groupId === null ? 'everywhere' : `for group ${groupId}`}`,
      409,
    );
  }
  await db
    .insertInto('role_bindings')
    .values({
      id,
      user_id: input.userId,
      role: input.role,
      group_id: groupId,
      created_at: writeTimestamp(now),
    })
    .execute();
  return { id, userId: input.userId, role: input.role, groupId };
}

export async function listRoleBindings(db: Kysely<Database>, userId: string): Promise<RoleBindingRecord[]> {
  const rows = await db
    .selectFrom('role_bindings')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('role')
    .orderBy('group_id')
    .execute();
  return rows.map(toBinding);
}

export async function createApiToken(
  db: Kysely<Database>,
  input: { userId: string; name: string; tokenHash: string; expiresAt: Date | null },
  now: Date,
): Promise<ApiToken> {
  const id = randomUUID();
  await db
    .insertInto('api_tokens')
    .values({
      id,
      user_id: input.userId,
      name: input.name,
      token_hash: input.tokenHash,
      created_at: writeTimestamp(now),
      expires_at: input.expiresAt === null ? null : writeTimestamp(input.expiresAt),
      last_used_at: null,
      revoked_at: null,
    })
    .execute();
  return {
    id,
    userId: input.userId,
    name: input.name,
    createdAt: now,
    expiresAt: input.expiresAt,
    lastUsedAt: null,
    revokedAt: null,
  };
}

export async function findApiTokenByHash(
  db: Kysely<Database>,
  tokenHash: string,
): Promise<TokenLookup | null> {
  const row = await db
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select([
      'api_tokens.id as token_id',
      'api_tokens.name',
      'api_tokens.created_at',
      'api_tokens.expires_at',
      'api_tokens.last_used_at',
      'api_tokens.revoked_at',
      'users.id as user_id',
      'users.email',
      'users.display_name',
      'users.created_at as user_created_at',
      'users.disabled_at',
    ])
    .where('api_tokens.token_hash', '=', tokenHash)
    .executeTakeFirst();
  if (row === undefined) {
    return null;
  }
  return {
    token: {
      id: row.token_id,
      userId: row.user_id,
      name: row.name,
      createdAt: readTimestamp(row.created_at),
      expiresAt: readOptionalTimestamp(row.expires_at),
      lastUsedAt: readOptionalTimestamp(row.last_used_at),
      revokedAt: readOptionalTimestamp(row.revoked_at),
    },
    user: {
      id: row.user_id,
      email: row.email,
      displayName: row.display_name,
      createdAt: readTimestamp(row.user_created_at),
      disabledAt: readOptionalTimestamp(row.disabled_at),
    },
    bindings: await listRoleBindings(db, row.user_id),
  };
}

export async function touchApiToken(db: Kysely<Database>, tokenId: string, now: Date): Promise<void> {
  await db
    .updateTable('api_tokens')
    .set({ last_used_at: writeTimestamp(now) })
    .where('id', '=', tokenId)
    .execute();
}

export interface NodeKey {
  id: string;
  hostId: string;
  createdAt: Date;
  revokedAt: Date | null;
}

export async function createNodeKey(
  db: Kysely<Database>,
  input: { hostId: string; keyHash: string },
  now: Date,
): Promise<NodeKey> {
  const id = randomUUID();
  await db
    .insertInto('node_keys')
    .values({
      id,
      host_id: input.hostId,
      key_hash: input.keyHash,
      created_at: writeTimestamp(now),
      revoked_at: null,
    })
    .execute();
  return { id, hostId: input.hostId, createdAt: now, revokedAt: null };
}

export async function findNodeKeyByHash(db: Kysely<Database>, keyHash: string): Promise<NodeKey | null> {
  const [row] = await reusable(
    db,
    'access.node-key-by-hash',
    (slot) => db.selectFrom('node_keys').selectAll().where('key_hash', '=', slot(0)),
    [keyHash],
  );
  return row === undefined
    ? null
    : {
        id: row.id,
        hostId: row.host_id,
        createdAt: readTimestamp(row.created_at),
        revokedAt: readOptionalTimestamp(row.revoked_at),
      };
}

/** Revokes every live node key of a host (re-enrolment, decommissioning); returns how many. */
export async function revokeNodeKeys(db: Kysely<Database>, hostId: string, now: Date): Promise<number> {
  const result = await db
    .updateTable('node_keys')
    .set({ revoked_at: writeTimestamp(now) })
    .where('host_id', '=', hostId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The user with that id, or null. */
export async function getUser(db: Kysely<Database>, id: string): Promise<User | null> {
  const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? null : toUser(row);
}

/** A user with the roles they hold. */
export interface UserWithBindings extends User {
  bindings: RoleBindingRecord[];
}

export interface UserPage {
  /** In ascending email order. */
  users: UserWithBindings[];
  /** Pass as `after` for the next page; null when this page is the last. */
  nextCursor: string | null;
}

export const MAX_USER_PAGE_SIZE = 1000;

/**
 * One page of users in ascending email order, after the email `after` (exclusive), each with their
 * bindings. `limit` 1..1,000 (default 100), else `INVALID_PAGE_SIZE` (400).
 */
export async function listUsers(
  db: Kysely<Database>,
  options: { after?: string | null; limit?: number } = {},
): Promise<UserPage> {
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_USER_PAGE_SIZE) {
    throw new PatchwardenError(
      'INVALID_PAGE_SIZE',
      `page size must be an integer from 1 to ${MAX_USER_PAGE_SIZE}, got ${limit}`,
      400,
    );
  }
  let query = db
    .selectFrom('users')
    .selectAll()
    .orderBy('email')
    .limit(limit + 1);
  if (options.after != null) {
    query = query.where('email', '>', options.after);
  }
  const rows = await query.execute();
  const page = rows.slice(0, limit).map(toUser);
  const bindings =
    page.length === 0
      ? []
      : await db
          .selectFrom('role_bindings')
          .selectAll()
          .where(
            'user_id',
            'in',
            page.map((u) => u.id),
          )
          .orderBy('role')
          .orderBy('group_id')
          .execute();
  const users = page.map((user) => ({
    ...user,
    bindings: bindings.filter((b) => b.user_id === user.id).map(toBinding),
  }));
  return { users, nextCursor: rows.length > limit ? (users.at(-1)?.email ?? null) : null };
}

/**
 * Disables (`disabledAt` a time) or re-enables (null) a user; a disabled user's tokens stop
 * working (`USER_DISABLED`) but stay revocable. Returns the user, or null when there is none.
 */
export async function setUserDisabled(
  db: Kysely<Database>,
  id: string,
  disabledAt: Date | null,
): Promise<User | null> {
  await db
    .updateTable('users')
    .set({ disabled_at: disabledAt === null ? null : writeTimestamp(disabledAt) })
    .where('id', '=', id)
    .execute();
  return getUser(db, id);
}

export async function getRoleBinding(db: Kysely<Database>, id: string): Promise<RoleBindingRecord | null> {
  const row = await db.selectFrom('role_bindings').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? null : toBinding(row);
}

/** Removes a role binding; false when there was none with that id. */
export async function unbindRole(db: Kysely<Database>, id: string): Promise<boolean> {
  const result = await db.deleteFrom('role_bindings').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Users who are not disabled and hold `admin` everywhere: the ones who can repair access. */
export async function countActiveAdmins(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('role_bindings')
    .innerJoin('users', 'users.id', 'role_bindings.user_id')
    .select((eb) => eb.fn.count<number | string>('users.id').distinct().as('n'))
    .where('role_bindings.role', '=', 'admin')
    .where('role_bindings.group_id', 'is', null)
    .where('users.disabled_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function getApiToken(db: Kysely<Database>, id: string): Promise<ApiToken | null> {
  const row = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? null : toApiToken(row);
}

export const MAX_TOKEN_LIST = 1000;

/**
 * API tokens, newest first, of one user (`userId`) or of everyone; never their hashes. At most
 * 1,000 (`MAX_TOKEN_LIST`): the newest ones.
 */
export async function listApiTokens(
  db: Kysely<Database>,
  options: { userId?: string | null } = {},
): Promise<ApiToken[]> {
  let query = db
    .selectFrom('api_tokens')
    .select(['id', 'user_id', 'name', 'created_at', 'expires_at', 'last_used_at', 'revoked_at'])
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(MAX_TOKEN_LIST);
  if (options.userId != null) {
    query = query.where('user_id', '=', options.userId);
  }
  return (await query.execute()).map(toApiToken);
}

/**
 * Revokes a live token. Returns it as revoked; null when there is no such token. Throws
 * `TOKEN_ALREADY_REVOKED` (409) when it was revoked before.
 */
export async function revokeApiToken(db: Kysely<Database>, id: string, now: Date): Promise<ApiToken | null> {
  const result = await db
    .updateTable('api_tokens')
    .set({ revoked_at: writeTimestamp(now) })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  const token = await getApiToken(db, id);
  if (token !== null && result.numUpdatedRows === 0n) {
    throw new PatchwardenError(
      'TOKEN_ALREADY_REVOKED',
      `the API token ${token.name} was revoked at ${token.revokedAt?.toISOString()}`,
      409,
    );
  }
  return token;
}

/** A named set of hosts; roles can be bound to one. `parentId` nests it under another group. */
export interface HostGroup {
  id: string;
  name: string;
  parentId: string | null;
  description: string | null;
  createdAt: Date;
}

/** Throws `GROUP_EXISTS` (409) for a taken name, `GROUP_NOT_FOUND` (404) for an unknown parent. */
export async function createHostGroup(
  db: Kysely<Database>,
  input: { id?: string; name: string; parentId?: string | null; description?: string | null },
  now: Date,
): Promise<HostGroup> {
  const taken = await db
    .selectFrom('host_groups')
    .select('id')
    .where('name', '=', input.name)
    .executeTakeFirst();
  if (taken !== undefined) {
    throw new PatchwardenError('GROUP_EXISTS', `a host group named ${input.name} exists`, 409);
  }
  const parentId = input.parentId ?? null;
  if (parentId !== null && (await getHostGroup(db, parentId)) === null) {
    throw new PatchwardenError('GROUP_NOT_FOUND', `parent host group ${parentId} does not exist`, 404);
  }
  const group: HostGroup = {
    id: input.id ?? randomUUID(),
    name: input.name,
    parentId,
    description: input.description ?? null,
    createdAt: now,
  };
  await db
    .insertInto('host_groups')
    .values({
      id: group.id,
      name: group.name,
      parent_id: group.parentId,
      description: group.description,
      created_at: writeTimestamp(now),
    })
    .execute();
  return group;
}

export async function getHostGroup(db: Kysely<Database>, id: string): Promise<HostGroup | null> {
  const row = await db.selectFrom('host_groups').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? null : toHostGroup(row);
}

/** Every host group, by name. Groups are few (tens to thousands), so there is no paging. */
export async function listHostGroups(db: Kysely<Database>): Promise<HostGroup[]> {
  const rows = await db.selectFrom('host_groups').selectAll().orderBy('name').execute();
  return rows.map(toHostGroup);
}

/**
 * Deletes an empty host group (its role bindings go with it). Returns false when there is none;
 * throws `GROUP_NOT_EMPTY` (409) while hosts or child groups belong to it.
 */
export async function deleteHostGroup(db: Kysely<Database>, id: string): Promise<boolean> {
  const host = await db
    .selectFrom('hosts')
    .select('id')
    .where('group_id', '=', id)
    .limit(1)
    .executeTakeFirst();
  const child = await db
    .selectFrom('host_groups')
    .select('id')
    .where('parent_id', '=', id)
    .limit(1)
    .executeTakeFirst();
  if (host !== undefined || child !== undefined) {
    throw new PatchwardenError(
      'GROUP_NOT_EMPTY',
      `host group ${id} still has ${host === undefined ? 'child groups' : 'hosts'}; move them first`,
      409,
    );
  }
  const result = await db.deleteFrom('host_groups').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

function toUser(row: {
  id: string;
  email: string;
  display_name: string;
  created_at: Date | string;
  disabled_at: Date | string | null;
}): User {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    createdAt: readTimestamp(row.created_at),
    disabledAt: readOptionalTimestamp(row.disabled_at),
  };
}

function toBinding(row: {
  id: string;
  user_id: string;
  role: Role;
  group_id: string | null;
}): RoleBindingRecord {
  return { id: row.id, userId: row.user_id, role: row.role, groupId: row.group_id };
}

function toApiToken(row: {
  id: string;
  user_id: string;
  name: string;
  created_at: Date | string;
  expires_at: Date | string | null;
  last_used_at: Date | string | null;
  revoked_at: Date | string | null;
}): ApiToken {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    createdAt: readTimestamp(row.created_at),
    expiresAt: readOptionalTimestamp(row.expires_at),
    lastUsedAt: readOptionalTimestamp(row.last_used_at),
    revokedAt: readOptionalTimestamp(row.revoked_at),
  };
}

function toHostGroup(row: {
  id: string;
  name: string;
  parent_id: string | null;
  description: string | null;
  created_at: Date | string;
}): HostGroup {
  return {
    id: row.id,
    name: row.name,
    parentId: row.parent_id,
    description: row.description,
    createdAt: readTimestamp(row.created_at),
  };
}
