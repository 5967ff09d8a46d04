import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';

describe('store/openStore', () => {
  it('opens SQLite in WAL mode with foreign keys on, in patchwarden.db under the data dir', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'patchwarden-open-'));
    const store = await openStore({ dataDir: join(dataDir, 'nested') });

    try {
      const journal = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(store.db);
      const foreignKeys = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(store.db);
      const file = await sql<{
        file: string;
      }>`select file from pragma_database_list where name = 'main'`.execute(store.db);

      expect(store.dialect).toBe('sqlite');
      expect(journal.rows).toEqual([{ journal_mode: 'wal' }]);
      expect(foreignKeys.rows).toEqual([{ foreign_keys: 1 }]);
      expect(file.rows[0]?.file).toBe(join(dataDir, 'nested', 'patchwarden.db'));
    } finally {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it.each(['mysql://root@localhost/db', 'sqlite:///tmp/x.db', '/var/lib/patchwarden.db'])(
    'refuses the URL %s with UNSUPPORTED_DATABASE_URL',
    async (url) => {
      await expect(openStore({ url })).rejects.toMatchObject({ code: 'UNSUPPORTED_DATABASE_URL' });
    },
  );

  it('reports a data dir it cannot create as DATABASE_UNREACHABLE, naming the file', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'patchwarden-open-'));
    const notADirectory = join(dataDir, 'file');
    await writeFile(notADirectory, '');

    const attempt = openStore({ dataDir: join(notADirectory, 'data') });

    await expect(attempt).rejects.toMatchObject({
      code: 'DATABASE_UNREACHABLE',
      message: expect.stringContaining(join(notADirectory, 'data', 'patchwarden.db')),
    });
    await rm(dataDir, { recursive: true, force: true });
  });

  it('reports an unreachable PostgreSQL server as DATABASE_UNREACHABLE', async () => {
    const attempt = openStore({ url: 'postgres://nobody@127.0.0.1:1/none' });

    await expect(attempt).rejects.toMatchObject({ code: 'DATABASE_UNREACHABLE', status: 503 });
  });
});
