import { join } from 'node:path';
import { PatchwardenError } from '@patchwarden/core';
import { Kysely, sql } from 'kysely';
import {
  createPostgresDialect,
  createSqliteDialect,
  SQLITE_FILE_NAME,
  type StoreDialect,
} from './dialect.js';
import type { Database } from './schema.js';

export interface StoreOptions {
  /** A `postgres://` (or `postgresql://`) URL; when absent, SQLite under `dataDir`. */
  url?: string;
  /** Where the SQLite file `patchwarden.db` lives; created if missing. Default `patchwarden-data`. */
  dataDir?: string;
  /** Called when PostgreSQL drops an idle pooled connection (the pool recovers); default: a process warning. */
  onPoolError?: (err: Error) => void;
}

/** An open database. It is not migrated on open: call `migrateToLatest(store.db)`. */
export interface Store {
  db: Kysely<Database>;
  dialect: StoreDialect;
  /** Closes the SQLite file or drains the PostgreSQL pool. */
  close(): Promise<void>;
}

/**
 * Opens the database `options` name and checks that it answers. Throws `UNSUPPORTED_DATABASE_URL`
 * for another URL scheme and `DATABASE_UNREACHABLE` (the driver's error as `cause`) when it does not.
 */
export async function openStore(options: StoreOptions = {}): Promise<Store> {
  const { url } = options;
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) {
    throw new PatchwardenError(
      'UNSUPPORTED_DATABASE_URL',
      `database URL must start with postgres:// (got scheme of ${JSON.stringify(url.split(':')[0])}); leave it unset for the embedded SQLite database`,
      400,
    );
  }
  const dialect: StoreDialect = url === undefined ? 'sqlite' : 'postgres';
  // The URL may carry a password, so only the SQLite path is named in the error.
  const where =
    url === undefined ? join(options.dataDir ?? 'patchwarden-data', SQLITE_FILE_NAME) : 'PostgreSQL';
  let db: Kysely<Database> | undefined;
  try {
    db = new Kysely<Database>({
      dialect:
        url === undefined
          ? createSqliteDialect(options.dataDir ?? 'patchwarden-data')
          : createPostgresDialect(url, options.onPoolError),
    });
    await sql`select 1`.execute(db);
  } catch (err) {
    await db?.destroy();
    throw new PatchwardenError('DATABASE_UNREACHABLE', `cannot open the database ${where}`, 503, {
      cause: err,
    });
  }
  const opened = db;
  return { db: opened, dialect, close: () => opened.destroy() };
}
