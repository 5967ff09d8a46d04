import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDpkgStatus, parseOsRelease } from '@patchwarden/core';
import {
  createHost,
  getFeed,
  openStore,
  readRevision,
  type Store,
  setHostInventory,
} from '@patchwarden/store';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createDetectionService } from '../src/detection/service.js';
import { createFeedSync, type FeedSyncService } from '../src/feeds/sync.js';
import { createScheduler } from '../src/scheduler.js';
import { startServer } from '../src/server.js';
import { createTestServer, type TestServer, testDialects } from './harness.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
const DSA_LIST = readFileSync(join(EXAMPLES, 'feeds/debian/DSA-list'), 'utf8');
const KEV_JSON = readFileSync(join(EXAMPLES, 'feeds/kev/known_exploited_vulnerabilities.json'), 'utf8');
const HOST_STATUS = readFileSync(join(EXAMPLES, 'hosts/bookworm-2023.status'), 'utf8');
const HOST_OS = parseOsRelease(readFileSync(join(EXAMPLES, 'hosts/debian12.os-release'), 'utf8'));
const DSA_COUNT = DSA_LIST.split('\n').filter((line) => line.startsWith('[')).length;

const silent = pino({ level: 'silent' });

/** A feed file served over http with an ETag, counting requests and 304 answers. */
async function serveFile(body: () => string, delayMs = 0) {
  const stats = { requests: 0, notModified: 0 };
  const server: Server = createServer((req, res) => {
    stats.requests += 1;
    const text = body();
    const etag = `"${Buffer.from(text).length}-${text.length % 97}"`;
    setTimeout(() => {
      if (req.headers['if-none-match'] === etag) {
        stats.notModified += 1;
        res.writeHead(304, { etag });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', etag });
      res.end(text);
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/known_exploited_vulnerabilities.json`,
    stats,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `server/feeds on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let server: TestServer;
      let dir: string;
      let dsaPath: string;
      let feedId: string;
      let hostId: string;

      beforeAll(async () => {
        dir = await mkdtemp(join(tmpdir(), 'patchwarden-feeds-'));
        server = await createTestServer(dialect, { dataDir: join(dir, 'data') });
        await mkdir(join(dir, 'dsa'));
        dsaPath = join(dir, 'dsa', 'DSA-list');
        await writeFile(dsaPath, DSA_LIST);
        const host = await createHost(server.store.db, { name: 'bookworm-1', os: HOST_OS }, server.clock.now);
        hostId = host.id;
        await setHostInventory(server.store.db, host.id, parseDpkgStatus(HOST_STATUS), server.clock.now);
      });
      afterAll(async () => {
        await server?.close();
        await rm(dir, { recursive: true, force: true });
      });

      async function advisoryHashes(): Promise<Map<string, string>> {
        const rows = await server.store.db.selectFrom('advisories').select(['id', 'content_hash']).execute();
        return new Map(rows.map((row) => [row.id, row.content_hash]));
      }

      it('creates a feed through the API and refuses bad locations with precise codes', async () => {
        const created = await server.request({
          method: 'POST',
          url: '/api/v1/feeds',
          payload: { name: 'debian-dsa', kind: 'debian-dsa-list', location: dsaPath, scheduleSeconds: 3600 },
        });
        const missing = await server.request({
          method: 'POST',
          url: '/api/v1/feeds',
          payload: { name: 'nowhere', location: join(dir, 'no-such-file') },
        });
        const relative = await server.request({
          method: 'POST',
          url: '/api/v1/feeds',
          payload: { name: 'relative', location: 'feeds/osv' },
        });
        const ftp = await server.request({
          method: 'POST',
          url: '/api/v1/feeds',
          payload: { name: 'ftp', location: 'ftp://example.test/x' },
        });
        const duplicate = await server.request({
          method: 'POST',
          url: '/api/v1/feeds',
          payload: { name: 'debian-dsa', location: dsaPath },
        });
        const badKind = await server.request({
          method: 'POST',
          url: '/api/v1/feeds',
          payload: { name: 'x', kind: 'rss', location: dsaPath },
        });

        expect(created.statusCode).toBe(201);
        feedId = created.json().id;
        expect(created.json()).toMatchObject({
          name: 'debian-dsa',
          kind: 'debian-dsa-list',
          scheduleSeconds: 3600,
          enabled: true,
          nextSyncAt: server.clock.now.toISOString(),
          lastSync: { status: null, counts: null, error: null },
        });
        expect([missing.statusCode, missing.json().error.code]).toEqual([400, 'FEED_NOT_FOUND']);
        expect([relative.statusCode, relative.json().error.code]).toEqual([400, 'INVALID_FEED_LOCATION']);
        expect([ftp.statusCode, ftp.json().error.code]).toEqual([400, 'INVALID_FEED_LOCATION']);
        expect([duplicate.statusCode, duplicate.json().error.code]).toEqual([409, 'FEED_NAME_TAKEN']);
        expect([badKind.statusCode, badKind.json().error.code]).toEqual([400, 'INVALID_REQUEST']);
      });

      it('enforces feeds:write and feeds:sync', async () => {
        const operator = await server.tokenFor('operator');
        const auditor = await server.tokenFor('auditor');

        const create = await server.request({
          method: 'POST',
          url: '/api/v1/feeds',
          token: operator,
          payload: { name: 'op', location: dsaPath },
        });
        const sync = await server.request({
          method: 'POST',
          url: `/api/v1/feeds/${feedId}/sync`,
          token: auditor,
        });
        const list = await server.request({ method: 'GET', url: '/api/v1/feeds', token: auditor });

        expect([create.statusCode, create.json().error.code]).toEqual([403, 'FORBIDDEN']);
        expect([sync.statusCode, sync.json().error.code]).toEqual([403, 'FORBIDDEN']);
        expect(list.json().feeds.map((f: { name: string }) => f.name)).toEqual(['debian-dsa']);
      });

      it('syncs on demand: every record added, the hosts of touched packages re-evaluated', async () => {
        const response = await server.request({ method: 'POST', url: `/api/v1/feeds/${feedId}/sync` });

        expect(response.statusCode).toBe(200);
        const body = response.json();
        expect(body.counts).toMatchObject({
          documents: 1,
          records: DSA_COUNT,
          added: DSA_COUNT,
          changed: 0,
          unchanged: 0,
          removed: 0,
        });
        expect(body.counts.packagesTouched).toBeGreaterThan(0);
        expect([body.status, body.error]).toEqual(['ok', null]);
        expect(body.counts.hostsReevaluated).toBe(1);
        expect(body.feed.lastSync).toMatchObject({
          status: 'ok',
          finishedAt: server.clock.now.toISOString(),
        });
        expect(body.feed.nextSyncAt).toBe(new Date(server.clock.now.getTime() + 3_600_000).toISOString());
        const open = await server.store.db
          .selectFrom('findings')
          .select('advisory_id')
          .distinct()
          .where('host_id', '=', hostId)
          .where('status', '=', 'open')
          .execute();
        expect(open.length).toBeGreaterThan(0);
      });

      it('writes nothing on a second sync of the same data', async () => {
        const revision = await readRevision(server.store.db, 'advisories');
        const hashes = await advisoryHashes();

        const response = await server.request({ method: 'POST', url: `/api/v1/feeds/${feedId}/sync` });

        expect(response.json().counts).toMatchObject({
          added: 0,
          changed: 0,
          unchanged: DSA_COUNT,
          removed: 0,
          packagesTouched: 0,
          hostsReevaluated: 0,
        });
        expect(response.json().status).toBe('ok');
        expect(await readRevision(server.store.db, 'advisories')).toBe(revision);
        expect(await advisoryHashes()).toEqual(hashes);
      });

      it('re-writes only a changed record and touches only its packages', async () => {
        const before = await advisoryHashes();
        const revision = await readRevision(server.store.db, 'advisories');
        await writeFile(dsaPath, DSA_LIST.replace('curl 7.88.1-10+deb12u5', 'curl 7.88.1-10+deb12u6'));

        const response = await server.request({ method: 'POST', url: `/api/v1/feeds/${feedId}/sync` });
        const after = await advisoryHashes();
        expect(response.json().error).toBeNull();

        expect(response.json().counts).toMatchObject({
          added: 0,
          changed: 1,
          unchanged: DSA_COUNT - 1,
          removed: 0,
          packagesTouched: 2, // curl in bullseye and in bookworm
        });
        const differing = [...after].filter(([id, hash]) => before.get(id) !== hash).map(([id]) => id);
        expect(differing).toEqual(['debian-tracker:DSA-5587-1']);
        expect(await readRevision(server.store.db, 'advisories')).toBe(revision + 1);
      });

      it('marks a feed whose path is gone failed with FEED_NOT_FOUND and changes nothing else', async () => {
        const before = await advisoryHashes();
        const revision = await readRevision(server.store.db, 'advisories');
        const previous = (await getFeed(server.store.db, feedId))?.lastSyncCounts;
        await rename(dsaPath, `${dsaPath}.moved`);

        const response = await server.request({ method: 'POST', url: `/api/v1/feeds/${feedId}/sync` });
        await rename(`${dsaPath}.moved`, dsaPath);
        const shown = await server.request({ method: 'GET', url: `/api/v1/feeds/debian-dsa` });

        expect(response.statusCode).toBe(200);
        expect(response.json()).toMatchObject({
          status: 'failed',
          error: { code: 'FEED_NOT_FOUND' },
          counts: null,
        });
        expect(shown.json().lastSync).toMatchObject({ status: 'failed', error: { code: 'FEED_NOT_FOUND' } });
        expect(shown.json().lastSync.counts).toEqual(previous);
        expect(await advisoryHashes()).toEqual(before);
        expect(await readRevision(server.store.db, 'advisories')).toBe(revision);
      });

      it('removes records the complete export no longer has; one that findings cite stays, withdrawn', async () => {
        // openssh (no finding: the host has the fixed version) and curl (the host has an open finding).
        const text = DSA_LIST.replace(/\[01 Jul 2024\] DSA-5724-1[^\n]*\n(?:\t[^\n]*\n)*/, '').replace(
          /\[23 Dec 2023\] DSA-5587-1[^\n]*\n(?:\t[^\n]*\n)*/,
          '',
        );
        expect(text.length).toBeLessThan(DSA_LIST.length - 80);
        await writeFile(dsaPath, text);

        const response = await server.request({ method: 'POST', url: `/api/v1/feeds/${feedId}/sync` });
        await writeFile(dsaPath, DSA_LIST);
        const curl = await server.store.db
          .selectFrom('advisories')
          .select(['feed_id', 'withdrawn_at'])
          .where('id', '=', 'debian-tracker:DSA-5587-1')
          .executeTakeFirst();
        const openCurl = await server.store.db
          .selectFrom('findings')
          .select('id')
          .where('advisory_id', '=', 'debian-tracker:DSA-5587-1')
          .where('status', '=', 'open')
          .execute();

        expect(response.json()).toMatchObject({
          status: 'ok',
          counts: { added: 0, removed: 2, unchanged: DSA_COUNT - 2 },
        });
        expect((await advisoryHashes()).has('debian-tracker:DSA-5724-1')).toBe(false);
        expect(curl?.feed_id).toBeNull();
        expect(curl?.withdrawn_at).not.toBeNull();
        expect(openCurl).toEqual([]);
      });

      it('syncs an http feed through the ETag cache: the second fetch is a 304 and writes nothing', async () => {
        const served = await serveFile(() => KEV_JSON);
        try {
          const created = await server.request({
            method: 'POST',
            url: '/api/v1/feeds',
            payload: { name: 'kev', kind: 'kev', location: served.url, scheduleSeconds: null },
          });
          const id = created.json().id;

          const first = await server.request({ method: 'POST', url: `/api/v1/feeds/${id}/sync` });
          const second = await server.request({ method: 'POST', url: `/api/v1/feeds/${id}/sync` });
          const kevRows = await server.store.db
            .selectFrom('kev_entries')
            .select(['cve_id', 'feed_id'])
            .execute();

          expect(created.json().nextSyncAt).toBeNull();
          expect(first.json()).toMatchObject({ status: 'ok', counts: { kev: 1, records: 1 } });
          expect(second.json()).toMatchObject({
            status: 'ok',
            counts: { kev: 0, records: 1, packagesTouched: 0 },
          });
          expect(served.stats).toEqual({ requests: 2, notModified: 1 });
          expect(kevRows).toEqual([{ cve_id: 'CVE-2023-4911', feed_id: id }]);
          // The KEV entry made the glibc advisory's packages touched: its host was re-evaluated.
          expect(first.json().counts.packagesTouched).toBeGreaterThan(0);
        } finally {
          await served.close();
        }
      });

      it('runs due syncs once: a second pass finds nothing due', async () => {
        server.clock.advance(3_600_000);

        const first = await server.app.feedSync.runDueSyncs();
        const second = await server.app.feedSync.runDueSyncs();

        expect(first.acquired).toBe(true);
        expect(first.results.map((r) => [r.name, r.status])).toEqual([['debian-dsa', 'ok']]);
        // The export has both records again: the deleted one is added, the withdrawn one rewritten.
        expect(first.results[0]?.counts).toMatchObject({ added: 1, changed: 1, removed: 0 });
        expect(second).toEqual({ acquired: true, results: [] });
      });

      it('answers 409 FEED_SYNC_IN_PROGRESS while the feed is being synced', async () => {
        const served = await serveFile(() => KEV_JSON.replace('2025.02.25', '2025.02.26'), 400);
        try {
          const feed = await server.request({
            method: 'PATCH',
            url: '/api/v1/feeds/kev',
            payload: { location: served.url },
          });
          expect(feed.statusCode).toBe(200);

          const [a, b] = await Promise.all([
            server.request({ method: 'POST', url: '/api/v1/feeds/kev/sync' }),
            new Promise((resolve) => setTimeout(resolve, 100)).then(() =>
              server.request({ method: 'POST', url: '/api/v1/feeds/kev/sync' }),
            ),
          ]);

          expect(a.statusCode).toBe(200);
          expect([b.statusCode, b.json().error.code]).toEqual([409, 'FEED_SYNC_IN_PROGRESS']);
        } finally {
          await served.close();
        }
      });

      it('audits feed changes and sync requests', async () => {
        const deleted = await server.request({ method: 'DELETE', url: '/api/v1/feeds/kev' });
        const rows = await server.store.db
          .selectFrom('audit_log')
          .select(['action', 'target_id'])
          .where('action', 'like', 'feed.%')
          .orderBy('seq')
          .execute();
        const kevLeft = await server.store.db.selectFrom('kev_entries').select('feed_id').execute();

        expect(deleted.statusCode).toBe(204);
        expect(new Set(rows.map((r) => r.action))).toEqual(
          new Set(['feed.create', 'feed.sync', 'feed.update', 'feed.delete']),
        );
        expect(
          rows.filter((r) => r.action === 'feed.sync' && r.target_id === feedId).length,
        ).toBeGreaterThanOrEqual(5);
        expect(kevLeft).toEqual([{ feed_id: null }]);
      });

      it('lists and searches advisories with cursor pagination', async () => {
        const byCve = await server.request({ method: 'GET', url: '/api/v1/advisories?q=cve-2023-4911' });
        const byPackage = await server.request({ method: 'GET', url: '/api/v1/advisories?package=curl' });
        const page1 = await server.request({ method: 'GET', url: '/api/v1/advisories?limit=2' });
        const page2 = await server.request({
          method: 'GET',
          url: `/api/v1/advisories?limit=2&after=${encodeURIComponent(page1.json().nextCursor)}`,
        });
        const tooMany = await server.request({ method: 'GET', url: '/api/v1/advisories?limit=100000' });

        expect(byCve.json().advisories.map((a: { externalId: string }) => a.externalId)).toEqual([
          'DSA-5514-1',
        ]);
        expect(byPackage.json().advisories.map((a: { externalId: string }) => a.externalId)).toEqual([
          'DSA-5587-1',
        ]);
        const ids = [...page1.json().advisories, ...page2.json().advisories].map((a: { id: string }) => a.id);
        expect(ids).toEqual([...ids].sort());
        expect(new Set(ids).size).toBe(Math.min(4, DSA_COUNT));
        expect([tooMany.statusCode, tooMany.json().error.code]).toEqual([400, 'INVALID_REQUEST']);
      });

      it('shows an advisory with its ranges, KEV and the hosts it affects, within the caller’s groups', async () => {
        const shown = await server.request({ method: 'GET', url: '/api/v1/advisories/DSA-5514-1' });
        await server.store.db
          .insertInto('host_groups')
          .values({
            id: 'g-other',
            name: 'other',
            parent_id: null,
            description: null,
            created_at: '2026-11-22T10:00:00.000Z',
          })
          .execute();
        const scoped = await server.tokenFor('operator', 'g-other');
        const hidden = await server.request({
          method: 'GET',
          url: '/api/v1/advisories/DSA-5514-1',
          token: scoped,
        });
        const missing = await server.request({ method: 'GET', url: '/api/v1/advisories/DSA-0-0' });

        expect(shown.statusCode).toBe(200);
        expect(shown.json()).toMatchObject({
          id: 'debian-tracker:DSA-5514-1',
          externalId: 'DSA-5514-1',
          source: 'debian-tracker',
          cves: ['CVE-2023-4911'],
          kevCves: ['CVE-2023-4911'],
          feed: { id: feedId, name: 'debian-dsa' },
        });
        expect(shown.json().affected).toContainEqual(
          expect.objectContaining({
            scope: 'debian:12',
            name: 'glibc',
            ranges: [expect.objectContaining({ fixed: '2.36-9+deb12u3' })],
          }),
        );
        expect(shown.json().hosts).toMatchObject({ total: 1, nextCursor: null });
        expect(shown.json().hosts.items[0]).toMatchObject({ hostId, hostName: 'bookworm-1' });
        expect(
          shown.json().hosts.items[0].findings.map((f: { packageName: string }) => f.packageName),
        ).toContain('libc6');
        expect(hidden.json().hosts).toEqual({ total: 0, items: [], nextCursor: null });
        expect([missing.statusCode, missing.json().error.code]).toEqual([404, 'ADVISORY_NOT_FOUND']);
      });
    },
  );
}

describe.skipIf(testDialects()[1]?.skipReason !== null)(
  'server/feeds across two replicas on PostgreSQL',
  () => {
    it('two sync services calling runDueSyncs concurrently sync a due feed once', async () => {
      const dialect = testDialects()[1];
      if (dialect === undefined) throw new Error('no PostgreSQL dialect');
      const primary = await createTestServer(dialect);
      const served = await serveFile(() => KEV_JSON, 300);
      const dir = await mkdtemp(join(tmpdir(), 'patchwarden-replicas-'));
      const stores: Store[] = [];
      try {
        const location = primary.store.location as { url: string };
        const created = await primary.request({
          method: 'POST',
          url: '/api/v1/feeds',
          payload: { name: 'kev', kind: 'kev', location: served.url, scheduleSeconds: 3600 },
        });
        expect(created.statusCode).toBe(201);
        const replicas: FeedSyncService[] = [];
        for (const name of ['a', 'b']) {
          const store = await openStore({ url: location.url });
          stores.push(store);
          const now = () => primary.clock.now;
          replicas.push(
            createFeedSync({
              store,
              log: silent,
              now,
              detection: createDetectionService({ store, log: silent, now }),
              cacheDir: join(dir, name),
              metrics: primary.app.metrics,
            }),
          );
        }

        const reports = await Promise.all(replicas.map((replica) => replica.runDueSyncs()));
        const again = await Promise.all(replicas.map((replica) => replica.runDueSyncs()));

        expect(reports.flatMap((r) => r.results).map((r) => r.name)).toEqual(['kev']);
        expect(served.stats.requests).toBe(1);
        expect(again.flatMap((r) => r.results)).toEqual([]);
        expect((await getFeed(primary.store.db, 'kev'))?.lastSyncStatus).toBe('ok');
      } finally {
        for (const store of stores) await store.close();
        await served.close();
        await primary.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  },
);

describe('server/startServer with configured feeds', () => {
  it('creates the config file’s feeds and its scheduler syncs the due ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'patchwarden-serve-feeds-'));
    await writeFile(join(dir, 'DSA-list'), DSA_LIST);
    const config = loadConfig({
      flags: {
        port: 0,
        dataDir: join(dir, 'data'),
        logLevel: 'silent',
        schedulerIntervalSeconds: 0.05,
        feeds: [
          { name: 'dsa', kind: 'debian-dsa-list', location: join(dir, 'DSA-list'), scheduleSeconds: 3600 },
        ],
      },
    });
    const running = await startServer(config);
    try {
      let feed = await getFeed(running.store.db, 'dsa');
      for (let i = 0; i < 100 && feed?.lastSyncStatus !== 'ok'; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        feed = await getFeed(running.store.db, 'dsa');
      }

      expect(feed).toMatchObject({ kind: 'debian-dsa-list', scheduleSeconds: 3600, lastSyncStatus: 'ok' });
      expect(feed?.lastSyncCounts).toMatchObject({ added: DSA_COUNT });
    } finally {
      await running.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('server/scheduler', () => {
  it('runs its tasks on an unref’d timer and waits for a pass under way when stopped', async () => {
    let runs = 0;
    let isInside = false;
    let overlapped = false;
    const scheduler = createScheduler({
      intervalMs: 20,
      log: silent,
      tasks: [
        {
          name: 'count',
          run: async () => {
            overlapped ||= isInside;
            isInside = true;
            await new Promise((resolve) => setTimeout(resolve, 15));
            runs += 1;
            isInside = false;
          },
        },
        {
          name: 'throws',
          run: async () => {
            throw new Error('boom');
          },
        },
      ],
    });

    scheduler.start();
    await new Promise((resolve) => setTimeout(resolve, 150));
    await scheduler.stop();
    const stoppedAt = runs;
    await new Promise((resolve) => setTimeout(resolve, 60));

    expect(runs).toBeGreaterThanOrEqual(3);
    expect(isInside).toBe(false);
    expect(runs).toBe(stoppedAt);
    expect(overlapped).toBe(false);
  });
});
