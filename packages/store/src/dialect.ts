import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { type Dialect, type Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { preparedStatementName } from './compiled.js';
import type { Database } from './schema.js';

/** Which database a store runs on. Every difference between the two is a named helper here. */
export type StoreDialect = 'sqlite' | 'postgres';

/** The SQLite file a data directory holds. */
export const SQLITE_FILE_NAME = 'patchwarden.db';

/** The Kysely dialect for a SQLite file under `dataDir`, created if missing, in WAL mode. */
export function createSqliteDialect(dataDir: string): Dialect {
  mkdirSync(dataDir, { recursive: true });
  const database = new SqliteDatabase(join(dataDir, SQLITE_FILE_NAME));
  // WAL lets the dashboard read while a check-in writes; SQLite leaves foreign keys off unless asked.
  database.pragma('journal_mode = WAL');
  // In WAL mode NORMAL syncs at checkpoints, not on every commit: a crash cannot corrupt the
  // database, a power loss may drop the last commits (an agent re-sends its inventory).
  database.pragma('synchronous = NORMAL');
  // A checkpoint copies the WAL's pages into the database file and syncs both; it runs inside the
  // commit that crosses the threshold, blocking the process. At SQLite's default (1,000 pages, 4 MB)
  // a busy server checkpoints every second or so and rewrites the same hot pages (hosts, indexes)
  // each time; at 16,000 pages (64 MB) checkpoints are rarer and each hot page is copied once per
  // checkpoint. The WAL is truncated back to `journal_size_limit` after a checkpoint.
  database.pragma(`wal_autocheckpoint = ${SQLITE_WAL_AUTOCHECKPOINT_PAGES}`);
  database.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  return new SqliteDialect({ database: withStatementCache(database) });
}

/** WAL pages (4 KiB each) after which a commit checkpoints the WAL into the database file. */
export const SQLITE_WAL_AUTOCHECKPOINT_PAGES = 16_000;

/** Prepared statements kept per SQLite database, by SQL text; least recently used go first. */
export const SQLITE_STATEMENT_CACHE_SIZE = 1000;

type SqliteStatement = ReturnType<SqliteDatabase.Database['prepare']>;

/**
 * The database as Kysely's SQLite driver sees it, with `prepare` answered from a cache of prepared
 * statements keyed by SQL text: Kysely prepares every query anew, and preparing (parsing and planning)
 * costs more than running the small indexed statements of a check-in. Safe because the driver runs
 * one statement at a time to completion (`all`/`run` are synchronous); a statement still busy (a
 * streamed query being iterated) is not handed out twice: that caller gets a fresh one.
 */
function withStatementCache(database: SqliteDatabase.Database) {
  const cache = new Map<string, SqliteStatement>();
  return {
    close(): void {
      cache.clear();
      database.close();
    },
    prepare(sql: string): SqliteStatement {
      const cached = cache.get(sql);
      if (cached !== undefined) {
        if (cached.busy) return database.prepare(sql);
        // Most recently used last: re-inserting moves it to the end of the map's order.
        cache.delete(sql);
        cache.set(sql, cached);
        return cached;
      }
      const statement = database.prepare(sql);
      if (cache.size >= SQLITE_STATEMENT_CACHE_SIZE) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}

/**
 * The Kysely dialect for a `postgres://` URL, on a connection pool. A connection that the server
 * drops (a restart, a failover) is an `error` event, which would crash the process if nobody
 * listened: the pool discards that connection and the next query opens a new one, so the error goes to
 * `onPoolError` (default: a process warning) instead.
 */
export function createPostgresDialect(
  url: string,
  onPoolError: (err: Error) => void = warnPoolError,
): Dialect {
  const pool = new pg.Pool({ connectionString: url });
  pool.on('error', onPoolError);
  // The pool listens for errors only on idle clients. A server shutdown can also reach a client that
  // is checked out between queries (or holding an advisory lock), and an 'error' event nobody listens
  // to would end the process: every client gets a listener for its whole life. The dead client is
  // not queryable any more, so the pool drops it when it is released.
  pool.on('connect', (client) => {
    client.on('error', onPoolError);
    prepareReusableStatements(client);
  });
  return new PostgresDialect({ pool });
}

/**
 * Runs the reusable statements of a check-in (`compiled.ts`) as named prepared statements on this
 * connection: PostgreSQL parses and plans each once per connection instead of on every run. Kysely
 * calls `query(text, values)`; any other call is passed on as it is.
 */
function prepareReusableStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const named = (...args: unknown[]): unknown => {
    const [text, values] = args;
    if (args.length === 2 && typeof text === 'string' && Array.isArray(values)) {
      const name = preparedStatementName(text);
      if (name !== undefined) return query({ name, text, values });
    }
    return query(...args);
  };
  client.query = named as typeof client.query;
}

function warnPoolError(err: Error): void {
  process.emitWarning(`PostgreSQL dropped an idle connection: ${err.message}`, {
    code: 'PATCHWARDEN_DB_CONNECTION_LOST',
  });
}

// An arbitrary constant naming the audit chain's lock among PostgreSQL advisory locks.
const AUDIT_CHAIN_LOCK_KEY = 0x5057_4155; // 'PWAU'

/**
 * Serialises appends to the audit hash chain until the current transaction ends, so two
 * writers never read the same tail. PostgreSQL: a transaction-scoped advisory lock. SQLite:
 * nothing, as Kysely runs one transaction at a time on its single connection.
 */
export async function lockAuditChain(trx: Kysely<Database>, dialect: StoreDialect): Promise<void> {
  if (dialect === 'postgres') {
    await sql`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY})`.execute(trx);
  }
}

/**
 * Runs `work` only when no other process (replica) holds the lock named `key`, and returns its
 * result; returns `{ acquired: false }` at once when another holds it. PostgreSQL: a session
 * advisory lock on one pooled connection, held for the duration of `work` and released after
 * (also when `work` throws; a crashed process's lock goes with its connection). SQLite serves one
 * process, so the lock is a per-store flag.
 */
export async function withExclusiveLock<T>(
  db: Kysely<Database>,
  dialect: StoreDialect,
  key: number,
  work: () => Promise<T>,
): Promise<{ acquired: true; value: T } | { acquired: false }> {
  if (dialect === 'sqlite') {
    const held = sqliteLocks.get(db) ?? new Set<number>();
    sqliteLocks.set(db, held);
    if (held.has(key)) {
      return { acquired: false };
    }
    held.add(key);
    try {
      return { acquired: true, value: await work() };
    } finally {
      held.delete(key);
    }
  }
  return db.connection().execute(async (connection) => {
    const { rows } = await sql<{
      locked: boolean;
    }>`select pg_try_advisory_lock(${key}) as locked`.execute(connection);
    if (rows[0]?.locked !== true) {
      return { acquired: false } as const;
    }
    try {
      return { acquired: true, value: await work() } as const;
    } finally {
      await sql`select pg_advisory_unlock(${key})`.execute(connection);
    }
  });
}

const sqliteLocks = new WeakMap<Kysely<Database>, Set<number>>();

/**
 * `query` with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas claiming rows at the same time
 * each take different ones instead of waiting; unchanged on SQLite, whose one writer at a time
 * already serialises claims (and which has no row locks).
 */
export function forUpdateSkipLocked<Q extends { forUpdate(): { skipLocked(): unknown } }>(
  query: Q,
  dialect: StoreDialect,
): Q {
  return dialect === 'postgres' ? (query.forUpdate().skipLocked() as Q) : query;
}

/** Lock keys among PostgreSQL advisory locks, one per kind of exclusive scheduled work. */
export const LOCK_KEYS = {
  auditChain: AUDIT_CHAIN_LOCK_KEY,
  feedSync: 0x5057_4653, // 'PWFS'
  jobTimeouts: 0x5057_4a54, // 'PWJT'
} as const;

/**
 * Adds one to the counter `name` (creating it at 1) in the caller's transaction and returns the
 * new value. Readers compare it with the value they last saw.
 */
export async function bumpRevision(trx: Kysely<Database>, name: string): Promise<number> {
  const row = await trx
    .insertInto('revisions')
    .values({ name, value: 1 })
    .onConflict((oc) => oc.column('name').doUpdateSet({ value: sql`revisions.value + 1` }))
    .returning('value')
    .executeTakeFirstOrThrow();
  return Number(row.value);
}

/** The counter `name`, 0 when it was never bumped. */
export async function readRevision(db: Kysely<Database>, name: string): Promise<number> {
  const row = await db.selectFrom('revisions').select('value').where('name', '=', name).executeTakeFirst();
  return row === undefined ? 0 : Number(row.value);
}
