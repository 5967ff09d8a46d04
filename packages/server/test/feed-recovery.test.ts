import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createFeed,
  type Feed,
  getFeed,
  recordFeedSyncStart,
  updateFeed,
  withExclusiveLock,
} from '@patchwarden/store';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFeedSync, feedLockKey } from '../src/feeds/sync.js';
import {
  createEnrollSecret,
  type Enrolled,
  enroll,
  findingRows,
  ZLIB_TRACKER_JSON,
} from './agent-fixture.js';
import { createTestServer, type TestServer, testDialects } from './harness.js';

const silent = pino({ level: 'silent' });

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `server/feed sync recovery on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let server: TestServer;
      let dir: string;
      let host: Enrolled;
      let feed: Feed;
      beforeEach(async () => {
        server = await createTestServer(dialect);
        dir = await mkdtemp(join(tmpdir(), 'patchwarden-feed-recovery-'));
        await writeFile(join(dir, 'zlib.json'), ZLIB_TRACKER_JSON);
        host = await enroll(server, await createEnrollSecret(server), { hostname: 'with-zlib' });
        feed = await createFeed(
          server.store.db,
          { name: 'zlib', kind: 'debian-tracker', location: join(dir, 'zlib.json'), scheduleSeconds: null },
          server.clock.now,
        );
      });
      afterEach(async () => {
        await server?.close();
        await rm(dir, { recursive: true, force: true });
      });

      const zlibFindings = async () =>
        (await findingRows(server.store, host.hostId)).filter((row) => row.startsWith('zlib'));

      /** A sync whose re-evaluation fails after its advisories are stored (the database went away). */
      async function syncWithFailingReevaluation() {
        const broken = createFeedSync({
          store: server.store,
          log: silent,
          now: () => server.clock.now,
          detection: {
            reevaluatePackages: () => Promise.reject(new Error('connection terminated unexpectedly')),
          },
          cacheDir: join(dir, 'cache'),
          metrics: server.app.metrics,
        });
        const result = await broken.syncFeed(feed.id);
        expect(result.status).toBe('failed');
        expect(result.error?.code).toBe('REEVALUATION_FAILED');
        expect(result.counts?.added).toBe(1);
        expect(await zlibFindings()).toEqual([]);
      }

      it('re-evaluates the hosts of every stored advisory on the sync after one whose re-evaluation failed', async () => {
        await syncWithFailingReevaluation();

        // The file is unchanged, so the advisory is too: only the recovery can open the finding.
        const recovered = await server.app.feedSync.syncFeed(feed.id);
        expect(recovered).toMatchObject({ status: 'ok', error: null });
        expect(recovered.counts).toMatchObject({ added: 0, unchanged: 1, packagesTouched: 0 });
        expect(await zlibFindings()).toEqual(['zlib1g debian-tracker:CVE-2023-45853 open']);

        // Recovered: the next sync is an ordinary one again.
        const next = await server.app.feedSync.syncFeed(feed.id);
        expect(next).toMatchObject({ status: 'ok', counts: { hostsReevaluated: 0 } });
      });

      it('syncs again a feed whose sync died with its process, and leaves a live sync alone', async () => {
        // Stored, then the process died before re-evaluating: the row still says `running`.
        await syncWithFailingReevaluation();
        await recordFeedSyncStart(server.store.db, feed.id, server.clock.now);

        const whileHeld = await withExclusiveLock(
          server.store.db,
          server.store.dialect,
          feedLockKey(feed.id),
          () => server.app.feedSync.runDueSyncs(),
        );
        expect(whileHeld).toEqual({ acquired: true, value: { acquired: true, results: [] } });
        expect((await getFeed(server.store.db, feed.id))?.lastSyncStatus).toBe('running');

        const report = await server.app.feedSync.runDueSyncs();
        expect(report.results).toMatchObject([{ feedId: feed.id, status: 'ok', error: null }]);
        expect((await getFeed(server.store.db, feed.id))?.lastSyncStatus).toBe('ok');
        expect(await zlibFindings()).toEqual(['zlib1g debian-tracker:CVE-2023-45853 open']);
      });

      it('marks a disabled feed whose sync died INTERRUPTED, and recovers it on its next sync', async () => {
        await syncWithFailingReevaluation();
        await updateFeed(server.store.db, feed.id, { isEnabled: false }, server.clock.now);
        await recordFeedSyncStart(server.store.db, feed.id, server.clock.now);

        expect((await server.app.feedSync.runDueSyncs()).results).toEqual([]);
        const interrupted = await getFeed(server.store.db, feed.id);
        expect(interrupted?.lastSyncStatus).toBe('failed');
        expect(interrupted?.lastSyncError).toMatch(
          /^INTERRUPTED: the sync started at 2026-11-22T10:00:00.000Z ended/,
        );
        expect(await zlibFindings()).toEqual([]);

        expect(await server.app.feedSync.syncFeed(feed.id)).toMatchObject({ status: 'ok' });
        expect(await zlibFindings()).toEqual(['zlib1g debian-tracker:CVE-2023-45853 open']);
      });
    },
  );
}
