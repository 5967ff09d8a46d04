import { createHash } from 'node:crypto';
import {
  type FeedKind as DocumentKind,
  type EpssScore,
  type PackageRef,
  PatchwardenError,
  packageKey,
  packagesTouchedBy,
} from '@patchwarden/core';
import {
  claimDueFeeds,
  type Database,
  type Feed,
  type FeedKind,
  type FeedSyncCounts,
  getFeed,
  LOCK_KEYS,
  listAdvisoryInputs,
  listFeeds,
  putAdvisories,
  putEpssScores,
  putKevEntries,
  recordFeedSyncFinish,
  recordFeedSyncStart,
  type Store,
  upsertFeedByName,
  withExclusiveLock,
} from '@patchwarden/store';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { FeedConfig } from '../config.js';
import type { DetectionService } from '../detection/types.js';
import type { Metrics } from '../plugins/metrics.js';
import { FeedCollector, type FeedRole } from './collect.js';
import { loadFeedSource } from './index.js';

/** How one sync ended. */
export interface FeedSyncResult {
  feedId: string;
  name: string;
  status: 'ok' | 'failed';
  /** Null when the sync failed before anything was parsed (the feed keeps its previous counts). */
  counts: FeedSyncCounts | null;
  error: { code: string; message: string } | null;
}

/** What one scheduler pass did: whether this process held the lock, and the syncs it ran. */
export interface DueSyncsReport {
  acquired: boolean;
  results: FeedSyncResult[];
}

export interface FeedSyncService {
  /**
   * Syncs one feed now: load → parse → write what changed in one transaction → re-evaluate the hosts
   * of the touched packages → record status and counts. A load or write that fails marks the feed
   * failed with the error and changes no advisory. Throws FEED_NOT_FOUND (404), and
   * FEED_SYNC_IN_PROGRESS (409) when this or another replica is syncing that feed.
   *
   * Recovery: when the feed's previous sync stored advisories but may not have re-evaluated the
   * hosts for them (it failed with REEVALUATION_FAILED or INTERRUPTED, or it is still `running`
   * although nobody holds its lock: its process died), this sync first re-evaluates every host that
   * holds a package of any stored advisory, so no host keeps a judgement the stored advisories no
   * longer support. If that fails, the sync fails with REEVALUATION_FAILED again and the next one
   * retries.
   */
  syncFeed(feedIdOrName: string): Promise<FeedSyncResult>;
  /**
   * Syncs every enabled feed whose `next_sync_at` has come, under the cluster-wide feed-sync lock, so
   * each due sync runs once across replicas. Returns `acquired: false` at once when another holds it.
   * First it finds syncs that died with their process (status `running` while nobody holds the
   * feed's lock): an enabled feed is synced again at once (see {@link syncFeed} on recovery), a
   * disabled one is marked failed with `INTERRUPTED`.
   */
  runDueSyncs(): Promise<DueSyncsReport>;
}

export interface FeedSyncDeps {
  store: Store;
  log: FastifyBaseLogger;
  now: () => Date;
  detection: Pick<DetectionService, 'reevaluatePackages'>;
  /** Where http(s) feeds are cached between syncs (`<dataDir>/feed-cache`). */
  cacheDir: string;
  metrics: Pick<Metrics, 'feedSyncs'>;
  /** Injectable for tests; default the global `fetch`. */
  fetch?: typeof fetch;
}

/** How a sync that may have left hosts unevaluated for what it stored ends its error text. */
const UNFINISHED_ERROR = /^(REEVALUATION_FAILED|INTERRUPTED): /;

/**
 * Whether `feed`, read while holding its sync lock, was left by a sync that did not re-evaluate
 * hosts: one that failed doing so, or one still marked `running` (no live sync can be, as this
 * process holds the lock).
 */
function isUnfinished(feed: Feed): boolean {
  return (
    feed.lastSyncStatus === 'running' ||
    (feed.lastSyncStatus === 'failed' && UNFINISHED_ERROR.test(feed.lastSyncError ?? ''))
  );
}

/** Items of `skipped` and warnings kept in a sync's counts. */
const NOTES_KEPT = 10;

// The loader's reason for a file that is simply not a feed (a README beside the exports); such a
// file does not make a directory an incomplete snapshot.
const NOT_A_FEED_FILE = /^not a feed file /;

export function createFeedSync(deps: FeedSyncDeps): FeedSyncService {
  const { store, now } = deps;

  async function syncLocked(feed: Feed): Promise<FeedSyncResult> {
    const log = deps.log.child({ feedId: feed.id, feed: feed.name });
    const started = now();
    const startedMs = performance.now();
    // Read again now that the lock is held: the status read before it may have been a live sync's.
    const isRecovering = isUnfinished((await getFeed(store.db, feed.id)) ?? feed);
    await recordFeedSyncStart(store.db, feed.id, started);
    if (isRecovering) {
      try {
        const recovered = await reevaluateEveryAdvisoryPackage();
        log.info(recovered, "re-evaluated every advisory's hosts after an unfinished sync");
      } catch (err) {
        return fail(feed, reevaluationFailed(err, 'every stored advisory'), null, log);
      }
    }

    const collector = new FeedCollector();
    let isComplete: boolean;
    try {
      const loaded = await loadFeedSource(feed.location, {
        cacheDir: deps.cacheDir,
        now,
        ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
      });
      collector.collect(loaded, roleOf(feed.kind), kindsOf(feed.kind));
      isComplete =
        collector.documentCount > 0 &&
        collector.unusableDocuments === 0 &&
        loaded.skipped.every((file) => NOT_A_FEED_FILE.test(file.reason));
    } catch (err) {
      return fail(feed, err, null, log);
    }

    let written: Awaited<ReturnType<typeof writeCollected>>;
    try {
      written = await store.db
        .transaction()
        .execute((trx) => writeCollected(trx, feed.id, collector, isComplete, now()));
    } catch (err) {
      return fail(feed, err, null, log);
    }

    const counts: FeedSyncCounts = {
      documents: collector.documentCount,
      records: collector.records.length + collector.kev.size + collector.epss.size,
      added: written.advisories.added,
      changed: written.advisories.changed,
      unchanged: written.advisories.unchanged,
      removed: written.advisories.removed,
      kev: written.kevChanged,
      epss: written.epssChanged,
      skipped: collector.skipped.length,
      packagesTouched: written.touched.length,
      hostsReevaluated: null,
      durationMs: 0,
      notes: [
        ...collector.reports.flatMap((report) => report.warnings),
        ...collector.skipped.map(
          (item) => `skipped ${item.location}${item.recordId ? ` ${item.recordId}` : ''}: ${item.reason}`,
        ),
      ].slice(0, NOTES_KEPT),
    };
    if (written.touched.length > 0) {
      try {
        counts.hostsReevaluated = (await deps.detection.reevaluatePackages(written.touched)).hosts;
      } catch (err) {
        counts.durationMs = Math.round(performance.now() - startedMs);
        return fail(feed, reevaluationFailed(err, `${written.touched.length} packages`), counts, log);
      }
    } else {
      counts.hostsReevaluated = 0;
    }
    counts.durationMs = Math.round(performance.now() - startedMs);
    await recordFeedSyncFinish(store.db, feed.id, { status: 'ok', error: null, counts }, now());
    deps.metrics.feedSyncs.inc({ feed: feed.name, outcome: 'ok' });
    const { notes: _notes, ...logged } = counts;
    log.info(logged, 'feed synced');
    return { feedId: feed.id, name: feed.name, status: 'ok', counts, error: null };
  }

  async function fail(
    feed: Feed,
    err: unknown,
    counts: FeedSyncCounts | null,
    log: FastifyBaseLogger,
  ): Promise<FeedSyncResult> {
    const error = errorOf(err);
    await recordFeedSyncFinish(
      store.db,
      feed.id,
      { status: 'failed', error: `${error.code}: ${error.message}`, counts },
      now(),
    );
    deps.metrics.feedSyncs.inc({ feed: feed.name, outcome: 'failed' });
    log.warn({ code: error.code, error: error.message }, 'feed sync failed');
    return { feedId: feed.id, name: feed.name, status: 'failed', counts, error };
  }

  /** Re-evaluates the hosts of every package that any stored advisory touches. */
  async function reevaluateEveryAdvisoryPackage() {
    const refs = new Map<string, PackageRef>();
    for (const { advisory } of await listAdvisoryInputs(store.db)) {
      for (const ref of packagesTouchedBy(advisory)) refs.set(packageKey(ref), ref);
    }
    return { packages: refs.size, ...(await deps.detection.reevaluatePackages([...refs.values()])) };
  }

  /**
   * Finds syncs that died with their process: `running` while this process can take the feed's
   * lock. Syncs an enabled one again now (which recovers it), marks a disabled one INTERRUPTED.
   */
  async function recoverDeadSyncs(): Promise<FeedSyncResult[]> {
    const results: FeedSyncResult[] = [];
    for (const feed of await listFeeds(store.db)) {
      if (feed.lastSyncStatus !== 'running') continue;
      const locked = await withExclusiveLock(store.db, store.dialect, feedLockKey(feed.id), async () => {
        const current = await getFeed(store.db, feed.id);
        if (current?.lastSyncStatus !== 'running') return null;
        if (current.isEnabled) return syncLocked(current);
        const startedAt = current.lastSyncStartedAt?.toISOString() ?? 'an unknown time';
        const error = `INTERRUPTED: the sync started at ${startedAt} ended with its server process; the next sync re-evaluates the hosts of every stored advisory`;
        await recordFeedSyncFinish(store.db, current.id, { status: 'failed', error, counts: null }, now());
        deps.log.warn({ feedId: current.id, feed: current.name }, 'feed sync found interrupted');
        return null;
      });
      if (locked.acquired && locked.value !== null) results.push(locked.value);
    }
    return results;
  }

  async function syncFeed(feedIdOrName: string): Promise<FeedSyncResult> {
    const feed = await getFeed(store.db, feedIdOrName);
    if (feed === null) {
      throw new PatchwardenError('FEED_NOT_FOUND', `feed ${feedIdOrName} does not exist`, 404);
    }
    const locked = await withExclusiveLock(store.db, store.dialect, feedLockKey(feed.id), () =>
      syncLocked(feed),
    );
    if (!locked.acquired) {
      throw new PatchwardenError(
        'FEED_SYNC_IN_PROGRESS',
        `feed ${feed.name} is being synced right now by this or another server replica; try again when it ends`,
        409,
      );
    }
    return locked.value;
  }

  async function runDueSyncs(): Promise<DueSyncsReport> {
    const locked = await withExclusiveLock(store.db, store.dialect, LOCK_KEYS.feedSync, async () => {
      const results = await recoverDeadSyncs();
      // Claimed inside the lock: `next_sync_at` is read and moved on here, so a replica that held
      // the lock a moment ago and synced a feed has already pushed it out of reach.
      const due = await claimDueFeeds(store.db, now());
      for (const feed of due) {
        try {
          results.push(await syncFeed(feed.id));
        } catch (err) {
          const error = errorOf(err);
          deps.log.warn(
            { feedId: feed.id, code: error.code, error: error.message },
            'scheduled feed sync skipped',
          );
        }
      }
      return results;
    });
    return locked.acquired ? { acquired: true, results: locked.value } : { acquired: false, results: [] };
  }

  return { syncFeed, runDueSyncs };
}

/**
 * Creates or updates the feeds of the config file, by name. Two replicas starting at once may both
 * try to create a feed; the loser's insert fails on the unique name and its retry sees the row.
 */
export async function seedConfiguredFeeds(
  store: Store,
  feeds: readonly FeedConfig[],
  now: Date,
  log: FastifyBaseLogger,
): Promise<void> {
  for (const config of feeds) {
    const input = {
      name: config.name,
      kind: config.kind,
      location: config.location,
      scheduleSeconds: config.scheduleSeconds,
    };
    let result: Awaited<ReturnType<typeof upsertFeedByName>>;
    try {
      result = await upsertFeedByName(store.db, input, now);
    } catch {
      result = await upsertFeedByName(store.db, input, now);
    }
    if (result.outcome !== 'unchanged') {
      log.info({ feed: config.name, outcome: result.outcome }, 'configured feed applied');
    }
  }
}

/** Writes what the collector holds, only where it changed, and the packages whose judgement may change. */
async function writeCollected(
  trx: Kysely<Database>,
  feedId: string,
  collector: FeedCollector,
  isCompleteSnapshot: boolean,
  now: Date,
) {
  const advisories = await putAdvisories(trx, {
    feedId,
    inputs: collector.records,
    isCompleteSnapshot,
    now,
  });
  const changedCves = new Set<string>();
  let kevChanged = 0;
  if (collector.kev.size > 0) {
    const changed = await putKevEntries(trx, { feedId, entries: [...collector.kev.values()] });
    kevChanged = changed.length;
    for (const cve of changed) changedCves.add(cve);
  }
  let epssChanged = 0;
  if (collector.epss.size > 0) {
    const scores = [...collector.epss.values()];
    for (const cve of await changedEpssCves(trx, scores)) changedCves.add(cve);
    epssChanged = await putEpssScores(trx, { feedId, scores });
  }
  const touched = new Map<string, PackageRef>(advisories.touched.map((ref) => [packageKey(ref), ref]));
  // KEV and EPSS change the risk of findings, not whether they exist: the hosts to re-evaluate are
  // those with a package that an advisory naming a changed CVE affects.
  if (changedCves.size > 0) {
    for (const { advisory } of await listAdvisoryInputs(trx)) {
      if (!advisory.cves.some((cve) => changedCves.has(cve))) continue;
      for (const ref of packagesTouchedBy(advisory)) touched.set(packageKey(ref), ref);
    }
  }
  return { advisories, kevChanged, epssChanged, touched: [...touched.values()] };
}

/** The CVEs among `scores` whose stored score differs or is missing (as `putEpssScores` judges it). */
async function changedEpssCves(trx: Kysely<Database>, scores: readonly EpssScore[]): Promise<string[]> {
  const changed: string[] = [];
  for (let i = 0; i < scores.length; i += 400) {
    const chunk = scores.slice(i, i + 400);
    const rows = await trx
      .selectFrom('epss_scores')
      .select(['cve_id', 'epss', 'percentile'])
      .where(
        'cve_id',
        'in',
        chunk.map((s) => s.cve),
      )
      .execute();
    const old = new Map(rows.map((row) => [row.cve_id, row]));
    for (const score of chunk) {
      const stored = old.get(score.cve);
      if (
        stored === undefined ||
        stored.epss !== score.epss ||
        stored.percentile !== (score.percentile ?? 0)
      ) {
        changed.push(score.cve);
      }
    }
  }
  return changed;
}

function roleOf(kind: FeedKind): FeedRole {
  return kind === 'kev' || kind === 'epss' ? kind : 'advisories';
}

/** The document kinds a feed of `kind` reads; `auto` reads every kind. */
function kindsOf(kind: FeedKind): { kinds?: readonly DocumentKind[] } {
  switch (kind) {
    case 'auto':
      return {};
    case 'debian-dsa-list':
      return { kinds: ['debian-dsa-list', 'debian-dla-list'] };
    default:
      return { kinds: [kind] };
  }
}

/** A per-feed advisory-lock key, so an on-demand sync and a scheduled one never run one feed twice at once. */
export function feedLockKey(feedId: string): number {
  return createHash('sha256').update(`feed-sync:${feedId}`).digest().readInt32BE(0);
}

function reevaluationFailed(err: unknown, what: string): PatchwardenError {
  const cause = errorOf(err);
  return new PatchwardenError(
    'REEVALUATION_FAILED',
    `the feed's advisories are stored, but re-evaluating the hosts of ${what} failed: ${cause.code}: ${cause.message}; the next sync retries`,
    500,
    { cause: err },
  );
}

function errorOf(err: unknown): { code: string; message: string } {
  if (err instanceof PatchwardenError) return { code: err.code, message: err.message };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}
