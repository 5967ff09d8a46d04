import { randomUUID } from 'node:crypto';
import { PatchwardenError } from '@patchwarden/core';
import type { Kysely } from 'kysely';
import { readOptionalTimestamp, readTimestamp, writeTimestamp } from '../codec.js';
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

export async function bindRole(
  db: Kysely<Database>,
  input: { userId: string; role: Role; groupId?: string | null },
  now: Date,
): Promise<RoleBindingRecord> {
  const id = randomUUID();
  const groupId = input.groupId ?? null;
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
  return rows.map((row) => ({ id: row.id, userId: row.user_id, role: row.role, groupId: row.group_id }));
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
  const row = await db.selectFrom('node_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
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
