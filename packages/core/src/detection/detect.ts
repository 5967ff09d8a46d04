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
  type NameBucket,
  type ScopeTable,
  tableKey,
  tableLookup,
} from './advisory-index.js';
import { naturalKey } from './ids.js';
import { type PackageRef, scopeKey, scopeOf } from './scope.js';

/** Everything besides the index and the inventory that a finding depends on. */
export interface DetectionContext {
  /**
   * CISA KEV entries by CVE id. Read as a snapshot: what detection derives from it is kept for as long
   * as the same Map is passed (and by `DetectionMemo`), so pass a new Map when the catalogue changes
   * rather than changing this one.
   */
  kev: ReadonlyMap<string, KevEntry>;
  /** EPSS scores by CVE id; a snapshot, like `kev`. */
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
  const stamp = ++callStamp;
  // Without a memo: the packages with a finding and their templates, written out at the end.
  const hitPackages: InstalledPackage[] = [];
  const hitTemplates: Template[] = [];
  let lastEcosystem: EcosystemId | null = null;
  let tables: ScopeTable[] = [];
  let isUnscoped = false;
  // Where the tables hold source names only (Debian's), what the last source name looked up reached
  // (-1: nothing known): binaries of one source often come one after another.
  let isBySourceOnly = false;
  let lastSourceName = '';
  let lastCount = -1;
  let lastTable: MatchTable | null = null;
  for (const pkg of packages) {
    stats.packages++;
    if (pkg.ecosystem !== lastEcosystem) {
      lastEcosystem = pkg.ecosystem;
      isUnscoped = os !== null && pkg.ecosystem === os.ecosystem && hostScopes.length === 0;
      tables = isUnscoped ? [] : tablesFor(index, pkg.ecosystem, os, hostScopes);
      isBySourceOnly = tables.every((table) => !table.hasBinaryNames);
      lastCount = -1;
    }
    if (isUnscoped) {
      stats.unscopedPackages++;
      continue;
    }
    if (tables.length === 0) continue;
    let count: number;
    if (isBySourceOnly) {
      const sourceName = pkg.source === null ? pkg.name : pkg.source.name;
      if (lastCount >= 0 && sourceName === lastSourceName) {
        count = lastCount;
        if (count === 1) candidateScratch[0] = lastTable!;
      } else {
        count = lookUp(tables, pkg);
        lastSourceName = sourceName;
        lastCount = count <= 1 ? count : -1;
        lastTable = count === 1 ? candidateScratch[0]! : null;
      }
    } else {
      count = lookUp(tables, pkg);
    }
    if (count === 0) continue;
    const candidates = candidateScratch;
    stats.hits++;
    if (memo === null) {
      const only = count === 1 ? candidates[0]! : null;
      let template =
        only !== null && only.kind !== 'listed' && !only.hasRestrictedEntries
          ? slotTemplate(only, pkg, stats, stamp)
          : undefined;
      if (template === undefined) template = judgeTemplate(candidates, count, pkg, stats);
      if (template === null) continue;
      hitPackages.push(pkg);
      hitTemplates.push(template);
      continue;
    }
    const sourceVersion = pkg.source === null ? pkg.version : pkg.source.version;
    let verdicts: Map<string, Verdict | null>;
    let key: string;
    const only = count === 1 ? candidates[0]! : null;
    if (only !== null && only.kind !== 'listed' && !only.hasRestrictedEntries) {
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
    let verdict = verdicts.get(key);
    if (verdict === undefined) {
      const template = judgeTemplate(candidates, count, pkg, stats);
      verdict =
        template === null ? null : { template, evidence: evidenceOf(template, pkg.version, sourceVersion) };
      if (memo.count >= memo.maxEntries) resetMemo(memo);
      verdicts.set(key, verdict);
      memo.count++;
    } else {
      stats.memoHits++;
    }
    if (verdict === null) continue;
    findings.push(toFinding(pkg, verdict.template, verdict.evidence, context, dues));
  }
  if (memo === null) writeFindings(hitPackages, hitTemplates, stamp, context, dues, findings);
  stats.findings += findings.length;
  return findings;
}

/** Numbers `detectPackages` calls, for the per-call scratch on tables and templates. */
let callStamp = 0;

/**
 * The output of a call without a memo, made once every package is judged: the young objects that
 * detection returns (evidence, findings) are then made apart from the long-lived ones that judging
 * may add to the index (lookups, templates), so that a collection during the first calls, when
 * judging fills the index, rarely finds them alive and V8 does not start allocating them in the old
 * generation (allocation-site pretenuring), which would make every later call slower.
 */
function writeFindings(
  packages: readonly InstalledPackage[],
  templates: readonly Template[],
  stamp: number,
  context: DetectionContext,
  dues: DueCache,
  findings: Finding[],
): void {
  const sharing: Template[] = [];
  for (let i = 0; i < packages.length; i++) {
    const pkg = packages[i]!;
    const template = templates[i]!;
    const sourceVersion = pkg.source === null ? pkg.version : pkg.source.version;
    // Binaries of one source at one version share a template: their evidence is the same too.
    let evidence = template.hostEvidence;
    if (
      evidence === null ||
      template.hostStamp !== stamp ||
      template.hostBinaryVersion !== pkg.version ||
      template.hostSourceVersion !== sourceVersion
    ) {
      evidence = evidenceOf(template, pkg.version, sourceVersion);
      if (template.hostStamp !== stamp) sharing.push(template);
      template.hostStamp = stamp;
      template.hostBinaryVersion = pkg.version;
      template.hostSourceVersion = sourceVersion;
      template.hostEvidence = evidence;
    }
    findings.push(toFinding(pkg, template, evidence, context, dues));
  }
  // The templates keep no host's evidence past the call.
  for (let t = 0; t < sharing.length; t++) {
    const template = sharing[t]!;
    template.hostEvidence = null;
    template.hostBinaryVersion = '';
    template.hostSourceVersion = '';
  }
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

/**
 * The tables reached by the package being judged: the first `candidateCount` items (the array is
 * reused by every lookup and never shrunk: detection runs to completion, synchronously).
 */
const candidateScratch: Candidate[] = [];

/** Fills `candidateScratch` with the tables reached by the package's names; returns how many. */
function lookUp(tables: readonly ScopeTable[], pkg: InstalledPackage): number {
  const { name } = pkg;
  const sourceName = pkg.source === null ? name : pkg.source.name;
  let count = 0;
  for (let t = 0; t < tables.length; t++) {
    const table = tables[t]!;
    const { names } = table;
    let bySource: NameBucket | undefined;
    if (table.hasSourceNames) {
      bySource = names.get(sourceName);
      if (bySource !== undefined && bySource.source !== null) candidateScratch[count++] = bySource.source;
    }
    if (table.hasBinaryNames) {
      const byBinary = sourceName === name && table.hasSourceNames ? bySource : names.get(name);
      if (byBinary !== undefined) {
        if (byBinary.binary !== null) candidateScratch[count++] = byBinary.binary;
        if (byBinary.listed !== null) candidateScratch[count++] = byBinary.listed;
      }
    }
  }
  return count;
}

/**
 * One (record, affected entry) that applies, with the interval that decided it (null: `versions` list).
 * Matches live in a pool reused by every evaluation: they never leave `judgeTemplate`.
 */
interface Match {
  entry: CompiledEntry;
  interval: Interval | null;
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

/**
 * The host-independent part of a finding: everything but the installed version written into the
 * evidence, the host's risk score and due date. Made per evaluation, or kept per place in a table
 * (`slotTemplate`) where the place alone decides it.
 */
interface Template {
  fixedVersion: string | null;
  fixState: FixState;
  advisories: string[];
  cves: string[];
  severity: Severity;
  urgencies: string[];
  cvssScore: number | null;
  items: readonly TemplateItem[];
  /** The KEV and EPSS maps the figures below were read from (null: not yet read). */
  kevMap: ReadonlyMap<string, KevEntry> | null;
  epssMap: ReadonlyMap<string, EpssScore> | null;
  isKev: boolean;
  kevDueDate: string | null;
  knownRansomwareUse: boolean;
  epss: number | null;
  epssPercentile: number | null;
  /** Risk score per host criticality (NaN until first used), for the maps above. */
  riskLow: number;
  riskMedium: number;
  riskHigh: number;
  riskCritical: number;
  /** The last due date computed, for (policy, first-seen day, maps above). */
  dueSla: SlaPolicy | null;
  dueDay: number;
  dueValue: string | null;
  /**
   * Scratch of one `detectPackages` call (its stamp): the evidence made for a (binary, source)
   * version pair, shared with the host's other packages at the same pair. Cleared at the call's end.
   */
  hostStamp: number;
  hostBinaryVersion: string;
  hostSourceVersion: string;
  hostEvidence: FindingEvidence[] | null;
}

/** One evidence entry without its comparison's `installed <version>` part. */
interface TemplateItem {
  advisoryId: string;
  feed: FindingEvidence['feed'];
  scope: string;
  matchedName: string;
  matchedBy: FindingEvidence['matchedBy'];
  range: FindingEvidence['range'];
  /** The comparison after `installed <version>`. */
  text: string;
  fixedVersion: string | null;
  fixState: FixState;
  /** The comparison names the installed binary's version; else the source's (`installed source …` when they differ). */
  isBinaryVersion: boolean;
}

/** A template with the evidence of one installed version: what the memo keeps. */
interface Verdict {
  template: Template;
  evidence: FindingEvidence[];
}

/** The matches of the package being judged, in a pool reused by every evaluation. */
const matchScratch: Match[] = [];
const matchPool: Match[] = [];

/**
 * The template of a package reaching only `table` (not through a `binaries` list, no entry restricted
 * to some binaries): kept per place of the compared version among the table's versions, since the
 * place decides which intervals hold it. Undefined when the table has intervals checked one by one
 * (then `judgeTemplate`); null when nothing applies or the version is invalid (counted).
 */
function slotTemplate(
  table: MatchTable,
  pkg: InstalledPackage,
  stats: DetectionStats,
  stamp: number,
): Template | null | undefined {
  if (table.lookup === null) tableLookup(table);
  if (!table.isDecidedByPlace) return undefined;
  const version = table.kind === 'binary' || pkg.source === null ? pkg.version : pkg.source.version;
  let at: number;
  if (table.hostStamp === stamp && table.hostVersion === version) {
    // Another binary of the same source on this host: the same place.
    at = table.hostPlace;
  } else {
    at = placeOf(table, version, stats);
    table.hostStamp = stamp;
    table.hostVersion = version;
    table.hostPlace = at;
  }
  if (at < 0) {
    stats.invalidVersions++;
    return null;
  }
  const slots = table.slots as Array<Template | null | undefined>;
  const kept = slots[at];
  if (kept !== undefined) return kept;
  candidateScratch[0] = table;
  const template = judgeTemplate(candidateScratch, 1, pkg, stats);
  // Every version the table compares with is in `versions` (the one-by-one intervals hold the
  // others), so every comparison made for the template, the fixed versions of `versions` list
  // matches included, came out as it does for any version at this place. Every host at this place
  // gets its arrays: frozen, so that no caller can change them for the others.
  if (template !== null) {
    Object.freeze(template.advisories);
    Object.freeze(template.cves);
    Object.freeze(template.urgencies);
  }
  slots[at] = template;
  return template;
}

/** `locate` in a table whose lookup is made, with -1 for an invalid version. */
function placeOf(table: MatchTable, version: string, stats: DetectionStats): number {
  const { ecosystem, classCount, highest } = table;
  if (classCount === 0) return ecosystem.checkVersion(version) === null ? 0 : -1;
  // As `locate` starts, from the copy of the highest version kept on the table.
  if (version === highest) return 2 * classCount - 1;
  try {
    stats.comparisons++;
    const top = ecosystem.compare(version, highest);
    if (top > 0) return 2 * classCount;
    if (top === 0) return 2 * classCount - 1;
    return locateBelow(table.lookup!.versions, version, ecosystem, stats);
  } catch (error) {
    if (!(error instanceof InvalidVersionError)) throw error;
    return -1;
  }
}

function judgeTemplate(
  candidates: readonly Candidate[],
  count: number,
  pkg: InstalledPackage,
  stats: DetectionStats,
): Template | null {
  const sourceName = pkg.source === null ? pkg.name : pkg.source.name;
  const sourceVersion = pkg.source === null ? pkg.version : pkg.source.version;
  const matches = matchScratch;
  matches.length = 0;
  let ecosystem: Ecosystem | null = null;
  let isInvalid = false;
  let tablesMatched = 0;
  // The lowest version fixing every applicable advisory is the highest of their fixed versions.
  let fixedVersion: string | null = null;
  for (let c = 0; c < count; c++) {
    const candidate = candidates[c]!;
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
  return assemble(matches, tablesMatched === 1, fixedVersion);
}

/**
 * Where `version` sits among sorted distinct `versions`: `2k + 1` when it equals `versions[k]`,
 * `2k` when it lies just below `versions[k]` (k = length: above them all). The highest version is
 * tried first (installed versions are mostly at or above every fix), then a binary search.
 */
function locate(
  versions: readonly string[],
  version: string,
  ecosystem: Ecosystem,
  stats: DetectionStats,
): number {
  const count = versions.length;
  if (count === 0) return 0;
  // The same text is the same (valid) version: no comparison needed.
  const highest = versions[count - 1]!;
  if (version === highest) return 2 * count - 1;
  stats.comparisons++;
  const top = ecosystem.compare(version, highest);
  if (top > 0) return 2 * count;
  if (top === 0) return 2 * count - 1;
  return locateBelow(versions, version, ecosystem, stats);
}

/**
 * `locate` for a version below the highest of `versions`. Installed versions below a table's highest
 * version mostly lie just below it (a host an update or two behind the latest fix), so the search
 * gallops down from the top (1, 2, 4, … places below it) and then halves the gap it found: a few
 * comparisons near the top instead of log2(count) for every version.
 */
function locateBelow(
  versions: readonly string[],
  version: string,
  ecosystem: Ecosystem,
  stats: DetectionStats,
): number {
  // Throughout: version < versions[hi], and every version below lo is below version.
  let lo = 0;
  let hi = versions.length - 1;
  let step = 1;
  while (hi - step >= 0) {
    const probe = hi - step;
    const at = versions[probe]!;
    if (version === at) return 2 * probe + 1;
    stats.comparisons++;
    const order = ecosystem.compare(version, at);
    if (order === 0) return 2 * probe + 1;
    if (order > 0) {
      lo = probe + 1;
      break;
    }
    hi = probe;
    step *= 2;
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const at = versions[mid]!;
    if (version === at) return 2 * mid + 1;
    stats.comparisons++;
    const order = ecosystem.compare(version, at);
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

// The evaluation under way in `evaluateTable`, read by `addMatch` (all set before every use).
let currentOut: Match[] = matchScratch;
let currentStamp = 0;
let currentKind: MatchKind = 'source';
let currentBinaryName = '';
let currentSourceName = '';
let currentEcosystem: Ecosystem | null = null;
let currentStats: DetectionStats = emptyDetectionStats();

function compareCounted(a: string, b: string): number {
  currentStats.comparisons++;
  return (currentEcosystem as Ecosystem).compare(a, b);
}

function addMatch(
  entry: CompiledEntry,
  interval: Interval | null,
  fixed: string | null,
  rank: number,
  upperPosition: number,
  generalPosition: number,
): void {
  const kind = currentKind;
  const binaryName = currentBinaryName;
  const out = currentOut;
  if (entry.binaries !== null && !entry.binaries.has(binaryName)) return;
  // Reached through the source name already.
  if (kind === 'listed' && entry.name === currentSourceName) return;
  const fixState: FixState = fixed !== null ? 'fix-available' : entry.unfixedState;
  const matchedName = kind === 'listed' ? binaryName : entry.name;
  let match: Match;
  if (entry.stamp !== currentStamp) {
    entry.stamp = currentStamp;
    entry.slot = out.length;
    match = matchPool[out.length] ?? newMatch();
    out.push(match);
  } else {
    // Several intervals of one entry hold the version: keep the one needing the highest fix.
    match = out[entry.slot]!;
    if (match.fixed === null || (fixed !== null && compareCounted(fixed, match.fixed) <= 0)) return;
  }
  match.entry = entry;
  match.interval = interval;
  match.kind = kind;
  match.matchedName = matchedName;
  match.fixed = fixed;
  match.fixState = fixState;
  match.upperPosition = upperPosition;
  match.generalPosition = generalPosition;
  match.rank = rank;
}

function newMatch(): Match {
  const match: Match = {
    entry: null as unknown as CompiledEntry,
    interval: null,
    kind: 'source',
    matchedName: '',
    upperPosition: -1,
    generalPosition: -1,
    rank: 0,
    fixed: null,
    fixState: 'no-fix-yet',
  };
  matchPool.push(match);
  return match;
}

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
  currentOut = out;
  currentStamp = ++evaluationStamp;
  currentKind = kind;
  currentBinaryName = binaryName;
  currentSourceName = sourceName;
  currentEcosystem = ecosystem;
  currentStats = stats;

  const { upper, inclusive, open, general, listed } = table;
  const lookup = tableLookup(table);
  const { ranks } = lookup;
  // Where the version sits among the table's versions: class `at >> 1`, on it when `at & 1`.
  const at = locate(lookup.versions, version, ecosystem, stats);
  const above = (at >> 1) + (at & 1);
  // Affected iff version < fixed: a suffix of `upper`, sorted by fixed.
  const upperRanks = ranks.upper;
  for (let i = lookup.upperCuts[above]!; i < upper.length; i++) {
    const interval = upper[i]!;
    addMatch(interval.entry, interval, interval.fixed, upperRanks[i]!, i, -1);
  }

  for (let i = lookup.inclusiveCuts[at >> 1]!; i < inclusive.length; i++) {
    const interval = inclusive[i]!;
    addMatch(interval.entry, interval, null, ranks.inclusive[i]!, -1, -1);
  }

  for (let i = 0; i < open.length; i++) {
    const interval = open[i]!;
    addMatch(interval.entry, interval, null, ranks.open[i]!, -1, -1);
  }

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
      if (introduced !== null && compareCounted(version, introduced) < 0) continue;
      if (fixed !== null && compareCounted(version, fixed) >= 0) continue;
      if (lastAffected !== null && compareCounted(version, lastAffected) > 0) continue;
      if (limit !== null && compareCounted(version, limit) >= 0) continue;
      held.push(position);
    }
    // In `general` order, as each interval were checked in turn.
    if (held.length > 1) held.sort(byNumber);
    for (const position of held) {
      const interval = general[position]!;
      addMatch(interval.entry, interval, interval.fixed, ranks.general[position]!, -1, position);
    }
  }

  // `versions[]`: equal under the ecosystem's order (deb `1:1.0` is not `1.0`, but `0:1.0` is).
  const listedEnd = (at & 1) === 1 ? lookup.listedCuts[above]! : 0;
  for (let i = (at & 1) === 1 ? lookup.listedCuts[at >> 1]! : 0; i < listedEnd; i++) {
    const { entry } = listed[i]!;
    // The lowest fixed version above the installed one, if the entry's ranges name one.
    let fixed: string | null = null;
    for (const interval of entry.intervals) {
      if (interval.fixed === null || compareCounted(interval.fixed, version) <= 0) continue;
      if (fixed === null || compareCounted(interval.fixed, fixed) < 0) fixed = interval.fixed;
    }
    addMatch(entry, null, fixed, ranks.listed[i]!, -1, -1);
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
          : compareCounted(match.fixed, highest) > 0);
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
      : highest === null || compareCounted(upperFixed, highest) > 0
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

/** CVE ids and natural keys of a verdict's records, gathered then sorted by key (reused). */
const cveIdScratch: string[] = [];
const cveKeyScratch: string[] = [];
const cveOrderScratch: number[] = [];
const byCveKey = (a: number, b: number) => {
  const x = cveKeyScratch[a]!;
  const y = cveKeyScratch[b]!;
  return x < y ? -1 : x > y ? 1 : 0;
};

function assemble(matches: Match[], isOneTable: boolean, fixedVersion: string | null): Template {
  // Ranks order one table's entries as their sort keys do; matches mostly come in order already.
  const order = isOneTable ? compareRanks : compareMatches;
  for (let m = 1; m < matches.length; m++) {
    if (order(matches[m - 1]!, matches[m]!) > 0) {
      matches.sort(order);
      break;
    }
  }
  const advisories: string[] = [];
  const items: TemplateItem[] = new Array(matches.length);
  const urgencies: string[] = [];
  let recordCount = 0;
  let severityRank = 0;
  let severity: Severity = 'unknown';
  let cvssScore: number | null = null;
  let hasFix = false;
  let isAllWillNotFix = true;
  let lastRecord: CompiledEntry['record'] | null = null;
  let lastAdvisory: string | null = null;
  cveIdScratch.length = 0;
  cveKeyScratch.length = 0;
  for (let m = 0; m < matches.length; m++) {
    const match = matches[m]!;
    const { entry } = match;
    if (entry.advisoryId !== lastAdvisory) {
      lastAdvisory = entry.advisoryId;
      advisories.push(lastAdvisory);
    }
    if (entry.record !== lastRecord) {
      lastRecord = entry.record;
      recordCount++;
      const { ids, keys } = cveOrderOf(lastRecord);
      for (let i = 0; i < ids.length; i++) {
        cveIdScratch.push(ids[i]!);
        cveKeyScratch.push(keys[i]!);
      }
      const { cvss } = lastRecord.advisory;
      for (let i = 0; i < cvss.length; i++) {
        const score = cvss[i]!.baseScore;
        if (cvssScore === null || score > cvssScore) cvssScore = score;
      }
    }
    const rank = SEVERITY_RANK[entry.severity];
    if (rank > severityRank) {
      severityRank = rank;
      severity = entry.severity;
    }
    if (entry.urgency !== null && !urgencies.includes(entry.urgency)) urgencies.push(entry.urgency);
    const { fixState, interval, kind } = match;
    if (fixState === 'fix-available') hasFix = true;
    if (fixState !== 'will-not-fix') isAllWillNotFix = false;
    items[m] = {
      advisoryId: entry.advisoryId,
      feed: entry.origin,
      scope: entry.scopeLabel,
      matchedName: match.matchedName,
      matchedBy: kind === 'source' ? 'source' : 'binary',
      range: interval === null ? null : interval.range,
      text: interval === null ? listedText(entry.ecosystem.id) : intervalText(interval),
      fixedVersion: match.fixed,
      fixState,
      isBinaryVersion: kind === 'binary',
    };
  }
  if (urgencies.length > 1) urgencies.sort();
  let cves: string[];
  if (recordCount === 1) {
    cves = cveIdScratch.slice();
  } else {
    const positions = cveOrderScratch;
    positions.length = cveIdScratch.length;
    for (let i = 0; i < positions.length; i++) positions[i] = i;
    positions.sort(byCveKey);
    cves = [];
    let lastKey: string | null = null;
    for (let i = 0; i < positions.length; i++) {
      const key = cveKeyScratch[positions[i]!]!;
      if (key === lastKey) continue;
      lastKey = key;
      cves.push(cveIdScratch[positions[i]!]!);
    }
  }
  return {
    fixedVersion,
    fixState: hasFix ? 'fix-available' : isAllWillNotFix ? 'will-not-fix' : 'no-fix-yet',
    advisories,
    cves,
    severity,
    urgencies,
    cvssScore,
    items,
    kevMap: null,
    epssMap: null,
    isKev: false,
    kevDueDate: null,
    knownRansomwareUse: false,
    epss: null,
    epssPercentile: null,
    riskLow: Number.NaN,
    riskMedium: Number.NaN,
    riskHigh: Number.NaN,
    riskCritical: Number.NaN,
    dueSla: null,
    dueDay: Number.NaN,
    dueValue: null,
    hostStamp: 0,
    hostBinaryVersion: '',
    hostSourceVersion: '',
    hostEvidence: null,
  };
}

/** Reads the template's KEV and EPSS figures from the context's maps (when they are not those last read). */
function readExploitFigures(template: Template, context: DetectionContext): void {
  const kevs = context.kev;
  const scores = context.epss;
  if (template.kevMap === kevs && template.epssMap === scores) return;
  let isKev = false;
  let kevDueDate: string | null = null;
  let knownRansomwareUse = false;
  let epss: number | null = null;
  let epssPercentile: number | null = null;
  const hasKev = kevs.size > 0;
  const hasEpss = scores.size > 0;
  const { cves } = template;
  for (let i = 0; i < cves.length; i++) {
    const cve = cves[i]!;
    const kev = hasKev ? kevs.get(cve) : undefined;
    if (kev !== undefined) {
      isKev = true;
      if (kevDueDate === null || kev.dueDate < kevDueDate) kevDueDate = kev.dueDate;
      if (kev.knownRansomwareUse) knownRansomwareUse = true;
    }
    const score = hasEpss ? scores.get(cve) : undefined;
    if (score !== undefined && (epss === null || score.epss > epss)) {
      epss = score.epss;
      epssPercentile = score.percentile;
    }
  }
  template.kevMap = kevs;
  template.epssMap = scores;
  template.isKev = isKev;
  template.kevDueDate = kevDueDate;
  template.knownRansomwareUse = knownRansomwareUse;
  template.epss = epss;
  template.epssPercentile = epssPercentile;
  template.riskLow = Number.NaN;
  template.riskMedium = Number.NaN;
  template.riskHigh = Number.NaN;
  template.riskCritical = Number.NaN;
  template.dueSla = null;
}

/** The evidence of a template for one installed (binary, source) version. */
function evidenceOf(template: Template, installedVersion: string, sourceVersion: string): FindingEvidence[] {
  const installedBinary = `installed ${installedVersion}`;
  const installedSource =
    sourceVersion === installedVersion ? installedBinary : `installed source ${sourceVersion}`;
  const { items } = template;
  const evidence: FindingEvidence[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    evidence[i] = {
      advisoryId: item.advisoryId,
      feed: item.feed,
      scope: item.scope,
      matchedName: item.matchedName,
      matchedBy: item.matchedBy,
      range: item.range,
      comparison: (item.isBinaryVersion ? installedBinary : installedSource) + item.text,
      fixedVersion: item.fixedVersion,
      fixState: item.fixState,
    };
  }
  return evidence;
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
  template: Template,
  evidence: FindingEvidence[],
  context: DetectionContext,
  dues: DueCache,
): Finding {
  readExploitFigures(template, context);
  const firstSeen = (context.firstSeen === undefined ? null : context.firstSeen(pkg.name)) ?? context.now;
  const day = Math.floor(firstSeen.getTime() / DAY_MS);
  if (template.dueSla !== context.sla || template.dueDay !== day) {
    if (dues.day !== day) {
      dues.day = day;
      dues.bySeverity = {};
    }
    let value = template.isKev ? undefined : dues.bySeverity[template.severity];
    if (value === undefined) {
      value = dueDate(
        { severity: template.severity, isKev: template.isKev, kevDueDate: template.kevDueDate, firstSeen },
        context.sla,
      );
      if (!template.isKev) dues.bySeverity[template.severity] = value;
    }
    template.dueSla = context.sla;
    template.dueDay = day;
    template.dueValue = value;
  }
  const { criticality } = context;
  let risk =
    criticality === 'high'
      ? template.riskHigh
      : criticality === 'medium'
        ? template.riskMedium
        : criticality === 'low'
          ? template.riskLow
          : template.riskCritical;
  if (Number.isNaN(risk)) {
    risk = riskScore({
      severity: template.severity,
      cvssScore: template.cvssScore,
      epss: template.epss,
      isKev: template.isKev,
      knownRansomwareUse: template.knownRansomwareUse,
      criticality,
    });
    if (criticality === 'high') template.riskHigh = risk;
    else if (criticality === 'medium') template.riskMedium = risk;
    else if (criticality === 'low') template.riskLow = risk;
    else template.riskCritical = risk;
  }
  return {
    package: pkg.name,
    sourcePackage: pkg.source === null ? null : pkg.source.name,
    ecosystem: pkg.ecosystem,
    installedVersion: pkg.version,
    architecture: pkg.architecture,
    fixedVersion: template.fixedVersion,
    fixState: template.fixState,
    advisories: template.advisories,
    cves: template.cves,
    severity: template.severity,
    urgencies: template.urgencies,
    cvssScore: template.cvssScore,
    isKev: template.isKev,
    kevDueDate: template.kevDueDate,
    knownRansomwareUse: template.knownRansomwareUse,
    epss: template.epss,
    epssPercentile: template.epssPercentile,
    riskScore: risk,
    dueDate: template.dueValue,
    evidence,
  };
}

const listedTexts = new Map<string, string>();

/** What follows `installed <version>` in the evidence of a `versions` list match. */
function listedText(ecosystem: EcosystemId): string {
  let text = listedTexts.get(ecosystem);
  if (text === undefined) {
    text = ` in versions list (${ecosystem})`;
    listedTexts.set(ecosystem, text);
  }
  return text;
}

/**
 * What follows `installed <version>` in the evidence of an interval: ` < fixed 3.0.11-1~deb12u2 (deb)`
 * and the like. Made on first use and kept on the interval.
 */
function intervalText(interval: Interval): string {
  if (interval.text !== null) return interval.text;
  const ecosystem = interval.entry.ecosystem.id;
  const { introduced, fixed, lastAffected, limit } = interval;
  let text: string;
  if (introduced === null && lastAffected === null && limit === null) {
    text =
      fixed === null ? `: every version affected, no fix (${ecosystem})` : ` < fixed ${fixed} (${ecosystem})`;
  } else {
    let bounds = '';
    if (introduced !== null) bounds = `>= introduced ${introduced}`;
    if (fixed !== null) bounds += `${bounds === '' ? '' : ' and '}< fixed ${fixed}`;
    if (lastAffected !== null) bounds += `${bounds === '' ? '' : ' and '}<= last_affected ${lastAffected}`;
    if (limit !== null) bounds += `${bounds === '' ? '' : ' and '}< limit ${limit}`;
    const unfixed = fixed === null && lastAffected === null ? ', no fix' : '';
    text = ` ${bounds}${unfixed} (${ecosystem})`;
  }
  interval.text = text;
  return text;
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
