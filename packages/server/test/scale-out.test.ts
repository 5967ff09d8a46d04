import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseDpkgStatus } from '@patchwarden/core';
import { countUsers } from '@patchwarden/store';
import { type TestStore, testDialects } from '@patchwarden/store/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { type RunningServer, startServer } from '../src/server.js';

// Two `patchwarden serve` replicas on one PostgreSQL database behave as one: one bootstrap, shared
// state, a scheduled feed sync run by exactly one of them, and each replica's in-memory advisory
// index following syncs made by the other.

const postgres = testDialects().find((dialect) => dialect.name === 'postgres');
const skipReason = postgres === undefined ? 'no PostgreSQL dialect' : postgres.skipReason;
const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));
const TOKEN = `pwt_${randomBytes(32).toString('base64url')}`;

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token: string = TOKEN,
  // biome-ignore lint/suspicious/noExplicitAny: replies are read field by field in assertions
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

async function until<T>(
  probe: () => Promise<T>,
  isDone: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (isDone(value) || Date.now() - started > timeoutMs) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(skipReason !== null)(
  `scale-out: two replicas on one PostgreSQL database${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let store: TestStore;
    let a: RunningServer;
    let b: RunningServer;

    beforeAll(async () => {
      store = await (postgres?.open() as Promise<TestStore>);
      const location = store.location as { url: string };
      const config = loadConfig({
        flags: {
          port: 0,
          logLevel: 'silent',
          databaseUrl: location.url,
          bootstrapToken: TOKEN,
          schedulerIntervalSeconds: 0.1,
        },
      });
      // Started together: both migrate and bootstrap the same empty database at once.
      [a, b] = await Promise.all([startServer(config), startServer(config)]);
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await store?.dispose();
    });

    it('migrates and bootstraps once; a token works on both', async () => {
      const users = await countUsers(store.db);
      const fromA = await call(a.url, 'GET', '/api/v1/hosts');
      const fromB = await call(b.url, 'GET', '/api/v1/hosts');

      expect(users).toBe(1);
      expect([fromA.status, fromB.status]).toEqual([200, 200]);
    });

    it('shares hosts, node keys and findings, runs a scheduled sync once, and keeps both indexes current', async () => {
      const status = await readFile(`${examples}hosts/bookworm-2023.status`, 'utf8');
      const packages = parseDpkgStatus(status, 'bookworm-2023.status');
      const osRelease = await readFile(`${examples}hosts/debian12.os-release`, 'utf8');
      const secret = await call(a.url, 'POST', '/api/v1/enroll-secrets', { name: 'scale-out' });

      // Enrol on B before any advisory exists: B's index is built empty.
      const enrolled = await call(b.url, 'POST', '/api/v1/agent/enroll', {
        enrollSecret: secret.body.secret,
        hostname: 'web-1',
        machineId: randomBytes(16).toString('hex'),
        inventory: { seq: 0, osRelease, packages },
      });
      const hostId: string = enrolled.body.hostId;
      const before = await call(a.url, 'GET', `/api/v1/hosts/${hostId}`);

      // A scheduled feed: both replicas' schedulers see it due; one syncs it.
      const feed = await call(a.url, 'POST', '/api/v1/feeds', {
        name: 'dsa',
        kind: 'debian-dsa-list',
        location: `${examples}feeds/debian/DSA-list`,
        scheduleSeconds: 3600,
      });
      const feedId: string = feed.body.id;
      const synced = await until(
        () => call(b.url, 'GET', `/api/v1/feeds/${feedId}`),
        (reply) => reply.body.lastSync.status === 'ok',
      );
      await new Promise((resolve) => setTimeout(resolve, 1000)); // several more scheduler passes on each
      const syncs =
        (await metric(a.url, 'patchwarden_feed_syncs_total')) +
        (await metric(b.url, 'patchwarden_feed_syncs_total'));
      const afterSync = await until(
        () => call(b.url, 'GET', `/api/v1/hosts/${hostId}`),
        (reply) => reply.body.host.openFindings > 0,
      );

      // B checks in the same inventory with the node key it issued, through A and then B: B must
      // judge it by the advisories A's scheduler wrote, not by its empty index from before.
      await new Promise((resolve) => setTimeout(resolve, 1100)); // past the index revision check interval
      const viaA = await call(
        a.url,
        'POST',
        '/api/v1/agent/checkin',
        { seq: 1, full: { osRelease, packages } },
        enrolled.body.nodeKey,
      );
      const viaB = await call(
        b.url,
        'POST',
        '/api/v1/agent/checkin',
        { seq: 2, full: { osRelease, packages } },
        enrolled.body.nodeKey,
      );
      const afterCheckins = await call(a.url, 'GET', `/api/v1/hosts/${hostId}`);

      // biome-ignore lint/suspicious/noExplicitAny: as above
      const open = (reply: { body: any }) => reply.body.host.openFindings;
      expect(enrolled.status).toBe(201);
      expect(open(before)).toBe(0);
      expect(feed.status).toBe(201);
      expect(synced.body.lastSync.status).toBe('ok');
      expect(syncs).toBe(1);
      expect(open(afterSync)).toBeGreaterThan(0);
      expect([viaA.status, viaB.status]).toEqual([200, 200]);
      expect(open(afterCheckins)).toBe(open(afterSync));
    });
  },
);
