import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index.js';

const url = process.env.PATCHWARDEN_TEST_POSTGRES_URL;

describe.skipIf(!url)(
  'a PostgreSQL store when the server drops its idle connection (PATCHWARDEN_TEST_POSTGRES_URL)',
  () => {
    it('reports the error to onPoolError instead of crashing, and the next query reconnects', async () => {
      const errors: Error[] = [];
      const store = await openStore({ url, onPoolError: (err) => errors.push(err) });
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(store.db);
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();

      await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
      for (let i = 0; i < 50 && errors.length === 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      const after = await sql<{ one: number }>`select 1 as one`.execute(store.db);

      expect(errors.length).toBeGreaterThan(0);
      expect(after.rows[0]!.one).toBe(1);
      await admin.end();
      await store.close();
    });
  },
);
