import { InvalidVersionError } from '../errors.js';
import { type Criticality, dueDate, riskScore, type SlaPolicy } from '../risk/index.js';
import type { EpssScore, FixState, KevEntry, Severity } from '../types/advisory.js';
import type { Ecosystem, EcosystemId } from '../types/ecosystem.js';
import type { Finding, FindingEvidence } from '../types/finding.js';
import type { InstalledPackage, OsIdentity } from '../types/inventory.js';
import {
  type AdvisoryIndex,
  type CompiledEntry,
  type Interval,
  type MatchKind,
  type MatchTable,
  type ScopeTable,
  tableKey,
  tableLookup,
} from './advisory-index.js';
import { naturalKey } from './ids.js';
import { type PackageRef, scopeKey, scopeOf } from './scope.js';

/** Everything besides the index and the inventory that a finding depends on. */
export interface DetectionContext {
  /** CISA KEV entries by CVE id. */
  kev: ReadonlyMap<string, KevEntry>;
  /** EPSS scores by CVE id. */
  epss: ReadonlyMap<string, EpssScore>;
  /** The host's criticality, for the risk score. */
  criticality: Criticality;
  sla: SlaPolicy;
  now: Date;
  /**
   * Extra product streams the host is entitled to, e.g. `['pro']` for an Ubuntu Pro (ESM) host: it is
   * then judged by the plain records and by those of each stream. Default none: a plain host is never
   * judged by Pro or FIPS records.
   */
  streams?: readonly string[];
  /** When a finding on this installed package was first seen, for the due date; `now` when unknown. */
  firstSeen?: (packageName: string) => Date | null | undefined;
  /** Reuses match results across hosts with the same package versions (`createDetectionMemo`). */
  memo?: DetectionMemo;
}

/** Counters of one evaluation, for logs and the benchmark. */
export interface DetectionStats {
  /** Installed packages examined. */
  packages: number;
  /** OS packages on a host whose distribution is unknown: no scope, nothing to judge them by. */
  unscopedPackages: number;
  /** Packages whose source or binary name has indexed advisories (the rest cost one hash miss). */
  hits: number;
  /** Calls to the ecosystem's `compare`. */
  comparisons: number;
  /** Packages left unjudged because their installed (or source) version is invalid in their ecosystem. */
  invalidVersions: number;
  /** Hits answered from the memo. */
  memoHits: number;
  findings: number;
}

export interface DetectionResult {
  findings: Finding[];
  stats: DetectionStats;
}

/**
 * Caches the host-independent part of findings per (scope, package name and version), so that hosts
 * sharing package versions are matched once. Verdicts are keyed by the index's compiled table and
 * the version compared, so a feed change invalidates only the tables it touched; everything is
 * discarded when a different index, KEV or EPSS map is used.
 */
export interface DetectionMemo {
  readonly size: number;
}

interface MemoState extends DetectionMemo {
  index: AdvisoryIndex | null;
  generation: number;
  kev: ReadonlyMap<string, KevEntry> | null;
  epss: ReadonlyMap<string, EpssScore> | null;
  /** Packages reaching one table, with no binary-dependent entry: by table, then compared version. */
  byTable: WeakMap<MatchTable, Map<string, Verdict | null>>;
  /** The rest (several tables, Ubuntu binaries lists), by a key naming the package; cleared on updates. */
  verdicts: Map<string, Verdict | null>;
  count: number;
  maxEntries: number;
}

/** A memo holding at most `maxEntries` verdicts (it is cleared when full). */
export function createDetectionMemo(maxEntries = 500_000): DetectionMemo {
  const state: MemoState = {
    index: null,
    generation: -1,
    kev: null,
    epss: null,
    byTable: new WeakMap(),
    verdicts: new Map(),
    count: 0,
    maxEntries,
    get size() {
      return state.count;
    },
  };
  return state;
}

/** Findings of one host: one per installed package that at least one advisory applies to. */
export function detectFindings(
  index: AdvisoryIndex,
  inventory: InventoryLike,
  context: DetectionContext,
): Finding[] {
  return detectPackages(index, inventory.os, inventory.packages, context);
}

/** Findings of one host with the evaluation's counters. */
export function detect(
  index: AdvisoryIndex,
  inventory: InventoryLike,
  context: DetectionContext,
): DetectionResult {
  const stats = emptyDetectionStats();
  const findings = detectPackages(index, inventory.os, inventory.packages, context, stats);
  return { findings, stats };
}

interface InventoryLike {
  os: OsIdentity | null;
  packages: readonly InstalledPackage[];
}

export function emptyDetectionStats(): DetectionStats {
  return {
    packages: 0,
    unscopedPackages: 0,
    hits: 0,
    comparisons: 0,
    invalidVersions: 0,
    memoHits: 0,
    findings: 0,
  };
}

/**
 * Findings for some packages of a host (after a feed change, only those under the touched
 * `PackageRef`s need it). Findings come in the order of `packages`. Arrays inside a finding may be
 * shared with other findings: treat them as read-only. `stats` accumulates when given.
 */
export function detectPackages(
  index: AdvisoryIndex,
  os: OsIdentity | null,
  packages: Iterable<InstalledPackage>,
  context: DetectionContext,
  stats: DetectionStats = emptyDetectionStats(),
): Finding[] {
  const hostScopes = hostScopeKeys(os, context.streams);
  const memo = context.memo === undefined ? null : prepareMemo(context.memo as MemoState, index, context);
  const memoPrefix = memo === null ? '' : `${os?.ecosystem ?? ''}\u0000${hostScopes.join('\u0001')}\u0000`;
  const findings: Finding[] = [];
  const dues: DueCache = { day: Number.NaN, bySeverity: {} };
  let lastEcosystem: EcosystemId | null = null;
  let tables: ScopeTable[] = [];
  let isUnscoped = false;
  for (const pkg of packages) {
    stats.packages++;
    if (pkg.ecosystem !== lastEcosystem) {
      lastEcosystem = pkg.ecosystem;
      isUnscoped = os !== null && pkg.ecosystem === os.ecosystem && hostScopes.length === 0;
      tables = isUnscoped ? [] : tablesFor(index, pkg.ecosystem, os, hostScopes);
    }
    if (isUnscoped) {
      stats.unscopedPackages++;
      continue;
    }
    if (tables.length === 0) continue;
    const candidates = lookUp(tables, pkg);
    if (candidates === null) continue;
    stats.hits++;
    let verdict: Verdict | null;
    if (memo === null) {
      verdict = judge(candidates, pkg, context, stats);
    } else {
      let verdicts: Map<string, Verdict | null>;
      let key: string;
      const only = candidates.length === 1 ? candidates[0]! : null;
      if (only !== null && only.kind !== 'listed' && !only.hasRestrictedEntries) {
        const sourceVersion = pkg.source === null ? pkg.version : pkg.source.version;
        // The verdict depends on the compared version only, and for source matches on whether the
        // binary's version differs (the evidence says "installed source …").
        key =
          only.kind === 'binary'
            ? pkg.version
            : sourceVersion === pkg.version
              ? sourceVersion
              : `${sourceVersion}\u0000s`;
        let perTable = memo.byTable.get(only);
        if (perTable === undefined) {
          perTable = new Map();
          memo.byTable.set(only, perTable);
        }
        verdicts = perTable;
      } else {
        key = `${memoPrefix}${pkg.ecosystem}\u0000${pkg.name}\u0000${pkg.version}\u0000${pkg.source?.name ?? ''}\u0000${pkg.source?.version ?? ''}`;
        verdicts = memo.verdicts;
      }
      const cached = verdicts.get(key);
      if (cached === undefined) {
        verdict = judge(candidates, pkg, context, stats);
        if (memo.count >= memo.maxEntries) resetMemo(memo);
        verdicts.set(key, verdict);
        memo.count++;
      } else {
        stats.memoHits++;
        verdict = cached;
      }
    }
    if (verdict === null) continue;
    findings.push(toFinding(pkg, verdict, context, dues));
  }
  stats.findings += findings.length;
  return findings;
}

/**
 * The (scope, name) pairs under which detection looks this installed package up: its source name and
 * its binary name, in each scope of the host (see `packagesTouchedBy` for the advisory side). A
 * package → hosts index built from these tells which hosts a feed change concerns.
 */
export function packageRefsOf(
  os: OsIdentity | null,
  pkg: InstalledPackage,
  streams: readonly string[] = [],
): PackageRef[] {
  const isOsPackage = os !== null && pkg.ecosystem === os.ecosystem;
  const scopes = isOsPackage ? hostScopeKeys(os, streams) : [pkg.ecosystem];
  const sourceName = pkg.source?.name ?? pkg.name;
  const refs: PackageRef[] = [];
  for (const key of scopes) {
    refs.push({ scopeKey: key, name: sourceName });
    if (sourceName !== pkg.name) refs.push({ scopeKey: key, name: pkg.name });
  }
  return refs;
}

function hostScopeKeys(os: OsIdentity | null, streams: readonly string[] | undefined): string[] {
  const scope = scopeOf(os);
  if (scope === null) return [];
  const keys = [scopeKey(scope)];
  for (const stream of streams ?? []) keys.push(scopeKey({ ...scope, stream }));
  return keys;
}

function tablesFor(
  index: AdvisoryIndex,
  ecosystem: EcosystemId,
  os: OsIdentity | null,
  hostScopes: readonly string[],
): ScopeTable[] {
  const labels = os !== null && ecosystem === os.ecosystem ? hostScopes : [ecosystem];
  const tables: ScopeTable[] = [];
  for (const label of labels) {
    const table = index.tables.get(tableKey(ecosystem, label));
    if (table !== undefined) tables.push(table);
  }
  return tables;
}

/** A table reached by the package's names: its entries, their ecosystem and how they match. */
type Candidate = MatchTable;

/** The tables reached by the package's names, or null (no allocation) on the common miss. */
function lookUp(tables: readonly ScopeTable[], pkg: InstalledPackage): Candidate[] | null {
  const sourceName = pkg.source === null ? pkg.name : pkg.source.name;
  let candidates: Candidate[] | null = null;
  for (const table of tables) {
    const bySource = table.names.get(sourceName);
    const byBinary = sourceName === pkg.name ? bySource : table.names.get(pkg.name);
    if (bySource === undefined && byBinary === undefined) continue;
    const source = bySource?.source ?? null;
    const binary = byBinary?.binary ?? null;
    const listed = byBinary?.listed ?? null;
    if (source === null && binary === null && listed === null) continue;
    candidates ??= [];
    if (source !== null) candidates.push(source);
    if (binary !== null) candidates.push(binary);
    if (listed !== null) candidates.push(listed);
  }
  return candidates;
}

/** One (record, affected entry) that applies, with the interval that decided it (null: `versions` list). */
interface Match {
  entry: CompiledEntry;
  interval: Interval | null;
  /** The installed version compared: the source version for source-named records. */
  version: string;
  kind: MatchKind;
  /** The name the record matched by: its own name, or the installed binary's when listed in `binaries`. */
  matchedName: string;
  /** Index in the table's `upper` array (sorted by fixed version), or -1. */
  upperPosition: number;
  /** Index in the table's `general` array (see `GeneralIndex.fixedClass`), or -1. */
  generalPosition: number;
  /** The entry's rank by `sortKey` within its table (`TableLookup.ranks`). */
  rank: number;
  fixed: string | null;
  fixState: FixState;
}

/** The host-independent part of a finding. */
interface Verdict {
  fixedVersion: string | null;
  fixState: FixState;
  advisories: string[];
  cves: string[];
  severity: Severity;
  urgencies: string[];
  cvssScore: number | null;
  isKev: boolean;
  kevDueDate: string | null;
  knownRansomwareUse: boolean;
  epss: number | null;
  epssPercentile: number | null;
  evidence: FindingEvidence[];
  /** Risk score per host criticality, filled on first use. */
  risk: Partial<Record<Criticality, number>>;
  /** The last due date computed, for (policy, first-seen day); hosts sharing a memo mostly repeat it. */
  due: { sla: SlaPolicy; day: number; value: string | null } | null;
}

function judge(
  candidates: readonly Candidate[],
  pkg: InstalledPackage,
  context: DetectionContext,
  stats: DetectionStats,
): Verdict | null {
  const sourceName = pkg.source === null ? pkg.name : pkg.source.name;
  const sourceVersion = pkg.source === null ? pkg.version : pkg.source.version;
  const matches: Match[] = [];
  let ecosystem: Ecosystem | null = null;
  let isInvalid = false;
  let tablesMatched = 0;
  // The lowest version fixing every applicable advisory is the highest of their fixed versions.
  let fixedVersion: string | null = null;
  for (const candidate of candidates) {
    // Source-named records give source versions (a binNMU `1.2-3+b1` is built from source `1.2-3`).
    const version = candidate.kind === 'binary' ? pkg.version : sourceVersion;
    // An invalid version makes compare() throw (caught below); check it here only when no comparison will run.
    const table = candidate;
    const hasComparisons =
      table.upper.length > 0 ||
      table.inclusive.length > 0 ||
      table.general.length > 0 ||
      table.listed.length > 0;
    if (!hasComparisons && candidate.ecosystem.checkVersion(version) !== null) {
      isInvalid = true;
      continue;
    }
    const before = matches.length;
    try {
      const highest = evaluateTable(candidate, version, pkg.name, sourceName, matches, stats);
      if (
        highest !== null &&
        (fixedVersion === null || candidate.ecosystem.compare(highest, fixedVersion) > 0)
      ) {
        fixedVersion = highest;
      }
    } catch (error) {
      // checkVersion and compare disagree: count it rather than fail the whole host.
      if (!(error instanceof InvalidVersionError)) throw error;
      isInvalid = true;
      matches.length = before;
      continue;
    }
    ecosystem = candidate.ecosystem;
    if (matches.length > before) tablesMatched++;
  }
  if (isInvalid) stats.invalidVersions++;
  if (matches.length === 0 || ecosystem === null) return null;
  return assemble(matches, tablesMatched === 1, fixedVersion, pkg.version, context);
}

/**
 * Where `version` sits among sorted distinct `versions`, by binary search: `2k + 1` when it equals
 * `versions[k]`, `2k` when it lies just below `versions[k]` (k = length: above them all).
 */
function locate(
  versions: readonly string[],
  version: string,
  compare: (a: string, b: string) => number,
): number {
  let lo = 0;
  let hi = versions.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const order = compare(version, versions[mid]!);
    if (order === 0) return 2 * mid + 1;
    if (order < 0) hi = mid;
    else lo = mid + 1;
  }
  return 2 * lo;
}

let evaluationStamp = 0;
/** Positions in `general` holding the version, reused by every evaluation. */
const heldScratch: number[] = [];
const byNumber = (a: number, b: number) => a - b;

function evaluateTable(
  candidate: Candidate,
  version: string,
  binaryName: string,
  sourceName: string,
  out: Match[],
  stats: DetectionStats,
): string | null {
  const { ecosystem, kind } = candidate;
  const table = candidate;
  const first = out.length;
  const stamp = ++evaluationStamp;
  const compare = (a: string, b: string) => {
    stats.comparisons++;
    return ecosystem.compare(a, b);
  };
  const add = (
    entry: CompiledEntry,
    interval: Interval | null,
    fixed: string | null,
    rank: number,
    upperPosition = -1,
    generalPosition = -1,
  ) => {
    if (entry.binaries !== null && !entry.binaries.has(binaryName)) return;
    // Reached through the source name already.
    if (kind === 'listed' && entry.name === sourceName) return;
    const fixState: FixState = fixed !== null ? 'fix-available' : entry.unfixedState;
    const matchedName = kind === 'listed' ? binaryName : entry.name;
    const match: Match = {
      entry,
      interval,
      version,
      kind,
      matchedName,
      fixed,
      fixState,
      upperPosition,
      generalPosition,
      rank,
    };
    if (entry.stamp !== stamp) {
      entry.stamp = stamp;
      entry.slot = out.length;
      out.push(match);
      return;
    }
    // Several intervals of one entry hold the version: keep the one needing the highest fix.
    const previous = out[entry.slot]!;
    if (previous.fixed !== null && (fixed === null || compare(fixed, previous.fixed) > 0))
      out[entry.slot] = match;
  };

  const { upper, inclusive, open, general, listed } = table;
  const lookup = tableLookup(table);
  const { ranks } = lookup;
  // Where the version sits among the table's versions: class `at >> 1`, on it when `at & 1`.
  const at = locate(lookup.versions, version, compare);
  const above = (at >> 1) + (at & 1);
  // Affected iff version < fixed: a suffix of `upper`, sorted by fixed.
  for (let i = lookup.upperCuts[above]!; i < upper.length; i++)
    add(upper[i]!.entry, upper[i]!, upper[i]!.fixed, ranks.upper[i]!, i);

  for (let i = lookup.inclusiveCuts[at >> 1]!; i < inclusive.length; i++)
    add(inclusive[i]!.entry, inclusive[i]!, null, ranks.inclusive[i]!);

  for (let i = 0; i < open.length; i++) add(open[i]!.entry, open[i]!, null, ranks.open[i]!);

  if (general.length > 0) {
    const { byFixed, fixedCuts, byIntroduced, introducedCuts, fixedRank, introducedRank, others } =
      lookup.general;
    const held = heldScratch;
    held.length = 0;
    // `[introduced, fixed)`: fixed above the version (a suffix of byFixed) and introduced at or
    // below it (a prefix of byIntroduced).
    const fixedFrom = fixedCuts[above]!;
    const introducedTo = introducedCuts[above]!;
    if (byFixed.length - fixedFrom <= introducedTo) {
      for (let i = fixedFrom; i < byFixed.length; i++) {
        if (introducedRank[byFixed[i]!]! < introducedTo) held.push(byFixed[i]!);
      }
    } else {
      for (let i = 0; i < introducedTo; i++) {
        if (fixedRank[byIntroduced[i]!]! >= fixedFrom) held.push(byIntroduced[i]!);
      }
    }
    for (const position of others) {
      const { introduced, fixed, lastAffected, limit } = general[position]!;
      if (introduced !== null && compare(version, introduced) < 0) continue;
      if (fixed !== null && compare(version, fixed) >= 0) continue;
      if (lastAffected !== null && compare(version, lastAffected) > 0) continue;
      if (limit !== null && compare(version, limit) >= 0) continue;
      held.push(position);
    }
    // In `general` order, as each interval were checked in turn.
    if (held.length > 1) held.sort(byNumber);
    for (const position of held) {
      const interval = general[position]!;
      add(interval.entry, interval, interval.fixed, ranks.general[position]!, -1, position);
    }
  }

  // `versions[]`: equal under the ecosystem's order (deb `1:1.0` is not `1.0`, but `0:1.0` is).
  const listedEnd = (at & 1) === 1 ? lookup.listedCuts[above]! : 0;
  for (let i = (at & 1) === 1 ? lookup.listedCuts[at >> 1]! : 0; i < listedEnd; i++) {
    const { entry } = listed[i]!;
    // The lowest fixed version above the installed one, if the entry's ranges name one.
    let fixed: string | null = null;
    for (const interval of entry.intervals) {
      if (interval.fixed === null || compare(interval.fixed, version) <= 0) continue;
      if (fixed === null || compare(interval.fixed, fixed) < 0) fixed = interval.fixed;
    }
    add(entry, null, fixed, ranks.listed[i]!);
  }

  // The highest fixed version among this table's matches: positions order `upper` and classes
  // order the indexed `general` ones without comparing.
  const { fixedClass } = lookup.general;
  let bestUpper = -1;
  let highest: string | null = null;
  let highestClass = -1;
  for (let m = first; m < out.length; m++) {
    const match = out[m]!;
    if (match.upperPosition > bestUpper) bestUpper = match.upperPosition;
    else if (match.upperPosition < 0 && match.fixed !== null) {
      const matchClass = match.generalPosition < 0 ? -1 : fixedClass[match.generalPosition]!;
      const isHigher =
        highest === null ||
        (matchClass >= 0 && highestClass >= 0
          ? matchClass > highestClass
          : compare(match.fixed, highest) > 0);
      if (isHigher) {
        highest = match.fixed;
        highestClass = matchClass;
      }
    }
  }
  const upperFixed = bestUpper < 0 ? null : upper[bestUpper]!.fixed;
  const best =
    upperFixed === null
      ? highest
      : highest === null || compare(upperFixed, highest) > 0
        ? upperFixed
        : highest;
  // Spelled as its class is, so equal fixes spelled differently (`0:1.0`, `1.0`) give one answer.
  return best === null ? null : (lookup.versions[lookup.classOf.get(best) ?? -1] ?? best);
}

const SEVERITY_RANK: Readonly<Record<Severity, number>> = {
  unknown: 0,
  negligible: 1,
  low: 2,
  medium: 3,
  high: 4,
  critical: 5,
};

function assemble(
  matches: Match[],
  isOneTable: boolean,
  fixedVersion: string | null,
  installedVersion: string,
  context: DetectionContext,
): Verdict {
  // Ranks order one table's entries as their sort keys do; matches mostly come in order already.
  const order = isOneTable ? compareRanks : compareMatches;
  for (let m = 1; m < matches.length; m++) {
    if (order(matches[m - 1]!, matches[m]!) > 0) {
      matches.sort(order);
      break;
    }
  }
  const advisories: string[] = [];
  // CVE ids with their natural keys, from each record's sorted list (shared when only one record).
  const cveKeys = new Map<string, string>();
  let recordCount = 0;
  const urgencySet = new Set<string>();
  const evidence: FindingEvidence[] = [];
  let severity: Severity = 'unknown';
  let cvssScore: number | null = null;
  let hasFix = false;
  let isAllWillNotFix = true;
  let lastRecord: CompiledEntry['record'] | null = null;
  for (const match of matches) {
    const { entry } = match;
    if (entry.advisoryId !== advisories[advisories.length - 1]) advisories.push(entry.advisoryId);
    if (entry.record !== lastRecord) {
      lastRecord = entry.record;
      recordCount++;
      const { ids, keys } = cveOrderOf(entry.record);
      for (let i = 0; i < ids.length; i++) cveKeys.set(ids[i]!, keys[i]!);
      for (const cvss of entry.record.advisory.cvss) {
        if (cvssScore === null || cvss.baseScore > cvssScore) cvssScore = cvss.baseScore;
      }
    }
    if (SEVERITY_RANK[entry.severity] > SEVERITY_RANK[severity]) severity = entry.severity;
    if (entry.urgency !== null) urgencySet.add(entry.urgency);
    if (match.fixState === 'fix-available') hasFix = true;
    if (match.fixState !== 'will-not-fix') isAllWillNotFix = false;
    evidence.push({
      advisoryId: entry.advisoryId,
      feed: entry.origin,
      scope: entry.scopeLabel,
      matchedName: match.matchedName,
      matchedBy: match.kind === 'source' ? 'source' : 'binary',
      range: match.interval === null ? null : match.interval.range,
      comparison: describe(match, installedVersion),
      fixedVersion: match.fixed,
      fixState: match.fixState,
    });
  }
  const cves = recordCount === 1 ? cveOrderOf(lastRecord!).ids.slice() : sortByKey(cveKeys);
  let isKev = false;
  let kevDueDate: string | null = null;
  let knownRansomwareUse = false;
  let epss: number | null = null;
  let epssPercentile: number | null = null;
  for (const cve of cves) {
    const kev = context.kev.get(cve);
    if (kev !== undefined) {
      isKev = true;
      if (kevDueDate === null || kev.dueDate < kevDueDate) kevDueDate = kev.dueDate;
      if (kev.knownRansomwareUse) knownRansomwareUse = true;
    }
    const score = context.epss.get(cve);
    if (score !== undefined && (epss === null || score.epss > epss)) {
      epss = score.epss;
      epssPercentile = score.percentile;
    }
  }
  return {
    fixedVersion,
    fixState: hasFix ? 'fix-available' : isAllWillNotFix ? 'will-not-fix' : 'no-fix-yet',
    advisories,
    cves,
    severity,
    urgencies: [...urgencySet].sort(),
    cvssScore,
    isKev,
    kevDueDate,
    knownRansomwareUse,
    epss,
    epssPercentile,
    evidence,
    risk: {},
    due: null,
  };
}

const DAY_MS = 86_400_000;

/**
 * Due dates of one `detectPackages` call (one SLA policy) for findings outside KEV, which depend on
 * the first-seen day and the severity only.
 */
interface DueCache {
  day: number;
  bySeverity: Partial<Record<Severity, string | null>>;
}

function toFinding(
  pkg: InstalledPackage,
  verdict: Verdict,
  context: DetectionContext,
  dues: DueCache,
): Finding {
  const firstSeen = context.firstSeen?.(pkg.name) ?? context.now;
  const day = Math.floor(firstSeen.getTime() / DAY_MS);
  let due = verdict.due;
  if (due === null || due.sla !== context.sla || due.day !== day) {
    if (dues.day !== day) {
      dues.day = day;
      dues.bySeverity = {};
    }
    let value = verdict.isKev ? undefined : dues.bySeverity[verdict.severity];
    if (value === undefined) {
      value = dueDate(
        { severity: verdict.severity, isKev: verdict.isKev, kevDueDate: verdict.kevDueDate, firstSeen },
        context.sla,
      );
      if (!verdict.isKev) dues.bySeverity[verdict.severity] = value;
    }
    due = { sla: context.sla, day, value };
    verdict.due = due;
  }
  let risk = verdict.risk[context.criticality];
  if (risk === undefined) {
    risk = riskScore({
      severity: verdict.severity,
      cvssScore: verdict.cvssScore,
      epss: verdict.epss,
      isKev: verdict.isKev,
      knownRansomwareUse: verdict.knownRansomwareUse,
      criticality: context.criticality,
    });
    verdict.risk[context.criticality] = risk;
  }
  return {
    package: pkg.name,
    sourcePackage: pkg.source?.name ?? null,
    ecosystem: pkg.ecosystem,
    installedVersion: pkg.version,
    architecture: pkg.architecture,
    fixedVersion: verdict.fixedVersion,
    fixState: verdict.fixState,
    advisories: verdict.advisories,
    cves: verdict.cves,
    severity: verdict.severity,
    urgencies: verdict.urgencies,
    cvssScore: verdict.cvssScore,
    isKev: verdict.isKev,
    kevDueDate: verdict.kevDueDate,
    knownRansomwareUse: verdict.knownRansomwareUse,
    epss: verdict.epss,
    epssPercentile: verdict.epssPercentile,
    riskScore: risk,
    dueDate: due.value,
    evidence: verdict.evidence,
  };
}

/** `installed 3.0.11-1~deb12u1 < fixed 3.0.11-1~deb12u2 (deb)`, and the like. */
function describe(match: Match, installedVersion: string): string {
  const installed =
    match.kind !== 'binary' && match.version !== installedVersion
      ? `installed source ${match.version}`
      : `installed ${match.version}`;
  const ecosystem = match.entry.ecosystem.id;
  const interval = match.interval;
  if (interval === null) return `${installed} in versions list (${ecosystem})`;
  const { introduced, fixed, lastAffected, limit } = interval;
  if (introduced === null && lastAffected === null && limit === null) {
    return fixed === null
      ? `${installed}: every version affected, no fix (${ecosystem})`
      : `${installed} < fixed ${fixed} (${ecosystem})`;
  }
  let bounds = '';
  if (introduced !== null) bounds = `>= introduced ${introduced}`;
  if (fixed !== null) bounds += `${bounds === '' ? '' : ' and '}< fixed ${fixed}`;
  if (lastAffected !== null) bounds += `${bounds === '' ? '' : ' and '}<= last_affected ${lastAffected}`;
  if (limit !== null) bounds += `${bounds === '' ? '' : ' and '}< limit ${limit}`;
  const unfixed = fixed === null && lastAffected === null ? ', no fix' : '';
  return `${installed} ${bounds}${unfixed} (${ecosystem})`;
}

function compareRanks(a: Match, b: Match): number {
  return a.rank - b.rank;
}

/** By advisory id (natural order), feed location, scope, name: `CompiledEntry.sortKey`. */
function compareMatches(a: Match, b: Match): number {
  return a.entry.sortKey < b.entry.sortKey ? -1 : a.entry.sortKey > b.entry.sortKey ? 1 : 0;
}

function prepareMemo(memo: MemoState, index: AdvisoryIndex, context: DetectionContext): MemoState {
  if (memo.index !== index || memo.kev !== context.kev || memo.epss !== context.epss) {
    resetMemo(memo);
    memo.index = index;
    memo.generation = index.generation;
    memo.kev = context.kev;
    memo.epss = context.epss;
  } else if (memo.generation !== index.generation) {
    // Changed tables are new objects (their WeakMap entries die with the old ones); keys naming
    // packages cannot tell which tables they used.
    memo.count -= memo.verdicts.size;
    memo.verdicts.clear();
    memo.generation = index.generation;
  }
  return memo;
}

function resetMemo(memo: MemoState): void {
  memo.byTable = new WeakMap();
  memo.verdicts.clear();
  memo.count = 0;
}

/** Ids by their natural keys (distinct ids have distinct keys). */
function sortByKey(keys: ReadonlyMap<string, string>): string[] {
  const keyed = [...keys];
  keyed.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return keyed.map((pair) => pair[0]);
}

function cveOrderOf(record: CompiledEntry['record']): NonNullable<CompiledEntry['record']['cveOrder']> {
  if (record.cveOrder !== null) return record.cveOrder;
  const keys = new Map<string, string>();
  for (const cve of record.advisory.cves) keys.set(cve, naturalKey(cve));
  const ids = sortByKey(keys);
  record.cveOrder = { ids, keys: ids.map((id) => keys.get(id)!) };
  return record.cveOrder;
}
