import { getEcosystem } from '../ecosystems/index.js';
import type {
  Advisory,
  AffectedPackage,
  AffectedRange,
  FeedOrigin,
  FixState,
  Severity,
} from '../types/advisory.js';
import type { Ecosystem, EcosystemId } from '../types/ecosystem.js';
import { naturalKey } from './ids.js';
import { type PackageRef, scopeKey } from './scope.js';

/** One parsed record and the feed it came from. */
export interface AdvisoryIndexInput {
  advisory: Advisory;
  origin: FeedOrigin | null;
}

/** What went into an index and what was left out, for the feed-sync report. */
export interface AdvisoryIndexStats {
  /** Records indexed (withdrawn ones excluded). */
  records: number;
  /** Withdrawn records seen and skipped (kept for audit elsewhere, never a finding). */
  withdrawn: number;
  /** `affected[]` entries indexed. */
  affectedEntries: number;
  /** Affected intervals indexed (one per `AffectedRange`). */
  intervals: number;
  /** Versions indexed from `versions[]` lists. */
  listedVersions: number;
  /** `affected[]` entries skipped because their ecosystem is not in the registry. */
  unknownEcosystem: number;
  /** `affected[]` entries with neither a usable range nor a listed version: they can never match. */
  emptyEntries: number;
  /**
   * Advisory-side versions the ecosystem rejects. The range (or listed version) holding one is
   * dropped: it cannot be decided, and it never crashes a host evaluation.
   */
  invalidVersions: number;
  /** Ranges with both `fixed` and `lastAffected` (OSV forbids it; tolerated, both bounds apply). */
  fixedAndLastAffected: number;
}

/**
 * The advisories arranged for per-host lookups: (ecosystem, scope key, package name) -> compiled
 * tables. Built once with `buildAdvisoryIndex`, changed in place by `updateAdvisoryIndex`, queried
 * by `detectFindings`. The fields other than `stats` and `generation` are internal.
 */
export interface AdvisoryIndex {
  readonly stats: AdvisoryIndexStats;
  /** Increases on every update; memos made under an older generation are discarded. */
  readonly generation: number;
  readonly tables: Map<string, ScopeTable>;
  readonly records: Map<string, RecordState>;
}

/** @internal One record in the index, with the tables it was placed in. */
export interface RecordState {
  readonly key: string;
  readonly advisory: Advisory;
  readonly origin: FeedOrigin | null;
  readonly placements: Placement[];
  readonly counts: AdvisoryIndexStats;
  /** The advisory's CVE ids in natural order, deduplicated, with their `naturalKey`s; made on first use. */
  cveOrder: { readonly ids: readonly string[]; readonly keys: readonly string[] } | null;
}

interface Placement {
  table: ScopeTable;
  name: string;
  kind: MatchKind;
}

/**
 * How a table's entries reach an installed package: `source` by its source name (Debian, Ubuntu,
 * Alpine origin), `binary` by its binary name (RPM families), `listed` by its binary name appearing
 * in a source record's `binaries` list (Ubuntu).
 */
export type MatchKind = 'source' | 'binary' | 'listed';

/** @internal The names of one (ecosystem, scope). */
export interface ScopeTable {
  readonly ecosystem: Ecosystem;
  /** `debian:12`, or the ecosystem id for application packages. */
  readonly scopeKey: string;
  readonly names: Map<string, NameBucket>;
  /**
   * Whether an entry was ever placed here by source name, and by binary name (`binary` or `listed`):
   * when one never was, detection skips looking that name up. Never reset.
   */
  hasSourceNames: boolean;
  hasBinaryNames: boolean;
}

/** @internal */
export interface NameBucket {
  source: MatchTable | null;
  binary: MatchTable | null;
  listed: MatchTable | null;
}

/** @internal One (record, affected package) pair, validated. */
export interface CompiledEntry {
  readonly record: RecordState;
  readonly affected: AffectedPackage;
  readonly ecosystem: Ecosystem;
  readonly scopeLabel: string;
  /**
   * Copied from the record and the affected package, so that assembling evidence reads the entry
   * only: the advisory id, the feed, the package name, the severity that applies (the package's,
   * else the record's), the urgency, and the fix state of a match without a fixed version.
   */
  readonly advisoryId: string;
  readonly origin: FeedOrigin | null;
  readonly name: string;
  readonly severity: Severity;
  readonly urgency: string | null;
  readonly unfixedState: FixState;
  /** Ubuntu `binaries`: only these binaries of the source are affected. Null when the list is empty. */
  readonly binaries: ReadonlySet<string> | null;
  /** Orders evidence: natural advisory id, feed location, scope, name (see `naturalKey`). */
  readonly sortKey: string;
  /** The entry's valid intervals, in the record's order. */
  readonly intervals: readonly Interval[];
  readonly listedVersions: readonly string[];
  /** Scratch for one evaluation: which evaluation last saw this entry and where its match sits. */
  stamp: number;
  slot: number;
  /** Scratch of `rankEntries`: the entry's rank by `sortKey` in the table being ranked. */
  rank: number;
}

/** @internal One affected interval; `introduced` "0" is normalised to null. */
export interface Interval {
  readonly entry: CompiledEntry;
  readonly range: AffectedRange;
  readonly introduced: string | null;
  readonly fixed: string | null;
  readonly lastAffected: string | null;
  readonly limit: string | null;
  /** The evidence's description of the interval (after `installed <version>`), made on first use. */
  text: string | null;
}

/** @internal */
export interface ListedVersion {
  readonly entry: CompiledEntry;
  readonly version: string;
}

/**
 * @internal The entries of one (scope, name, kind), compiled for lookups with few comparisons:
 * `upper` holds the common `[first version, fixed)` intervals sorted by `fixed`, so the affected ones
 * are a suffix found by binary search; `inclusive` likewise `[first, lastAffected]` sorted by
 * `lastAffected`; `open` intervals affect every version; `general` is the rest, checked one by one;
 * `listed` is every `versions[]` entry sorted in the ecosystem's order.
 */
export interface MatchTable {
  readonly ecosystem: Ecosystem;
  readonly kind: MatchKind;
  readonly entries: readonly CompiledEntry[];
  readonly upper: readonly Interval[];
  readonly inclusive: readonly Interval[];
  readonly open: readonly Interval[];
  readonly general: readonly Interval[];
  /** The sorted arrays grouped for lookups, made on first use (`tableLookup`). */
  lookup: TableLookup | null;
  readonly listed: readonly ListedVersion[];
  /** Whether some entry restricts the binaries it applies to, so results depend on the binary name. */
  readonly hasRestrictedEntries: boolean;
  /**
   * Scratch of one detection call (detect.ts): the call's stamp, the last version located in this
   * table during it and that version's place (-1: invalid), for the host's other binaries of one source.
   */
  hostStamp: number;
  hostVersion: string;
  hostPlace: number;
  /**
   * Copied from `lookup` when it is made, so that the common path of detection reads the table only:
   * `lookup.isDecidedByPlace`, the highest of `lookup.versions` ('' when none), their count, and `lookup.slots`.
   */
  isDecidedByPlace: boolean;
  highest: string;
  classCount: number;
  slots: unknown[] | null;
}

/**
 * @internal A table's arrays arranged for lookups, made on first use (`tableLookup`). Every version
 * the table compares with (fixed, last affected, introduced, listed) is placed once in `versions`,
 * sorted and grouped into classes the ecosystem orders as equal (many advisories share a fixed
 * version): one binary search there locates the installed version, on a class or between two, and
 * each sorted array's cut at that place is read from its cuts: per class, where its items of that
 * class or above start, then the item count.
 */
export interface TableLookup {
  /** One version per class, ascending; a class is spelled by its lowest spelling in text order. */
  readonly versions: readonly string[];
  /** The class of every version the table holds. */
  readonly classOf: ReadonlyMap<string, number>;
  /** `upper` by fixed version. */
  readonly upperCuts: Int32Array;
  /** `inclusive` by last affected version. */
  readonly inclusiveCuts: Int32Array;
  readonly listedCuts: Int32Array;
  readonly general: GeneralIndex;
  /** Whether the place of a version alone decides what applies (no `general` interval is checked one by one). */
  readonly isDecidedByPlace: boolean;
  /**
   * Per place of a version among `versions` (as `locate` in detect.ts numbers them: 2 × versions + 1
   * places), what detection derived from the intervals holding it, made on first use (owned by detect.ts).
   */
  readonly slots: unknown[];
  /**
   * Per item of `upper`, `inclusive`, `open`, `general` and `listed`: its entry's rank among the
   * table's entries by `sortKey` (equal keys, equal ranks), to order one table's matches by integers.
   */
  readonly ranks: {
    readonly upper: Int32Array;
    readonly inclusive: Int32Array;
    readonly open: Int32Array;
    readonly general: Int32Array;
    readonly listed: Int32Array;
  };
}

/**
 * @internal The `general` intervals of the form `[introduced, fixed)` or `[introduced, ∞)` (most of
 * them), by position in `general`: sorted by `fixed` (null last) and by `introduced`, with each
 * interval's rank in both orders. The intervals holding a version are those ranked at or after the
 * first `fixed` above it and before the first `introduced` above it: read from the cuts, then
 * integer tests on whichever side is shorter. `others` are the positions checked one by one.
 */
export interface GeneralIndex {
  readonly byFixed: readonly number[];
  /** Cuts of the `byFixed` items that have a fixed version (the unbounded rest is at the end). */
  readonly fixedCuts: Int32Array;
  readonly byIntroduced: readonly number[];
  readonly introducedCuts: Int32Array;
  /** Per position in `general`: rank in `byFixed` / `byIntroduced`, -1 when not indexed. */
  readonly fixedRank: Int32Array;
  readonly introducedRank: Int32Array;
  /**
   * Per position in `general`: the class of its fixed version in `TableLookup.versions`, -1
   * without one; compares the fixed versions of two matches without `compare`.
   */
  readonly fixedClass: Int32Array;
  readonly others: readonly number[];
}

/** The identity of a record in the index: source, id and feed location (same id from two feeds = two records). */
export function recordKey(advisory: Advisory, origin: FeedOrigin | null): string {
  return `${advisory.source}\u0000${advisory.id}\u0000${origin?.location ?? ''}`;
}

/** Builds the index. A record whose `recordKey` repeats replaces the earlier one. */
export function buildAdvisoryIndex(entries: Iterable<AdvisoryIndexInput>): AdvisoryIndex {
  const index: AdvisoryIndex = { stats: emptyStats(), generation: 0, tables: new Map(), records: new Map() };
  updateAdvisoryIndex(index, { upsert: entries });
  return index;
}

/** A feed change: records to add or replace, and record keys (`recordKey`) to drop. */
export interface AdvisoryIndexDelta {
  upsert?: Iterable<AdvisoryIndexInput>;
  remove?: Iterable<string>;
}

/**
 * Applies a feed change to the index in place and returns every (scope, name) whose matches may have
 * changed (old and new placements, deduplicated): re-evaluate only the hosts that have one of them.
 * Upserting a withdrawn record removes its earlier version. Increments `generation`.
 */
export function updateAdvisoryIndex(index: AdvisoryIndex, delta: AdvisoryIndexDelta): PackageRef[] {
  const dirty = new Map<string, Placement>();
  const removed = new Set<RecordState>();
  const markDirty = (placements: readonly Placement[]) => {
    for (const placement of placements) {
      dirty.set(
        `${placement.table.ecosystem.id}\u0000${placement.table.scopeKey}\u0000${placement.name}\u0000${placement.kind}`,
        placement,
      );
    }
  };
  const drop = (key: string) => {
    const previous = index.records.get(key);
    if (previous === undefined) return;
    index.records.delete(key);
    removed.add(previous);
    addCounts(index.stats, previous.counts, -1);
    markDirty(previous.placements);
  };

  for (const key of delta.remove ?? []) drop(key);
  for (const { advisory, origin } of delta.upsert ?? []) {
    const key = recordKey(advisory, origin);
    drop(key);
    if (advisory.withdrawn !== null) {
      index.stats.withdrawn++;
      continue;
    }
    const record = placeRecord(index, key, advisory, origin);
    index.records.set(key, record);
    addCounts(index.stats, record.counts, 1);
    markDirty(record.placements);
  }

  const touched = new Map<string, PackageRef>();
  for (const { table, name, kind } of dirty.values()) {
    const bucket = table.names.get(name);
    if (bucket === undefined) continue;
    const placed = pending.get(bucket)?.[kind] ?? [];
    const fresh = removed.size === 0 ? placed : placed.filter((entry) => !removed.has(entry.record));
    bucket[kind] = rebuildTable(table.ecosystem, kind, bucket[kind], removed, fresh);
    touched.set(`${table.scopeKey}\u0000${name}`, { scopeKey: table.scopeKey, name });
  }
  for (const { table, name } of dirty.values()) {
    const bucket = table.names.get(name);
    if (bucket !== undefined) {
      pending.delete(bucket);
      if (bucket.source === null && bucket.binary === null && bucket.listed === null)
        table.names.delete(name);
    }
  }
  (index as { generation: number }).generation++;
  return [...touched.values()];
}

/** Entries placed by the current update, not yet compiled into their bucket's table. */
const pending = new WeakMap<NameBucket, Record<MatchKind, CompiledEntry[]>>();

function placeRecord(
  index: AdvisoryIndex,
  key: string,
  advisory: Advisory,
  origin: FeedOrigin | null,
): RecordState {
  const record: RecordState = {
    key,
    advisory,
    origin,
    placements: [],
    counts: emptyStats(),
    cveOrder: null,
  };
  record.counts.records = 1;
  for (const affected of advisory.affected) {
    const ecosystem = getEcosystem(affected.ecosystem);
    if (ecosystem === undefined) {
      record.counts.unknownEcosystem++;
      continue;
    }
    const label = affected.scope === null ? ecosystem.id : scopeKey(affected.scope);
    const entry = compileEntry(record, affected, ecosystem, label);
    if (entry.intervals.length === 0 && entry.listedVersions.length === 0) {
      record.counts.emptyEntries++;
      continue;
    }
    record.counts.affectedEntries++;
    record.counts.intervals += entry.intervals.length;
    record.counts.listedVersions += entry.listedVersions.length;
    const table = scopeTable(index, ecosystem, label);
    place(record, table, affected.name, affected.nameKind, entry);
    for (const binary of entry.binaries ?? []) {
      if (binary !== affected.name) place(record, table, binary, 'listed', entry);
    }
  }
  return record;
}

function place(
  record: RecordState,
  table: ScopeTable,
  name: string,
  kind: MatchKind,
  entry: CompiledEntry,
): void {
  let bucket = table.names.get(name);
  if (bucket === undefined) {
    bucket = { source: null, binary: null, listed: null };
    table.names.set(name, bucket);
  }
  let lists = pending.get(bucket);
  if (lists === undefined) {
    lists = { source: [], binary: [], listed: [] };
    pending.set(bucket, lists);
  }
  lists[kind].push(entry);
  if (kind === 'source') table.hasSourceNames = true;
  else table.hasBinaryNames = true;
  record.placements.push({ table, name, kind });
}

function scopeTable(index: AdvisoryIndex, ecosystem: Ecosystem, label: string): ScopeTable {
  const key = tableKey(ecosystem.id, label);
  let table = index.tables.get(key);
  if (table === undefined) {
    table = { ecosystem, scopeKey: label, names: new Map(), hasSourceNames: false, hasBinaryNames: false };
    index.tables.set(key, table);
  }
  return table;
}

/** @internal */
export function tableKey(ecosystem: EcosystemId, label: string): string {
  return `${ecosystem}\u0000${label}`;
}

function compileEntry(
  record: RecordState,
  affected: AffectedPackage,
  ecosystem: Ecosystem,
  label: string,
): CompiledEntry {
  const intervals: Interval[] = [];
  const listedVersions: string[] = [];
  const entry: CompiledEntry = {
    record,
    affected,
    ecosystem,
    scopeLabel: label,
    advisoryId: record.advisory.id,
    origin: record.origin,
    name: affected.name,
    severity: affected.severity ?? record.advisory.severity,
    urgency: affected.urgency,
    unfixedState: affected.noFixReason !== null ? 'will-not-fix' : 'no-fix-yet',
    binaries:
      affected.nameKind === 'source' && affected.binaries.length > 0 ? new Set(affected.binaries) : null,
    sortKey: `${naturalKey(record.advisory.id)}\u0000${record.origin?.location ?? ''}\u0000${label}\u0000${affected.name}`,
    intervals,
    listedVersions,
    stamp: 0,
    slot: 0,
    rank: 0,
  };
  const isValid = (version: string | null) => {
    if (version === null || ecosystem.checkVersion(version) === null) return true;
    record.counts.invalidVersions++;
    return false;
  };
  for (const range of affected.ranges) {
    // OSV `introduced: "0"` means "from the first version", not a version to compare with.
    const introduced = range.introduced === '0' ? null : range.introduced;
    const valid =
      isValid(introduced) && isValid(range.fixed) && isValid(range.lastAffected) && isValid(range.limit);
    if (!valid) continue;
    if (range.fixed !== null && range.lastAffected !== null) record.counts.fixedAndLastAffected++;
    intervals.push({
      entry,
      range,
      introduced,
      fixed: range.fixed,
      lastAffected: range.lastAffected,
      limit: range.limit,
      text: null,
    });
  }
  for (const version of affected.versions) {
    if (isValid(version)) listedVersions.push(version);
  }
  return entry;
}

function compileTable(ecosystem: Ecosystem, kind: MatchKind, entries: readonly CompiledEntry[]): MatchTable {
  const upper: Interval[] = [];
  const inclusive: Interval[] = [];
  const open: Interval[] = [];
  const general: Interval[] = [];
  const listed: ListedVersion[] = [];
  for (const entry of entries) classify(entry, upper, inclusive, open, general, listed);
  upper.sort((a, b) => ecosystem.compare(a.fixed!, b.fixed!));
  inclusive.sort((a, b) => ecosystem.compare(a.lastAffected!, b.lastAffected!));
  listed.sort((a, b) => ecosystem.compare(a.version, b.version));
  return newTable(ecosystem, kind, entries, { upper, inclusive, open, general, listed });
}

/** @internal The table's lookup arrays, made on first use and kept until the table changes. */
export function tableLookup(table: MatchTable): TableLookup {
  if (table.lookup !== null) return table.lookup;
  const { ecosystem, upper, inclusive, listed, general } = table;
  const bounded: number[] = [];
  const others: number[] = [];
  general.forEach((interval, position) => {
    const isBounded =
      interval.introduced !== null && interval.lastAffected === null && interval.limit === null;
    (isBounded ? bounded : others).push(position);
  });
  const byFixed = bounded.slice().sort((a, b) => {
    const x = general[a]!.fixed;
    const y = general[b]!.fixed;
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    return ecosystem.compare(x, y);
  });
  const fixedCount = byFixed.filter((position) => general[position]!.fixed !== null).length;
  const byIntroduced = bounded
    .slice()
    .sort((a, b) => ecosystem.compare(general[a]!.introduced!, general[b]!.introduced!));

  const distinct = new Set<string>();
  for (const interval of upper) distinct.add(interval.fixed!);
  for (const interval of inclusive) distinct.add(interval.lastAffected!);
  for (const item of listed) distinct.add(item.version);
  for (const position of bounded) {
    const { introduced, fixed } = general[position]!;
    distinct.add(introduced!);
    if (fixed !== null) distinct.add(fixed);
  }
  const versions: string[] = [];
  const classOf = new Map<string, number>();
  // Equal versions spelled differently (`0:1.0`, `1.0`) sort by their text, so that the class's spelling
  // (its first) does not depend on the order in which records arrived.
  const byVersionThenText = (a: string, b: string) => ecosystem.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
  for (const version of [...distinct].sort(byVersionThenText)) {
    if (versions.length === 0 || ecosystem.compare(versions[versions.length - 1]!, version) !== 0)
      versions.push(version);
    classOf.set(version, versions.length - 1);
  }
  const cuts = (count: number, versionOf: (i: number) => string) => {
    const out = new Int32Array(versions.length + 1);
    let i = 0;
    for (let c = 0; c <= versions.length; c++) {
      while (i < count && classOf.get(versionOf(i))! < c) i++;
      out[c] = i;
    }
    return out;
  };

  const fixedRank = new Int32Array(general.length).fill(-1);
  const introducedRank = new Int32Array(general.length).fill(-1);
  const fixedClass = new Int32Array(general.length).fill(-1);
  byFixed.forEach((position, rank) => {
    fixedRank[position] = rank;
    const fixed = general[position]!.fixed;
    if (fixed !== null) fixedClass[position] = classOf.get(fixed)!;
  });
  byIntroduced.forEach((position, rank) => {
    introducedRank[position] = rank;
  });
  const slots = new Array(2 * versions.length + 1).fill(undefined);
  table.isDecidedByPlace = others.length === 0;
  table.highest = versions[versions.length - 1] ?? '';
  table.classCount = versions.length;
  table.slots = slots;
  table.lookup = {
    versions,
    classOf,
    upperCuts: cuts(upper.length, (i) => upper[i]!.fixed!),
    inclusiveCuts: cuts(inclusive.length, (i) => inclusive[i]!.lastAffected!),
    listedCuts: cuts(listed.length, (i) => listed[i]!.version),
    general: {
      byFixed,
      fixedCuts: cuts(fixedCount, (i) => general[byFixed[i]!]!.fixed!),
      byIntroduced,
      introducedCuts: cuts(byIntroduced.length, (i) => general[byIntroduced[i]!]!.introduced!),
      fixedRank,
      introducedRank,
      fixedClass,
      others,
    },
    isDecidedByPlace: others.length === 0,
    ranks: rankEntries(table),
    slots,
  };
  return table.lookup;
}

function rankEntries(table: MatchTable): TableLookup['ranks'] {
  // Ranks by sorting the entries themselves (no set or map of their long keys): equal keys, equal ranks.
  const sorted = table.entries.slice().sort(bySortKey);
  let rank = -1;
  let last: string | null = null;
  for (let i = 0; i < sorted.length; i++) {
    const entry = sorted[i]!;
    if (entry.sortKey !== last) {
      rank++;
      last = entry.sortKey;
    }
    entry.rank = rank;
  }
  return {
    upper: ranksOf(table.upper),
    inclusive: ranksOf(table.inclusive),
    open: ranksOf(table.open),
    general: ranksOf(table.general),
    listed: ranksOf(table.listed),
  };
}

function bySortKey(a: CompiledEntry, b: CompiledEntry): number {
  return a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0;
}

/** The ranks `rankEntries` just wrote on the items' entries. */
function ranksOf(items: readonly { entry: CompiledEntry }[]): Int32Array {
  const ranks = new Int32Array(items.length);
  for (let i = 0; i < items.length; i++) ranks[i] = items[i]!.entry.rank;
  return ranks;
}

/**
 * The table after a change: filtering keeps the sorted arrays sorted, so only the few new intervals
 * are placed, by binary search. Many new entries (a first sync) take a full compile instead.
 */
function rebuildTable(
  ecosystem: Ecosystem,
  kind: MatchKind,
  current: MatchTable | null,
  removed: ReadonlySet<RecordState>,
  fresh: readonly CompiledEntry[],
): MatchTable | null {
  const isKept = (item: { entry: CompiledEntry }) => !removed.has(item.entry.record);
  const kept =
    current === null
      ? []
      : removed.size === 0
        ? current.entries
        : current.entries.filter((entry) => !removed.has(entry.record));
  const entries = fresh.length === 0 ? kept : [...kept, ...fresh];
  if (entries.length === 0) return null;
  if (current === null || fresh.length * 8 > entries.length) return compileTable(ecosystem, kind, entries);
  const keep = <T extends { entry: CompiledEntry }>(items: readonly T[]) =>
    removed.size === 0 ? items.slice() : items.filter(isKept);
  const upper = keep(current.upper);
  const inclusive = keep(current.inclusive);
  const open = keep(current.open);
  const general = keep(current.general);
  const listed = keep(current.listed);
  const added = { upper: [] as Interval[], inclusive: [] as Interval[], listed: [] as ListedVersion[] };
  for (const entry of fresh) classify(entry, added.upper, added.inclusive, open, general, added.listed);
  for (const interval of added.upper) insertSorted(upper, interval, (x) => x.fixed!, ecosystem);
  for (const interval of added.inclusive)
    insertSorted(inclusive, interval, (x) => x.lastAffected!, ecosystem);
  for (const item of added.listed) insertSorted(listed, item, (x) => x.version, ecosystem);
  return newTable(ecosystem, kind, entries, { upper, inclusive, open, general, listed });
}

function classify(
  entry: CompiledEntry,
  upper: Interval[],
  inclusive: Interval[],
  open: Interval[],
  general: Interval[],
  listed: ListedVersion[],
): void {
  for (const interval of entry.intervals) {
    const { introduced, fixed, lastAffected, limit } = interval;
    if (introduced !== null || limit !== null || (fixed !== null && lastAffected !== null))
      general.push(interval);
    else if (fixed !== null) upper.push(interval);
    else if (lastAffected !== null) inclusive.push(interval);
    else open.push(interval);
  }
  for (const version of entry.listedVersions) listed.push({ entry, version });
}

function insertSorted<T>(items: T[], item: T, versionOf: (x: T) => string, ecosystem: Ecosystem): void {
  const version = versionOf(item);
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ecosystem.compare(versionOf(items[mid]!), version) <= 0) lo = mid + 1;
    else hi = mid;
  }
  items.splice(lo, 0, item);
}

/**
 * Every (scope, name) under which the advisory's affected packages are indexed: the record's own
 * name and, for Ubuntu-style records, each listed binary. Hosts with none of these are unaffected by
 * the record, so a feed change re-evaluates only hosts holding one of them (see `packageRefsOf`).
 */
export function packagesTouchedBy(advisory: Advisory): PackageRef[] {
  const refs = new Map<string, PackageRef>();
  for (const affected of advisory.affected) {
    const label = affected.scope === null ? affected.ecosystem : scopeKey(affected.scope);
    for (const name of [affected.name, ...(affected.nameKind === 'source' ? affected.binaries : [])]) {
      refs.set(`${label}\u0000${name}`, { scopeKey: label, name });
    }
  }
  return [...refs.values()];
}

/** The records indexed under one (scope, name), with the affected entries that put them there. */
export function advisoriesFor(
  index: AdvisoryIndex,
  ref: PackageRef,
): Array<{ advisory: Advisory; origin: FeedOrigin | null; affected: AffectedPackage; kind: MatchKind }> {
  const out: Array<{
    advisory: Advisory;
    origin: FeedOrigin | null;
    affected: AffectedPackage;
    kind: MatchKind;
  }> = [];
  for (const table of index.tables.values()) {
    if (table.scopeKey !== ref.scopeKey) continue;
    const bucket = table.names.get(ref.name);
    if (bucket === undefined) continue;
    for (const kind of ['source', 'binary', 'listed'] as const) {
      for (const entry of bucket[kind]?.entries ?? []) {
        out.push({
          advisory: entry.record.advisory,
          origin: entry.record.origin,
          affected: entry.affected,
          kind,
        });
      }
    }
  }
  return out;
}

function emptyStats(): AdvisoryIndexStats {
  return {
    records: 0,
    withdrawn: 0,
    affectedEntries: 0,
    intervals: 0,
    listedVersions: 0,
    unknownEcosystem: 0,
    emptyEntries: 0,
    invalidVersions: 0,
    fixedAndLastAffected: 0,
  };
}

function addCounts(total: AdvisoryIndexStats, counts: AdvisoryIndexStats, sign: 1 | -1): void {
  for (const key of Object.keys(total) as Array<keyof AdvisoryIndexStats>) {
    if (key !== 'withdrawn') total[key] += sign * counts[key];
  }
}

/** A match table over its sorted arrays; lookups are built on first use. */
function newTable(
  ecosystem: Ecosystem,
  kind: MatchKind,
  entries: MatchTable['entries'],
  arrays: Pick<MatchTable, 'upper' | 'inclusive' | 'open' | 'general' | 'listed'>,
): MatchTable {
  return {
    ecosystem,
    kind,
    entries,
    ...arrays,
    hasRestrictedEntries: entries.some((entry) => entry.binaries !== null),
    lookup: null,
    hostStamp: 0,
    hostVersion: '',
    hostPlace: 0,
    isDecidedByPlace: false,
    highest: '',
    classCount: 0,
    slots: null,
  };
}
