import { randomUUID } from 'node:crypto';
import { PatchwardenError } from '@patchwarden/core';
import type { Insertable, Kysely, Selectable } from 'kysely';
import { readOptionalTimestamp, readTimestamp, writeTimestamp } from '../codec.js';
import type { Database, EnrollmentSecretsTable } from '../schema.js';

// Secrets agents present to enrol. Like API tokens, only the sha256 of a secret reaches this module.

export interface EnrollmentSecret {
  id: string;
  name: string;
  /** The group enrolled hosts join, or null for none. */
  groupId: string | null;
  /** Null for unlimited. */
  maxUses: number | null;
  useCount: number;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export async function createEnrollmentSecret(
  db: Kysely<Database>,
  input: {
    name: string;
    secretHash: string;
    groupId?: string | null;
    expiresAt?: Date | null;
    maxUses?: number | null;
  },
  now: Date,
): Promise<EnrollmentSecret> {
  const groupId = input.groupId ?? null;
  if (groupId !== null) {
    const group = await db
      .selectFrom('host_groups')
      .select('id')
      .where('id', '=', groupId)
      .executeTakeFirst();
    if (group === undefined) {
      throw new PatchwardenError('GROUP_NOT_FOUND', `host group ${groupId} does not exist`, 404);
    }
  }
  const row: Insertable<EnrollmentSecretsTable> & { created_at: string } = {
    id: randomUUID(),
    name: input.name,
    secret_hash: input.secretHash,
    group_id: groupId,
    max_uses: input.maxUses ?? null,
    use_count: 0,
    created_at: writeTimestamp(now),
    expires_at: input.expiresAt == null ? null : writeTimestamp(input.expiresAt),
    revoked_at: null,
  };
  await db.insertInto('enrollment_secrets').values(row).execute();
  return toEnrollmentSecret({
    ...row,
    use_count: 0,
    group_id: groupId,
    max_uses: row.max_uses ?? null,
    expires_at: row.expires_at ?? null,
    revoked_at: null,
  });
}

/** Every enrolment secret, newest first (then by id). */
export async function listEnrollmentSecrets(db: Kysely<Database>): Promise<EnrollmentSecret[]> {
  const rows = await db
    .selectFrom('enrollment_secrets')
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
  return rows.map(toEnrollmentSecret);
}

export async function getEnrollmentSecret(
  db: Kysely<Database>,
  id: string,
): Promise<EnrollmentSecret | null> {
  const row = await db.selectFrom('enrollment_secrets').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? null : toEnrollmentSecret(row);
}

/**
 * Revokes a secret; idempotent (a revoked secret keeps its first revocation time). Returns the
 * secret and whether this call revoked it. Throws `ENROLL_SECRET_NOT_FOUND` (404).
 */
export async function revokeEnrollmentSecret(
  db: Kysely<Database>,
  id: string,
  now: Date,
): Promise<{ secret: EnrollmentSecret; isNewlyRevoked: boolean }> {
  const result = await db
    .updateTable('enrollment_secrets')
    .set({ revoked_at: writeTimestamp(now) })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  const secret = await getEnrollmentSecret(db, id);
  if (secret === null) {
    throw new PatchwardenError('ENROLL_SECRET_NOT_FOUND', `enrolment secret ${id} does not exist`, 404);
  }
  return { secret, isNewlyRevoked: result.numUpdatedRows > 0n };
}

/**
 * Uses a secret for one enrolment, in the caller's transaction: checks it and adds one to its use
 * count atomically (two agents racing for the last use cannot both win). Throws (all 401)
 * `INVALID_ENROLL_SECRET` (unknown), `ENROLL_SECRET_REVOKED`, `ENROLL_SECRET_EXPIRED` or
 * `ENROLL_SECRET_EXHAUSTED` (max uses reached).
 */
export async function consumeEnrollmentSecret(
  trx: Kysely<Database>,
  secretHash: string,
  now: Date,
): Promise<EnrollmentSecret> {
  const row = await trx
    .selectFrom('enrollment_secrets')
    .selectAll()
    .where('secret_hash', '=', secretHash)
    .executeTakeFirst();
  if (row === undefined) {
    throw new PatchwardenError('INVALID_ENROLL_SECRET', 'the enrolment secret is not known', 401);
  }
  const secret = toEnrollmentSecret(row);
  if (secret.revokedAt !== null) {
    throw new PatchwardenError(
      'ENROLL_SECRET_REVOKED',
      `the enrolment secret ${secret.name} was revoked`,
      401,
    );
  }
  if (secret.expiresAt !== null && secret.expiresAt <= now) {
    throw new PatchwardenError(
      'ENROLL_SECRET_EXPIRED',
      `the enrolment secret ${secret.name} expired at ${secret.expiresAt.toISOString()}`,
      401,
    );
  }
  const updated = await trx
    .updateTable('enrollment_secrets')
    .set((eb) => ({ use_count: eb('use_count', '+', 1) }))
    .where('id', '=', secret.id)
    .where((eb) => eb.or([eb('max_uses', 'is', null), eb('use_count', '<', eb.ref('max_uses'))]))
    .executeTakeFirst();
  if (updated.numUpdatedRows === 0n) {
    throw new PatchwardenError(
      'ENROLL_SECRET_EXHAUSTED',
      `the enrolment secret ${secret.name} was used its maximum ${secret.maxUses} times`,
      401,
    );
  }
  return { ...secret, useCount: secret.useCount + 1 };
}

function toEnrollmentSecret(row: Selectable<EnrollmentSecretsTable>): EnrollmentSecret {
  return {
    id: row.id,
    name: row.name,
    groupId: row.group_id,
    maxUses: row.max_uses === null ? null : Number(row.max_uses),
    useCount: Number(row.use_count),
    createdAt: readTimestamp(row.created_at),
    expiresAt: readOptionalTimestamp(row.expires_at),
    revokedAt: readOptionalTimestamp(row.revoked_at),
  };
}
