import { randomUUID } from 'node:crypto';
import { PatchwardenError } from '@patchwarden/core';
import type { Kysely, Selectable } from 'kysely';
import { readJson, readOptionalTimestamp, readTimestamp, writeTimestamp } from '../codec.js';
import type { Database, FeedKind, FeedSyncStatus, FeedsTable } from '../schema.js';
import { inTransaction } from '../transaction.js';

/** What one sync did, kept with the feed (`last_sync_counts`). */
export interface FeedSyncCounts {
  /** Documents the load gave, and the records (advisories, KEV entries, EPSS scores) parsed from them. */
  documents: number;
  records: number;
  /** Advisory records written new, rewritten, left as they were, and deleted (gone from a complete snapshot). */
  added: number;
  changed: number;
  unchanged: number;
  removed: number;
  /** KEV entries and EPSS scores written (new or changed). */
  kev: number;
  epss: number;
  /** Files and records the load or the parsers left out. */
  skipped: number;
  /** (scope, package) pairs whose advisories changed, and hosts re-evaluated for them; null when not run. */
  packagesTouched: number;
  hostsReevaluated: number | null;
  durationMs: number;
  /** The first few skipped items and load warnings, for operators. */
  notes: string[];
}

/** A named advisory source and the state of its syncs. */
export interface Feed {
  id: string;
  name: string;
  kind: FeedKind;
  /** An http(s) URL or a local file or directory. */
  location: string;
  /** Seconds between scheduled syncs; null: on demand only. */
  scheduleSeconds: number | null;
  isEnabled: boolean;
  createdAt: Date;
  updatedAt: Date;
  /** When the scheduler next syncs it; null when it has no schedule or is disabled. */
  nextSyncAt: Date | null;
  lastSyncStartedAt: Date | null;
  lastSyncFinishedAt: Date | null;
  /** `running` while a sync is under way (or when a process died during one), then `ok` or `failed`. */
  lastSyncStatus: FeedSyncStatus | null;
  lastSyncError: string | null;
  /** Null before the first finished sync. */
  lastSyncCounts: FeedSyncCounts | null;
}

export interface NewFeed {
  name: string;
  kind: FeedKind;
  location: string;
  scheduleSeconds: number | null;
  isEnabled?: boolean;
}

export type FeedUpdate = Partial<Pick<NewFeed, 'kind' | 'location' | 'scheduleSeconds' | 'isEnabled'>> & {
  name?: string;
};

type FeedRow = Selectable<FeedsTable>;

/** Throws FEED_NAME_TAKEN (409) when another feed has that name. */
export async function createFeed(db: Kysely<Database>, input: NewFeed, now: Date): Promise<Feed> {
  return inTransaction(db, async (trx) => {
    await assertNameFree(trx, input.name, null);
    const isEnabled = input.isEnabled ?? true;
    const row = await trx
      .insertInto('feeds')
      .values({
        id: randomUUID(),
        name: input.name,
        kind: input.kind,
        location: input.location,
        schedule_seconds: input.scheduleSeconds,
        enabled: isEnabled ? 1 : 0,
        created_at: writeTimestamp(now),
        updated_at: writeTimestamp(now),
        // A new scheduled feed is due at once: its first sync should not wait a whole period.
        next_sync_at: isEnabled && input.scheduleSeconds !== null ? writeTimestamp(now) : null,
        last_sync_counts: '{}',
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toFeed(row);
  });
}

/** Every feed, by name. Feeds are configured by people, so there are tens, not thousands. */
export async function listFeeds(db: Kysely<Database>): Promise<Feed[]> {
  const rows = await db.selectFrom('feeds').selectAll().orderBy('name').execute();
  return rows.map(toFeed);
}

/** The feed with that id or, failing that, that name; null when there is none. */
export async function getFeed(db: Kysely<Database>, idOrName: string): Promise<Feed | null> {
  const row =
    (await db.selectFrom('feeds').selectAll().where('id', '=', idOrName).executeTakeFirst()) ??
    (await db.selectFrom('feeds').selectAll().where('name', '=', idOrName).executeTakeFirst());
  return row === undefined ? null : toFeed(row);
}

/**
 * Changes a feed's settings. A changed schedule, location or kind, or enabling it, makes it due at
 * once; disabling it or removing its schedule clears `next_sync_at`. Throws FEED_NOT_FOUND (404),
 * FEED_NAME_TAKEN (409).
 */
export async function updateFeed(
  db: Kysely<Database>,
  id: string,
  update: FeedUpdate,
  now: Date,
): Promise<Feed> {
  return inTransaction(db, async (trx) => {
    const old = await trx.selectFrom('feeds').selectAll().where('id', '=', id).executeTakeFirst();
    if (old === undefined) {
      throw new PatchwardenError('FEED_NOT_FOUND', `feed ${id} does not exist`, 404);
    }
    if (update.name !== undefined && update.name !== old.name) {
      await assertNameFree(trx, update.name, id);
    }
    const schedule = update.scheduleSeconds === undefined ? old.schedule_seconds : update.scheduleSeconds;
    const isEnabled = update.isEnabled === undefined ? old.enabled === 1 : update.isEnabled;
    const isSourceChanged =
      (update.location !== undefined && update.location !== old.location) ||
      (update.kind !== undefined && update.kind !== old.kind) ||
      schedule !== old.schedule_seconds ||
      (isEnabled && old.enabled !== 1);
    let nextSyncAt = old.next_sync_at === null ? null : writeTimestamp(readTimestamp(old.next_sync_at));
    if (!isEnabled || schedule === null) {
      nextSyncAt = null;
    } else if (isSourceChanged || nextSyncAt === null) {
      nextSyncAt = writeTimestamp(now);
    }
    const row = await trx
      .updateTable('feeds')
      .set({
        name: update.name ?? old.name,
        kind: update.kind ?? old.kind,
        location: update.location ?? old.location,
        schedule_seconds: schedule,
        enabled: isEnabled ? 1 : 0,
        updated_at: writeTimestamp(now),
        next_sync_at: nextSyncAt,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toFeed(row);
  });
}

/**
 * Creates the feed `input.name` or brings its settings to `input` (the config file's feeds at start).
 * Leaves an unchanged feed untouched, so a restart does not make every feed due.
 */
export async function upsertFeedByName(
  db: Kysely<Database>,
  input: NewFeed,
  now: Date,
): Promise<{ feed: Feed; outcome: 'created' | 'updated' | 'unchanged' }> {
  return inTransaction(db, async (trx) => {
    const old = await trx.selectFrom('feeds').selectAll().where('name', '=', input.name).executeTakeFirst();
    if (old === undefined) {
      return { feed: await createFeed(trx, input, now), outcome: 'created' as const };
    }
    const isEnabled = input.isEnabled ?? true;
    if (
      old.kind === input.kind &&
      old.location === input.location &&
      old.schedule_seconds === input.scheduleSeconds &&
      (old.enabled === 1) === isEnabled
    ) {
      return { feed: toFeed(old), outcome: 'unchanged' as const };
    }
    const feed = await updateFeed(
      trx,
      old.id,
      { kind: input.kind, location: input.location, scheduleSeconds: input.scheduleSeconds, isEnabled },
      now,
    );
    return { feed, outcome: 'updated' as const };
  });
}

/**
 * Deletes a feed. Its advisories, KEV entries and EPSS scores stay and belong to no feed (the
 * foreign keys set null), so findings do not vanish with a configuration change. False when absent.
 */
export async function deleteFeed(db: Kysely<Database>, id: string): Promise<boolean> {
  const result = await db.deleteFrom('feeds').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/**
 * Claims the enabled feeds whose `next_sync_at` has come, oldest first: each claimed row's
 * `next_sync_at` moves one period on by a conditional update, so of two processes claiming at once
 * only one gets a given feed.
 */
export async function claimDueFeeds(db: Kysely<Database>, now: Date, limit = 100): Promise<Feed[]> {
  const due = await db
    .selectFrom('feeds')
    .selectAll()
    .where('enabled', '=', 1)
    .where('schedule_seconds', 'is not', null)
    .where('next_sync_at', '<=', writeTimestamp(now))
    .orderBy('next_sync_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  const claimed: Feed[] = [];
  for (const row of due) {
    if (row.next_sync_at === null || row.schedule_seconds === null) continue;
    const next = new Date(now.getTime() + row.schedule_seconds * 1000);
    const updated = await db
      .updateTable('feeds')
      .set({ next_sync_at: writeTimestamp(next) })
      .where('id', '=', row.id)
      .where('next_sync_at', '=', writeTimestamp(readTimestamp(row.next_sync_at)))
      .returningAll()
      .executeTakeFirst();
    if (updated !== undefined) claimed.push(toFeed(updated));
  }
  return claimed;
}

/** Marks a sync under way. Throws FEED_NOT_FOUND (404). */
export async function recordFeedSyncStart(db: Kysely<Database>, id: string, now: Date): Promise<Feed> {
  const row = await db
    .updateTable('feeds')
    .set({ last_sync_started_at: writeTimestamp(now), last_sync_status: 'running', last_sync_error: null })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  if (row === undefined) {
    throw new PatchwardenError('FEED_NOT_FOUND', `feed ${id} does not exist`, 404);
  }
  return toFeed(row);
}

/**
 * Records how a sync ended. The next scheduled sync is one period after `now` (when the feed has a
 * schedule and is enabled). Null when the feed was deleted meanwhile.
 */
export async function recordFeedSyncFinish(
  db: Kysely<Database>,
  id: string,
  result: { status: 'ok' | 'failed'; error: string | null; counts: FeedSyncCounts | null },
  now: Date,
): Promise<Feed | null> {
  const feed = await db
    .selectFrom('feeds')
    .select(['schedule_seconds', 'enabled'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (feed === undefined) return null;
  const next =
    feed.enabled === 1 && feed.schedule_seconds !== null
      ? writeTimestamp(new Date(now.getTime() + feed.schedule_seconds * 1000))
      : null;
  const row = await db
    .updateTable('feeds')
    .set({
      last_sync_finished_at: writeTimestamp(now),
      last_sync_status: result.status,
      last_sync_error: result.error,
      ...(result.counts === null ? {} : { last_sync_counts: JSON.stringify(result.counts) }),
      next_sync_at: next,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? null : toFeed(row);
}

async function assertNameFree(db: Kysely<Database>, name: string, exceptId: string | null): Promise<void> {
  const clash = await db.selectFrom('feeds').select('id').where('name', '=', name).executeTakeFirst();
  if (clash !== undefined && clash.id !== exceptId) {
    throw new PatchwardenError('FEED_NAME_TAKEN', `a feed named ${name} already exists`, 409);
  }
}

function toFeed(row: FeedRow): Feed {
  const counts = readJson(row.last_sync_counts, 'feeds.last_sync_counts') as Partial<FeedSyncCounts>;
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    location: row.location,
    scheduleSeconds: row.schedule_seconds === null ? null : Number(row.schedule_seconds),
    isEnabled: row.enabled === 1,
    createdAt: readTimestamp(row.created_at),
    updatedAt: readTimestamp(row.updated_at),
    nextSyncAt: readOptionalTimestamp(row.next_sync_at),
    lastSyncStartedAt: readOptionalTimestamp(row.last_sync_started_at),
    lastSyncFinishedAt: readOptionalTimestamp(row.last_sync_finished_at),
    lastSyncStatus: row.last_sync_status,
    lastSyncError: row.last_sync_error,
    lastSyncCounts: Object.keys(counts).length === 0 ? null : (counts as FeedSyncCounts),
  };
}
