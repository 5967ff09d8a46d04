import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { StoreDialect } from './dialect.js';
import { openStore, type Store } from './store.js';

/** A database a store test runs on; `open` gives a fresh, empty one per call. */
export interface TestDialect {
  name: StoreDialect;
  /** Why this dialect is skipped, or null when it runs. */
  skipReason: string | null;
  open(): Promise<TestStore>;
}

export interface TestStore extends Store {
  /** The database URL (PostgreSQL) or data directory (SQLite), for a second process on the same database. */
  location: { url: string } | { dataDir: string };
  /** Closes the store and deletes its database. */
  dispose(): Promise<void>;
}

/** Test support for this package and the ones above it (`@patchwarden/store/testing`). */
const POSTGRES_URL_VARIABLE = 'PATCHWARDEN_TEST_POSTGRES_URL';

/** SQLite always; PostgreSQL when PATCHWARDEN_TEST_POSTGRES_URL names a server to create databases on. */
export function testDialects(): TestDialect[] {
  const postgresUrl = process.env[POSTGRES_URL_VARIABLE];
  return [
    { name: 'sqlite', skipReason: null, open: openSqlite },
    {
      name: 'postgres',
      skipReason: postgresUrl ? null : `${POSTGRES_URL_VARIABLE} is not set`,
      open: () => openPostgres(postgresUrl ?? ''),
    },
  ];
}

async function openSqlite(): Promise<TestStore> {
  const dataDir = await mkdtemp(join(tmpdir(), 'patchwarden-store-'));
  const store = await openStore({ dataDir });
  return {
    ...store,
    location: { dataDir },
    async dispose() {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

// A fresh database per store, so tests running in parallel (and introspection, which sees every
// schema) never meet each other's tables.
async function openPostgres(adminUrl: string): Promise<TestStore> {
  const database = `pw_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${database}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const store = await openStore({ url: url.toString() });
  return {
    ...store,
    location: { url: url.toString() },
    async dispose() {
      await store.close();
      const dropper = new pg.Client({ connectionString: adminUrl });
      await dropper.connect();
      try {
        await dropper.query(`drop database if exists ${database} with (force)`);
      } finally {
        await dropper.end();
      }
    },
  };
}
