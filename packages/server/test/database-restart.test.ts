import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { type RunningServer, startServer } from '../src/server.js';

// A private PostgreSQL cluster, so stopping it does not disturb the shared server other tests use.
const PG_BIN = existsSync('/usr/lib/postgresql')
  ? readdirSync('/usr/lib/postgresql')
      .map((version) => join('/usr/lib/postgresql', version, 'bin'))
      .find((bin) => existsSync(join(bin, 'initdb')))
  : undefined;
const isRoot = process.getuid?.() === 0;
const skipReason =
  process.env.PATCHWARDEN_TEST_POSTGRES_URL === undefined
    ? 'PATCHWARDEN_TEST_POSTGRES_URL is not set'
    : PG_BIN === undefined
      ? 'no PostgreSQL server binaries (initdb) under /usr/lib/postgresql'
      : !isRoot
        ? 'needs root to run a private cluster as the postgres user'
        : null;
if (skipReason !== null && process.env.PATCHWARDEN_REQUIRE_TOOLS === '1') {
  throw new Error(`PATCHWARDEN_REQUIRE_TOOLS=1 but the database-restart test cannot run: ${skipReason}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

describe.skipIf(skipReason !== null)(
  `server survives a PostgreSQL restart${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let dir: string;
    let port: number;
    let server: RunningServer;
    const pgCtl = (...args: string[]) =>
      execFileSync(
        'runuser',
        ['-u', 'postgres', '--', join(PG_BIN ?? '', 'pg_ctl'), '-D', join(dir, 'data'), ...args],
        {
          stdio: 'ignore',
        },
      );
    const start = () =>
      pgCtl(
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
        '-l',
        join(dir, 'log'),
        '-w',
        'start',
      );
    const stop = () => pgCtl('-m', 'fast', '-w', 'stop');

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'pw-pg-'));
      await chown(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), 0);
      execFileSync(
        'runuser',
        [
          '-u',
          'postgres',
          '--',
          join(PG_BIN ?? '', 'initdb'),
          '-D',
          join(dir, 'data'),
          '-A',
          'trust',
          '-U',
          'postgres',
        ],
        {
          stdio: 'ignore',
        },
      );
      port = await freePort();
      start();
      server = await startServer(
        loadConfig({
          flags: {
            port: 0,
            logLevel: 'silent',
            databaseUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
          },
        }),
      );
    }, 60_000);
    afterAll(async () => {
      await server?.close();
      try {
        stop();
      } catch {
        // already stopped
      }
      await rm(dir, { recursive: true, force: true });
    });

    it('is not ready while the database is down, answers 503, and recovers when it is back', async () => {
      const before = await fetch(`${server.url}/readyz`);

      stop();
      const during = await fetch(`${server.url}/readyz`);
      const duringBody = await during.json();
      const live = await fetch(`${server.url}/healthz`);
      start();
      let after = await fetch(`${server.url}/readyz`);
      for (let attempt = 0; attempt < 50 && after.status !== 200; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = await fetch(`${server.url}/readyz`);
      }

      expect(before.status).toBe(200);
      expect([during.status, duringBody]).toEqual([503, { status: 'database unavailable' }]);
      expect(live.status).toBe(200);
      expect(after.status).toBe(200);
    });
  },
);
