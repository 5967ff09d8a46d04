import type {
  Advisory,
  AdvisoryParseResult,
  AffectedPackage,
  AffectedRange,
  CvssScore,
  Severity,
  SkippedRecord,
} from '../../types/advisory.js';
import {
  cveOf,
  cveOfReference,
  DroppedParts,
  highestSeverity,
  InvalidAdvisoryError,
  isObject,
  messageOf,
  ratedSeverity,
  recordSeverity,
  sortedUnique,
  splitLines,
  stripBom,
  unique,
} from '../common.js';
import { cvssScore } from '../cvss.js';
import { hasComparableEcosystemRanges, osvEcosystem } from './ecosystem.js';
import {
  type OsvAffected,
  type OsvEvent,
  type OsvRecord,
  type OsvSeverity,
  readOsvRecord,
} from './schema.js';

/**
 * Parses one OSV document: a single record (JSON object), a JSON array of records, an osv.dev
 * `{"vulns": [...]}` answer, or NDJSON (one record per line, as in the AlmaLinux data). A record
 * that breaks the schema is reported in `skipped` (location, id, every problem) and the rest go on;
 * parts of kept records that Patchwarden cannot use (an unsupported ecosystem, GIT ranges, an
 * unreadable CVSS vector) are reported there too, once per reason (see readme.md).
 */
export function parseOsvDocument(text: string, location: string): AdvisoryParseResult {
  const advisories: Advisory[] = [];
  const skipped: SkippedRecord[] = [];
  const dropped = new DroppedParts();
  const take = (raw: unknown, recordLocation: string) => {
    try {
      advisories.push(convertRecord(raw, recordLocation, dropped));
    } catch (error) {
      if (!(error instanceof InvalidAdvisoryError)) throw error;
      skipped.push({ location: recordLocation, recordId: error.recordId, reason: error.issues.join('; ') });
    }
  };

  const body = stripBom(text);
  const trimmed = body.trim();
  if (trimmed === '') return { advisories, skipped };
  let whole: unknown;
  let wholeError: unknown = null;
  try {
    whole = JSON.parse(trimmed);
  } catch (error) {
    wholeError = error;
  }

  if (wholeError === null) {
    if (Array.isArray(whole)) {
      for (const [i, raw] of whole.entries()) take(raw, `${location}[${i}]`);
    } else if (isObject(whole) && whole.id === undefined && Array.isArray(whole.vulns)) {
      for (const [i, raw] of whole.vulns.entries()) take(raw, `${location}:vulns[${i}]`);
    } else {
      take(whole, location);
    }
  } else if (isNdjson(trimmed)) {
    for (const [i, line] of splitLines(body).entries()) {
      if (line.trim() === '') continue;
      const lineLocation = `${location}:${i + 1}`;
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch (error) {
        skipped.push({
          location: lineLocation,
          recordId: sniffId(line),
          reason: `not valid JSON: ${messageOf(error)}`,
        });
        continue;
      }
      take(raw, lineLocation);
    }
  } else {
    skipped.push({
      location,
      recordId: sniffId(trimmed),
      reason: `not valid JSON: ${messageOf(wholeError)}`,
    });
  }
  return { advisories, skipped: [...skipped, ...dropped.toSkipped(location)] };
}

/**
 * Converts one parsed OSV record. Throws InvalidAdvisoryError naming the record id and every
 * field that breaks the OSV schema. Parts Patchwarden cannot use are dropped silently here; use
 * `parseOsvDocument` to have them reported.
 */
export function parseOsvRecord(raw: unknown, location: string): Advisory {
  return convertRecord(raw, location, new DroppedParts());
}

function convertRecord(raw: unknown, location: string, dropped: DroppedParts): Advisory {
  const issues: string[] = [];
  const record = readOsvRecord(raw, issues);
  if (issues.length > 0) {
    throw new InvalidAdvisoryError(location, record.id === '' ? null : record.id, issues);
  }
  const id = record.id;
  const cvss = new Map<string, CvssScore>();
  addCvss(record.severity, id, cvss, dropped);

  const affected: AffectedPackage[] = [];
  const packageWords: Array<Severity | null> = [];
  for (const entry of record.affected) {
    const converted = convertAffected(entry, id, cvss, dropped);
    if (converted === null) continue;
    affected.push(converted.pkg);
    packageWords.push(converted.wordSeverity);
  }

  const aliases = unique([...record.aliases, ...record.upstream]).filter((alias) => alias !== id);
  const related = unique(record.related);
  const cves = sortedUnique([
    ...[id, ...aliases, ...related].map(cveOf).filter((cve) => cve !== null),
    ...record.references.map(cveOfReference).filter((cve) => cve !== null),
  ]);
  const scores = [...cvss.values()];
  const explicit = recordSeverityWord(record) ?? highestSeverity(packageWords);
  return {
    id,
    source: 'osv',
    aliases,
    related,
    cves,
    summary: record.summary,
    published: record.published,
    modified: record.modified,
    withdrawn: record.withdrawn,
    severity: recordSeverity(explicit, scores),
    cvss: scores,
    affected,
    references: unique(record.references),
  };
}

/** Red Hat family errata put the Red Hat impact word in front of the summary: `Important: kernel update`. */
const ERRATA_ID = /^(?:AL|RL|RX|RH)[SBE]A-/;
const IMPACT_PREFIX = /^(Critical|Important|Moderate|Low|None):/;

/** The record's own severity word: an `Ubuntu` severity entry, `database_specific.severity`, or an errata summary prefix. */
function recordSeverityWord(record: OsvRecord): Severity | null {
  for (const severity of record.severity) {
    if (severity.type === 'Ubuntu') {
      const rated = ratedSeverity(severity.score);
      if (rated !== null) return rated;
    }
  }
  const word = record.databaseSpecific?.severity;
  if (typeof word === 'string' && ratedSeverity(word) !== null) return ratedSeverity(word);
  if (ERRATA_ID.test(record.id) && record.summary !== null) {
    const match = IMPACT_PREFIX.exec(record.summary);
    if (match) return ratedSeverity(match[1]);
  }
  return null;
}

const CVSS_TYPES: ReadonlySet<string> = new Set(['CVSS_V2', 'CVSS_V3', 'CVSS_V4']);

/** Adds the scores of `severities` to `into` (keyed by vector); returns the ones added here. */
function addCvss(
  severities: readonly OsvSeverity[],
  id: string,
  into: Map<string, CvssScore>,
  dropped: DroppedParts,
): CvssScore[] {
  const scores: CvssScore[] = [];
  for (const severity of severities) {
    if (!CVSS_TYPES.has(severity.type)) continue;
    const score = cvssScore(severity.score);
    if (score === null) {
      dropped.add(id, `dropped a ${severity.type} severity whose vector is not a complete CVSS vector`);
      continue;
    }
    scores.push(score);
    if (!into.has(score.vector)) into.set(score.vector, score);
  }
  return scores;
}

/** The package, and the severity its own words give (before falling back to its CVSS vectors). */
interface ConvertedAffected {
  pkg: AffectedPackage;
  wordSeverity: Severity | null;
}

function convertAffected(
  entry: OsvAffected,
  id: string,
  cvss: Map<string, CvssScore>,
  dropped: DroppedParts,
): ConvertedAffected | null {
  const packageScores = addCvss(entry.severity, id, cvss, dropped);
  if (entry.package === null) {
    dropped.add(id, 'dropped an affected entry without a package (GIT-only)');
    return null;
  }
  const ecosystemString = entry.package.ecosystem;
  const target = osvEcosystem(ecosystemString);
  if (target === null) {
    dropped.add(id, `dropped affected entries of the unsupported ecosystem "${ecosystemString}"`);
    return null;
  }
  const comparable = hasComparableEcosystemRanges(ecosystemString);
  const ranges: AffectedRange[] = [];
  for (const range of entry.ranges) {
    if (range.type === 'GIT') {
      dropped.add(id, 'dropped GIT ranges (commit hashes, not package versions)');
    } else if (range.type === 'SEMVER' || (range.type === 'ECOSYSTEM' && comparable)) {
      ranges.push(...toIntervals(range.events, (reason) => dropped.add(id, reason)));
    } else if (range.type === 'ECOSYSTEM') {
      dropped.add(
        id,
        `dropped ECOSYSTEM ranges of "${ecosystemString}" (its version order is not implemented)`,
      );
    } else {
      dropped.add(id, `dropped ranges of the unknown type "${range.type}"`);
    }
  }
  // Explicit versions of an ecosystem whose order we lack could not be compared either.
  const versions = comparable ? unique(entry.versions) : [];
  if (!comparable && entry.versions.length > 0) {
    dropped.add(id, `dropped versions lists of "${ecosystemString}" (its version order is not implemented)`);
  }
  if (ranges.length === 0 && versions.length === 0) {
    if (entry.ranges.length === 0 && entry.versions.length === 0) {
      dropped.add(id, 'dropped an affected entry with neither ranges nor versions');
    }
    return null;
  }

  const specific = { ...entry.databaseSpecific, ...entry.ecosystemSpecific };
  const urgency = firstString(specific, ['urgency', 'ubuntu_priority']);
  const wordSeverity = ratedSeverity(firstString(specific, ['severity']) ?? urgency);
  const pkg: AffectedPackage = {
    ecosystem: target.ecosystem,
    scope: target.scope,
    name: entry.package.name,
    nameKind: target.nameKind,
    ranges,
    versions,
    binaries: binaryNames(entry.ecosystemSpecific?.binaries),
    noFixReason: null,
    severity: wordSeverity ?? highestSeverity(packageScores.map((score) => score.severity)),
    urgency,
  };
  return { pkg, wordSeverity };
}

function firstString(obj: Record<string, unknown>, keys: readonly string[]): string | null {
  for (const key of keys) {
    const value = obj[key];
    if (typeof value === 'string' && value.trim() !== '') return value;
  }
  return null;
}

/**
 * Ubuntu's `ecosystem_specific.binaries` in its two shapes: `[{binary_name, binary_version}]`
 * (USN records) and `[{<binary>: <version>, …}]` (CVE records); also a plain `{<binary>: <version>}`.
 */
function binaryNames(value: unknown): string[] {
  const names: string[] = [];
  const items = Array.isArray(value) ? value : isObject(value) ? [value] : [];
  for (const item of items) {
    if (!isObject(item)) continue;
    if (typeof item.binary_name === 'string') names.push(item.binary_name);
    else names.push(...Object.keys(item));
  }
  return unique(names);
}

/**
 * Turns an OSV event list into affected intervals following the spec's evaluation algorithm, in
 * the order the record gives the events (records list them in version order in practice; the
 * parser owns no comparator). `introduced: "0"` is below every version, so it is taken first
 * wherever it stands. `introduced` opens an interval; `fixed` (exclusive) or `last_affected`
 * (inclusive) closes it; an interval left open is unfixed. A `limit` bounds every interval of the
 * range. Oddities (a close with nothing open, two opens in a row, several limits, fixed mixed with
 * last_affected) are tolerated and reported through `note`.
 */
export function toIntervals(events: readonly OsvEvent[], note: (reason: string) => void): AffectedRange[] {
  const isZero = (event: OsvEvent) => event.kind === 'introduced' && event.version === '0';
  const ordered = [...events.filter(isZero), ...events.filter((event) => !isZero(event))];
  const limits = ordered.filter((event) => event.kind === 'limit').map((event) => event.version);
  if (limits.length > 1) note('used only the first limit of a range with several limit events');
  const limit = limits[0] ?? null;

  const intervals: AffectedRange[] = [];
  let isOpen = false;
  let introduced: string | null = null;
  let hasFixed = false;
  let hasLastAffected = false;
  for (const event of ordered) {
    switch (event.kind) {
      case 'introduced':
        if (isOpen) {
          note('ignored an introduced event that follows another (kept the first)');
          break;
        }
        isOpen = true;
        introduced = event.version === '0' ? null : event.version;
        break;
      case 'fixed':
      case 'last_affected': {
        if (!isOpen) {
          note(`ignored a ${event.kind} event with no introduced before it`);
          break;
        }
        const isFixed = event.kind === 'fixed';
        hasFixed ||= isFixed;
        hasLastAffected ||= !isFixed;
        intervals.push({
          introduced,
          fixed: isFixed ? event.version : null,
          lastAffected: isFixed ? null : event.version,
          limit,
        });
        isOpen = false;
        break;
      }
      case 'limit':
        break;
    }
  }
  if (isOpen) intervals.push({ introduced, fixed: null, lastAffected: null, limit });
  if (hasFixed && hasLastAffected) note('tolerated a range that mixes fixed and last_affected');
  return intervals;
}

/** NDJSON when the first non-blank line is a complete JSON value by itself. */
function isNdjson(text: string): boolean {
  const end = text.indexOf('\n');
  if (end === -1) return false;
  try {
    JSON.parse(text.slice(0, end));
    return true;
  } catch {
    return false;
  }
}

/** The `"id"` of a record that does not parse, for the report. */
function sniffId(text: string): string | null {
  const match = /"id"\s*:\s*"([^"\\]{1,200})"/.exec(text.slice(0, 4096));
  return match ? match[1]! : null;
}
