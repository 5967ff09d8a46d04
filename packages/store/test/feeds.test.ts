import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  claimDueFeeds,
  createFeed,
  deleteFeed,
  type FeedSyncCounts,
  getFeed,
  listFeeds,
  migrateToLatest,
  recordFeedSyncFinish,
  recordFeedSyncStart,
  updateFeed,
  upsertFeedByName,
} from '../src/index.js';
import { type TestStore, testDialects } from './dialects.js';

const t0 = new Date('2026-11-22T10:00:00.000Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

const counts: FeedSyncCounts = {
  documents: 1,
  records: 3,
  added: 3,
  changed: 0,
  unchanged: 0,
  removed: 0,
  kev: 0,
  epss: 0,
  skipped: 0,
  packagesTouched: 2,
  hostsReevaluated: 0,
  durationMs: 12,
  notes: [],
};

for (const dialect of testDialects()) {
  const title = `store/feeds on ${dialect.name}${dialect.skipReason ? ` (skipped: ${dialect.skipReason})` : ''}`;

  describe.skipIf(dialect.skipReason !== null)(title, () => {
    let store: TestStore;

    beforeAll(async () => {
      store = await dialect.open();
      await migrateToLatest(store.db);
    });

    afterAll(async () => {
      await store?.dispose();
    });

    it('creates a scheduled feed due at once and an on-demand feed never due', async () => {
      const daily = await createFeed(
        store.db,
        { name: 'osv-debian', kind: 'osv', location: '/srv/osv', scheduleSeconds: 86_400 },
        t0,
      );
      const manual = await createFeed(
        store.db,
        { name: 'kev', kind: 'kev', location: 'https://example.test/kev.json', scheduleSeconds: null },
        t0,
      );

      expect(daily).toMatchObject({
        name: 'osv-debian',
        kind: 'osv',
        scheduleSeconds: 86_400,
        isEnabled: true,
        nextSyncAt: t0,
        lastSyncStatus: null,
        lastSyncCounts: null,
      });
      expect(manual.nextSyncAt).toBeNull();
      expect((await listFeeds(store.db)).map((f) => f.name)).toEqual(['kev', 'osv-debian']);
      expect((await getFeed(store.db, 'osv-debian'))?.id).toBe(daily.id);
      expect((await getFeed(store.db, daily.id))?.name).toBe('osv-debian');
    });

    it('refuses a second feed of the same name with FEED_NAME_TAKEN', async () => {
      await expect(
        createFeed(store.db, { name: 'kev', kind: 'kev', location: '/x', scheduleSeconds: null }, t0),
      ).rejects.toMatchObject({ code: 'FEED_NAME_TAKEN', status: 409 });
    });

    it('claims a due feed once, moving next_sync_at one period on', async () => {
      const first = await claimDueFeeds(store.db, at(1));
      const second = await claimDueFeeds(store.db, at(2));

      expect(first.map((f) => f.name)).toEqual(['osv-debian']);
      expect(first[0]?.nextSyncAt).toEqual(at(1 + 86_400));
      expect(second).toEqual([]);
    });

    it('records a sync start and finish with counts and schedules the next one', async () => {
      const feed = await getFeed(store.db, 'osv-debian');
      if (feed === null) throw new Error('feed missing');

      const running = await recordFeedSyncStart(store.db, feed.id, at(10));
      const done = await recordFeedSyncFinish(
        store.db,
        feed.id,
        { status: 'ok', error: null, counts },
        at(20),
      );

      expect(running.lastSyncStatus).toBe('running');
      expect(done).toMatchObject({
        lastSyncStatus: 'ok',
        lastSyncError: null,
        lastSyncStartedAt: at(10),
        lastSyncFinishedAt: at(20),
        lastSyncCounts: counts,
        nextSyncAt: at(20 + 86_400),
      });
    });

    it('keeps the last counts when a failed sync has none', async () => {
      const feed = await getFeed(store.db, 'osv-debian');
      if (feed === null) throw new Error('feed missing');

      const failed = await recordFeedSyncFinish(
        store.db,
        feed.id,
        { status: 'failed', error: 'FEED_NOT_FOUND: gone', counts: null },
        at(30),
      );

      expect(failed).toMatchObject({
        lastSyncStatus: 'failed',
        lastSyncError: 'FEED_NOT_FOUND: gone',
        lastSyncCounts: counts,
      });
    });

    it('makes a feed due at once when its location changes, and never when disabled', async () => {
      const feed = await getFeed(store.db, 'osv-debian');
      if (feed === null) throw new Error('feed missing');

      const moved = await updateFeed(store.db, feed.id, { location: '/srv/osv2' }, at(40));
      const disabled = await updateFeed(store.db, feed.id, { isEnabled: false }, at(50));
      const claimed = await claimDueFeeds(store.db, at(60));

      expect(moved.nextSyncAt).toEqual(at(40));
      expect(disabled.nextSyncAt).toBeNull();
      expect(claimed).toEqual([]);
      await expect(updateFeed(store.db, 'missing', { location: '/x' }, at(60))).rejects.toMatchObject({
        code: 'FEED_NOT_FOUND',
      });
      await expect(updateFeed(store.db, feed.id, { name: 'kev' }, at(60))).rejects.toMatchObject({
        code: 'FEED_NAME_TAKEN',
      });
    });

    it('upserts configured feeds by name and leaves unchanged ones alone', async () => {
      const input = {
        name: 'alpine',
        kind: 'alpine-secdb' as const,
        location: '/srv/alpine',
        scheduleSeconds: 3600,
      };

      const created = await upsertFeedByName(store.db, input, at(100));
      const again = await upsertFeedByName(store.db, input, at(200));
      const changed = await upsertFeedByName(store.db, { ...input, scheduleSeconds: 7200 }, at(300));

      expect([created.outcome, again.outcome, changed.outcome]).toEqual(['created', 'unchanged', 'updated']);
      expect(again.feed.nextSyncAt).toEqual(at(100));
      expect(changed.feed).toMatchObject({ scheduleSeconds: 7200, nextSyncAt: at(300), updatedAt: at(300) });
    });

    it('deletes a feed', async () => {
      const feed = await getFeed(store.db, 'alpine');
      if (feed === null) throw new Error('feed missing');

      expect(await deleteFeed(store.db, feed.id)).toBe(true);
      expect(await deleteFeed(store.db, feed.id)).toBe(false);
      expect(await getFeed(store.db, 'alpine')).toBeNull();
    });
  });
}
