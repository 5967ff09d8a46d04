import { createHash } from 'node:crypto';
import {
  type Advisory,
  type AdvisoryIndexInput,
  type EpssScore,
  type KevEntry,
  type PackageRef,
  packagesTouchedBy,
  scopeKey,
} from '@patchwarden/core';
import type { Insertable, Kysely } from 'kysely';
import { readJson, readOptionalTimestamp } from '../codec.js';
import { bumpRevision } from '../dialect.js';
import type { AdvisoryAffectedTable, Database } from '../schema.js';

/** The revision bumped whenever advisories, KEV or EPSS change: detection indexes are stale then. */
export const ADVISORIES_REVISION = 'advisories';

// Rows per multi-row statement: far below SQLite's and PostgreSQL's bound-parameter limits.
const CHUNK = 200;

export interface PutAdvisoriesResult {
  added: number;
  changed: number;
  unchanged: number;
  /** Records of this feed that the new snapshot no longer has (only with `isCompleteSnapshot`). */
  removed: number;
  /** Every (scope, package) that an added, changed or removed record names, before or after. */
  touched: PackageRef[];
  /** The `advisories` revision after the write (unchanged when nothing changed). */
  revision: number | null;
}

/** The stored id of a record: its source and its own id. */
export function advisoryRowId(advisory: Advisory): string {
  return `${advisory.source}:${advisory.id}`;
}

/** sha256 of the normalised record (not of its origin, whose timestamp moves on every fetch). */
export function advisoryContentHash(advisory: Advisory): string {
  return createHash('sha256').update(JSON.stringify(advisory)).digest('hex');
}

/**
 * Writes a feed's parsed records, only where they changed (by content hash), in the caller's
 * transaction. A record belongs to the feed that wrote it last. With `isCompleteSnapshot`, this
 * feed's stored records missing from `inputs` are deleted (a full export was read), except those
 * that findings cite: these stay, withdrawn (at `now`) and belonging to no feed. Bumps the
 * `advisories` revision when anything changed.
 */
export async function putAdvisories(
  trx: Kysely<Database>,
  input: {
    feedId: string | null;
    inputs: readonly AdvisoryIndexInput[];
    isCompleteSnapshot: boolean;
    /** When a removed record that findings still cite is marked withdrawn; default the current time. */
    now?: Date;
  },
): Promise<PutAdvisoriesResult> {
  const byId = new Map<string, AdvisoryIndexInput>();
  for (const entry of input.inputs) {
    byId.set(advisoryRowId(entry.advisory), entry);
  }
  const ids = [...byId.keys()];
  const existing = new Map<string, { hash: string; record: string }>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await trx
      .selectFrom('advisories')
      .select(['id', 'content_hash', 'record'])
      .where('id', 'in', ids.slice(i, i + CHUNK))
      .execute();
    for (const row of rows) {
      existing.set(row.id, { hash: row.content_hash, record: row.record });
    }
  }
  const touched = new Map<string, PackageRef>();
  const touch = (advisory: Advisory) => {
    for (const ref of packagesTouchedBy(advisory)) {
      touched.set(`${ref.scopeKey}\u0000${ref.name}`, ref);
    }
  };
  const writes: Array<{ id: string; entry: AdvisoryIndexInput; hash: string; isNew: boolean }> = [];
  let unchanged = 0;
  for (const [id, entry] of byId) {
    const hash = advisoryContentHash(entry.advisory);
    const old = existing.get(id);
    if (old !== undefined && old.hash === hash) {
      unchanged += 1;
      continue;
    }
    if (old !== undefined) {
      touch(storedAdvisory(old.record, id).advisory);
    }
    touch(entry.advisory);
    writes.push({ id, entry, hash, isNew: old === undefined });
  }

  let removed = 0;
  if (input.isCompleteSnapshot && input.feedId !== null) {
    const stored = await trx
      .selectFrom('advisories')
      .select(['id', 'record'])
      .where('feed_id', '=', input.feedId)
      .execute();
    const gone = stored.filter((row) => !byId.has(row.id));
    for (const row of gone) {
      touch(storedAdvisory(row.record, row.id).advisory);
    }
    // Findings cite advisories without cascade (they are history): a removed record that findings
    // cite stays as a withdrawn record belonging to no feed, so it produces no finding any more.
    const cited = new Set<string>();
    for (let i = 0; i < gone.length; i += CHUNK) {
      const rows = await trx
        .selectFrom('findings')
        .select('advisory_id')
        .distinct()
        .where(
          'advisory_id',
          'in',
          gone.slice(i, i + CHUNK).map((row) => row.id),
        )
        .execute();
      for (const row of rows) cited.add(row.advisory_id);
    }
    const deletable = gone.filter((row) => !cited.has(row.id));
    for (let i = 0; i < deletable.length; i += CHUNK) {
      await trx
        .deleteFrom('advisories')
        .where(
          'id',
          'in',
          deletable.slice(i, i + CHUNK).map((row) => row.id),
        )
        .execute();
    }
    const withdrawnAt = (input.now ?? new Date()).toISOString();
    for (const row of gone.filter((r) => cited.has(r.id))) {
      const entry = storedAdvisory(row.record, row.id);
      const withdrawn = { ...entry, advisory: { ...entry.advisory, withdrawn: withdrawnAt } };
      await trx
        .updateTable('advisories')
        .set({
          withdrawn_at: withdrawnAt,
          feed_id: null,
          content_hash: advisoryContentHash(withdrawn.advisory),
          record: JSON.stringify(withdrawn),
        })
        .where('id', '=', row.id)
        .execute();
    }
    removed = gone.length;
  }

  for (let i = 0; i < writes.length; i += CHUNK) {
    const chunk = writes.slice(i, i + CHUNK);
    const changedIds = chunk.filter((w) => !w.isNew).map((w) => w.id);
    if (changedIds.length > 0) {
      // Rewritten in place, not deleted and inserted: findings cite the row (without cascade).
      await trx.deleteFrom('advisory_affected').where('advisory_id', 'in', changedIds).execute();
      for (const w of chunk.filter((c) => !c.isNew)) {
        const { id: _id, ...row } = advisoryRow(w.id, w.entry, w.hash, input.feedId);
        await trx.updateTable('advisories').set(row).where('id', '=', w.id).execute();
      }
    }
    const fresh = chunk.filter((w) => w.isNew);
    if (fresh.length > 0) {
      await trx
        .insertInto('advisories')
        .values(fresh.map((w) => advisoryRow(w.id, w.entry, w.hash, input.feedId)))
        .execute();
    }
    const affected = chunk.flatMap((w) => affectedRows(w.id, w.entry.advisory));
    for (let j = 0; j < affected.length; j += CHUNK) {
      await trx
        .insertInto('advisory_affected')
        .values(affected.slice(j, j + CHUNK))
        .execute();
    }
  }

  const added = writes.filter((w) => w.isNew).length;
  const changed = writes.length - added;
  const revision = added + changed + removed > 0 ? await bumpRevision(trx, ADVISORIES_REVISION) : null;
  return { added, changed, unchanged, removed, touched: [...touched.values()], revision };
}

function advisoryRow(id: string, entry: AdvisoryIndexInput, hash: string, feedId: string | null) {
  const { advisory } = entry;
  const cvss = advisory.cvss.reduce<number | null>(
    (max, score) => (max === null || score.baseScore > max ? score.baseScore : max),
    null,
  );
  return {
    id,
    source: advisory.source,
    external_id: advisory.id,
    title: advisory.summary,
    severity: advisory.severity,
    cvss_score: cvss,
    aliases: JSON.stringify(advisory.aliases),
    published_at: isoOrNull(advisory.published),
    modified_at: isoOrNull(advisory.modified),
    withdrawn_at: isoOrNull(advisory.withdrawn),
    content_hash: hash,
    feed_id: feedId,
    record: JSON.stringify(entry),
  };
}

function affectedRows(id: string, advisory: Advisory) {
  const rows: Insertable<AdvisoryAffectedTable>[] = [];
  let position = 0;
  for (const affected of advisory.affected) {
    const osScope = affected.scope === null ? null : scopeKey(affected.scope);
    const ranges = affected.ranges.length > 0 ? affected.ranges : [null];
    for (const range of ranges) {
      rows.push({
        advisory_id: id,
        position,
        ecosystem: affected.ecosystem,
        os_scope: osScope,
        package_name: affected.name,
        introduced: range?.introduced ?? null,
        fixed: range?.fixed ?? null,
        last_affected: range?.lastAffected ?? null,
      });
      position += 1;
    }
  }
  return rows;
}

/** Feed dates are ISO dates or date-times; anything unparseable is stored as unknown. */
function isoOrNull(text: string | null): string | null {
  if (text === null) return null;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

function storedAdvisory(record: string, id: string): AdvisoryIndexInput {
  return readJson(record, `advisories.record of ${id}`) as AdvisoryIndexInput;
}

/** Every stored record, as the detection index takes them. */
export async function listAdvisoryInputs(db: Kysely<Database>): Promise<AdvisoryIndexInput[]> {
  const rows = await db.selectFrom('advisories').select(['id', 'record']).orderBy('id').execute();
  return rows.map((row) => storedAdvisory(row.record, row.id));
}

/** One stored record by its row id (`<source>:<id>`) or by its own id; null when absent. */
export async function getAdvisory(
  db: Kysely<Database>,
  id: string,
): Promise<(AdvisoryIndexInput & { rowId: string; feedId: string | null; withdrawnAt: Date | null }) | null> {
  const row = await db
    .selectFrom('advisories')
    .select(['id', 'record', 'feed_id', 'withdrawn_at'])
    .where((eb) => eb.or([eb('id', '=', id), eb('external_id', '=', id)]))
    .orderBy('id')
    .executeTakeFirst();
  if (row === undefined) return null;
  return {
    ...storedAdvisory(row.record, row.id),
    rowId: row.id,
    feedId: row.feed_id,
    withdrawnAt: readOptionalTimestamp(row.withdrawn_at),
  };
}

/** Writes KEV entries where they changed; returns the CVE ids added or changed. */
export async function putKevEntries(
  trx: Kysely<Database>,
  input: { feedId: string | null; entries: readonly KevEntry[] },
): Promise<string[]> {
  const changed: string[] = [];
  const entries = [...new Map(input.entries.map((e) => [e.cve, e])).values()];
  for (let i = 0; i < entries.length; i += CHUNK) {
    const chunk = entries.slice(i, i + CHUNK);
    const rows = await trx
      .selectFrom('kev_entries')
      .select(['cve_id', 'content_hash'])
      .where(
        'cve_id',
        'in',
        chunk.map((e) => e.cve),
      )
      .execute();
    const hashes = new Map(rows.map((row) => [row.cve_id, row.content_hash]));
    const writes = chunk
      .map((entry) => ({ entry, record: JSON.stringify(entry) }))
      .map((w) => ({ ...w, hash: createHash('sha256').update(w.record).digest('hex') }))
      .filter((w) => hashes.get(w.entry.cve) !== w.hash);
    if (writes.length === 0) continue;
    await trx
      .insertInto('kev_entries')
      .values(
        writes.map((w) => ({
          cve_id: w.entry.cve,
          feed_id: input.feedId,
          record: w.record,
          content_hash: w.hash,
        })),
      )
      .onConflict((oc) =>
        oc.column('cve_id').doUpdateSet((eb) => ({
          feed_id: eb.ref('excluded.feed_id'),
          record: eb.ref('excluded.record'),
          content_hash: eb.ref('excluded.content_hash'),
        })),
      )
      .execute();
    changed.push(...writes.map((w) => w.entry.cve));
  }
  if (changed.length > 0) await bumpRevision(trx, ADVISORIES_REVISION);
  return changed;
}

/** Writes EPSS scores where they changed; returns how many rows changed. */
export async function putEpssScores(
  trx: Kysely<Database>,
  input: { feedId: string | null; scores: readonly EpssScore[] },
): Promise<number> {
  let changed = 0;
  const scores = [...new Map(input.scores.map((s) => [s.cve, s])).values()];
  for (let i = 0; i < scores.length; i += CHUNK * 2) {
    const chunk = scores.slice(i, i + CHUNK * 2);
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
    const writes = chunk.filter((s) => {
      const o = old.get(s.cve);
      return o === undefined || o.epss !== s.epss || o.percentile !== (s.percentile ?? 0);
    });
    if (writes.length === 0) continue;
    await trx
      .insertInto('epss_scores')
      .values(
        writes.map((s) => ({
          cve_id: s.cve,
          feed_id: input.feedId,
          epss: s.epss,
          percentile: s.percentile ?? 0,
          scored_on: s.scoreDate,
        })),
      )
      .onConflict((oc) =>
        oc.column('cve_id').doUpdateSet((eb) => ({
          feed_id: eb.ref('excluded.feed_id'),
          epss: eb.ref('excluded.epss'),
          percentile: eb.ref('excluded.percentile'),
          scored_on: eb.ref('excluded.scored_on'),
        })),
      )
      .execute();
    changed += writes.length;
  }
  if (changed > 0) await bumpRevision(trx, ADVISORIES_REVISION);
  return changed;
}

/** Every KEV entry by CVE id, as detection takes them. */
export async function loadKevEntries(db: Kysely<Database>): Promise<Map<string, KevEntry>> {
  const rows = await db.selectFrom('kev_entries').select(['cve_id', 'record']).execute();
  return new Map(rows.map((row) => [row.cve_id, readJson(row.record, 'kev_entries.record') as KevEntry]));
}

/** Every EPSS score by CVE id, as detection takes them. */
export async function loadEpssScores(db: Kysely<Database>): Promise<Map<string, EpssScore>> {
  const rows = await db.selectFrom('epss_scores').selectAll().execute();
  return new Map(
    rows.map((row) => [
      row.cve_id,
      {
        cve: row.cve_id,
        epss: row.epss,
        percentile: row.percentile,
        scoreDate: row.scored_on,
        modelVersion: null,
      },
    ]),
  );
}
