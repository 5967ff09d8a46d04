import { createHash } from 'node:crypto';
import { PatchwardenError } from '@patchwarden/core';
import type { Kysely } from 'kysely';
import { readJson, readTimestamp, writeTimestamp } from '../codec.js';
import { lockAuditChain, type StoreDialect } from '../dialect.js';
import type { AuditLogTable, Database } from '../schema.js';
import { inTransaction } from '../transaction.js';

/** What happened, by whom, to what. */
export interface NewAuditEntry {
  /** User id, `agent:<hostId>` or `system`; null when unknown. */
  actor: string | null;
  /** Dotted verb, e.g. `rollout.approve`. */
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  /** Never secrets, tokens or inventories. */
  detail?: Record<string, unknown>;
}

export interface AuditEntry {
  seq: number;
  at: Date;
  actor: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  detail: Record<string, unknown>;
  /** The previous entry's hash; null for the first entry. */
  prevHash: string | null;
  /** sha256 (hex) of `prevHash` and this entry's fields (`auditEntryHash`). */
  hash: string;
}

export type AuditChainReport =
  | { isIntact: true; count: number }
  /** `seq` of the first entry whose hash or link does not match. */
  | { isIntact: false; count: number; brokenAt: number };

/**
 * Appends an entry to the hash-chained audit log, with the next `seq`, in one transaction
 * (the caller's when `db` is one, so the entry commits or rolls back with the change it records).
 * Concurrent appends are serialised, so the chain never forks.
 */
export async function appendAuditEntry(
  store: { db: Kysely<Database>; dialect: StoreDialect },
  entry: NewAuditEntry,
  now: Date,
): Promise<AuditEntry> {
  return inTransaction(store.db, async (trx) => {
    await lockAuditChain(trx, store.dialect);
    const tail = await trx
      .selectFrom('audit_log')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    const row = {
      seq: tail === undefined ? 1 : Number(tail.seq) + 1,
      at: writeTimestamp(now),
      actor: entry.actor,
      action: entry.action,
      target_type: entry.targetType ?? null,
      target_id: entry.targetId ?? null,
      detail: JSON.stringify(entry.detail ?? {}),
      prev_hash: tail?.hash ?? null,
    };
    const hash = auditEntryHash(row);
    await trx
      .insertInto('audit_log')
      .values({ ...row, hash })
      .execute();
    return toAuditEntry({ ...row, hash });
  });
}

/** Reads the whole chain in `seq` order and checks every link and hash. */
export async function verifyAuditChain(db: Kysely<Database>): Promise<AuditChainReport> {
  const rows = await db.selectFrom('audit_log').selectAll().orderBy('seq').execute();
  let prevHash: string | null = null;
  let expectedSeq = 1;
  for (const stored of rows) {
    const row = { ...stored, seq: Number(stored.seq), at: writeTimestamp(readTimestamp(stored.at)) };
    if (row.seq !== expectedSeq || row.prev_hash !== prevHash || row.hash !== auditEntryHash(row)) {
      return { isIntact: false, count: rows.length, brokenAt: row.seq };
    }
    prevHash = row.hash;
    expectedSeq++;
  }
  return { isIntact: true, count: rows.length };
}

type HashedFields = Omit<AuditLogTable, 'seq' | 'at' | 'hash'> & { seq: number; at: string };

/** sha256 over the previous hash and a JSON array of the entry's stored fields. */
export function auditEntryHash(row: HashedFields): string {
  const fields = [row.seq, row.at, row.actor, row.action, row.target_type, row.target_id, row.detail];
  return createHash('sha256')
    .update(`${row.prev_hash ?? ''}\n${JSON.stringify(fields)}`)
    .digest('hex');
}

function toAuditEntry(row: HashedFields & { hash: string }): AuditEntry {
  return {
    seq: row.seq,
    at: readTimestamp(row.at),
    actor: row.actor,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    detail: readJson(row.detail, 'audit_log.detail') as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export interface AuditPage {
  /** In ascending `seq` order. */
  entries: AuditEntry[];
  /** Pass as `after` for the next page; null when this page is the last. */
  nextCursor: number | null;
}

export const MAX_AUDIT_PAGE_SIZE = 1000;

/**
 * One page of the audit log in `seq` order after `after` (exclusive), optionally only entries with
 * that `action`, `actor`, `targetType` and `targetId` (exact matches). `limit` 1..1,000 (default
 * 100), else `INVALID_PAGE_SIZE` (400).
 */
export async function listAuditEntries(
  db: Kysely<Database>,
  options: {
    after?: number | null;
    limit?: number;
    action?: string;
    actor?: string;
    targetType?: string;
    targetId?: string;
  } = {},
): Promise<AuditPage> {
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE_SIZE) {
    throw new PatchwardenError(
      'INVALID_PAGE_SIZE',
      `page size must be an integer from 1 to ${MAX_AUDIT_PAGE_SIZE}, got ${limit}`,
      400,
    );
  }
  let query = db
    .selectFrom('audit_log')
    .selectAll()
    .orderBy('seq')
    .limit(limit + 1);
  if (options.after != null) {
    query = query.where('seq', '>', options.after);
  }
  if (options.action !== undefined) {
    query = query.where('action', '=', options.action);
  }
  if (options.actor !== undefined) {
    query = query.where('actor', '=', options.actor);
  }
  if (options.targetType !== undefined) {
    query = query.where('target_type', '=', options.targetType);
  }
  if (options.targetId !== undefined) {
    query = query.where('target_id', '=', options.targetId);
  }
  const rows = await query.execute();
  const entries = rows
    .slice(0, limit)
    .map((row) => toAuditEntry({ ...row, seq: Number(row.seq), at: writeTimestamp(readTimestamp(row.at)) }));
  return { entries, nextCursor: rows.length > limit ? (entries.at(-1)?.seq ?? null) : null };
}
