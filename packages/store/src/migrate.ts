import { PatchwardenError } from '@patchwarden/core';
import {
  DEFAULT_MIGRATION_TABLE,
  type Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  sql,
} from 'kysely';
import * as initial from './migrations/2026-11-21-001-initial.js';
import * as server from './migrations/2026-11-22-001-server.js';
import * as fleetIndexes from './migrations/2026-11-22-002-fleet-indexes.js';
import * as packageSourceNames from './migrations/2026-11-22-010-package-source-names.js';
import * as jobs from './migrations/2026-11-22-020-jobs.js';
import type { Database } from './schema.js';

/** Every migration, by name; names sort in the order they run. Released ones are never edited. */
export const migrations: Readonly<Record<string, Migration>> = {
  '2026-11-21-001-initial': initial,
  '2026-11-22-001-server': server,
  '2026-11-22-002-fleet-indexes': fleetIndexes,
  '2026-11-22-010-package-source-names': packageSourceNames,
  '2026-11-22-020-jobs': jobs,
};

const provider: MigrationProvider = { getMigrations: async () => ({ ...migrations }) };

/**
 * Brings the database to the newest schema this code knows and returns the names of the
 * migrations it applied (empty when it was already current). Idempotent.
 *
 * Throws `DATABASE_NEWER_THAN_CODE` (without changing anything) when the database records a
 * migration this code does not have, i.e. a newer Patchwarden has run on it.
 */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const unknown = await findUnknownMigrations(db);
  if (unknown.length > 0) {
    throw new PatchwardenError(
      'DATABASE_NEWER_THAN_CODE',
      `the database has migration ${unknown.join(', ')} that this version of Patchwarden does not know; run a newer Patchwarden or restore a matching backup`,
      500,
    );
  }
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName;
    throw new PatchwardenError(
      'MIGRATION_FAILED',
      `migration ${failed ?? '(before any migration ran)'} failed: ${String(error)}`,
      500,
      { cause: error },
    );
  }
  return (results ?? []).map((result) => result.migrationName);
}

/** Recorded migration names that are not in `migrations`, in recorded order. */
async function findUnknownMigrations(db: Kysely<Database>): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((table) => table.name === DEFAULT_MIGRATION_TABLE)) {
    return [];
  }
  const { rows } = await sql<{ name: string }>`select name from ${sql.table(
    DEFAULT_MIGRATION_TABLE,
  )} order by name`.execute(db);
  return rows.map((row) => row.name).filter((name) => !Object.hasOwn(migrations, name));
}
