import { PatchwardenError } from '../errors.js';
import type { CvssScore, Severity, SkippedRecord } from '../types/advisory.js';

/**
 * A record that breaks its feed's schema. `issues` lists every problem found (each naming the
 * field, e.g. `affected[0].ranges[1].events must be a non-empty array`), not just the first.
 */
export class InvalidAdvisoryError extends PatchwardenError {
  constructor(
    readonly location: string,
    readonly recordId: string | null,
    readonly issues: readonly string[],
  ) {
    super('INVALID_ADVISORY', `${location}: ${recordId ?? '(no id)'}: ${issues.join('; ')}`, 400);
  }
}

/** Highest first, as `Severity` documents it. */
const SEVERITY_ORDER: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];

/** Negative when `a` is more severe than `b`: sorts highest first. */
export function compareSeverity(a: Severity, b: Severity): number {
  return SEVERITY_ORDER.indexOf(a) - SEVERITY_ORDER.indexOf(b);
}

/** The more severe of the two; `unknown` loses to every word. */
export function higherSeverity(a: Severity, b: Severity): Severity {
  return compareSeverity(a, b) <= 0 ? a : b;
}

/** The most severe of `values`, ignoring nulls; null when none is given. */
export function highestSeverity(values: Iterable<Severity | null>): Severity | null {
  let best: Severity | null = null;
  for (const value of values) {
    if (value !== null) best = best === null ? value : higherSeverity(best, value);
  }
  return best;
}

/**
 * The severity words of the sources, lower case, with the trailing `*`/`**` markers the Debian
 * tracker uses stripped. Debian urgency: unimportant, low, medium, high, `not yet assigned`,
 * `end-of-life`. Ubuntu priority: negligible, low, medium, high, critical, untriaged. Red Hat
 * family (also in AlmaLinux/Rocky summaries): Critical, Important, Moderate, Low. GitHub/OSV
 * `database_specific.severity`: CRITICAL, HIGH, MODERATE, LOW. SUSE: critical, important, moderate, low.
 */
const SEVERITY_WORDS: ReadonlyMap<string, Severity> = new Map<string, Severity>([
  ['critical', 'critical'],
  ['important', 'high'],
  ['high', 'high'],
  ['moderate', 'medium'],
  ['medium', 'medium'],
  ['low', 'low'],
  ['negligible', 'negligible'],
  ['unimportant', 'negligible'],
  ['not yet assigned', 'unknown'],
  ['untriaged', 'unknown'],
  ['unknown', 'unknown'],
  ['none', 'unknown'],
  ['end-of-life', 'unknown'],
]);

/** `medium**` -> `medium`; trims and lower-cases. */
export function cleanUrgency(word: string): string {
  return word.trim().replace(/\*+$/, '').trim().toLowerCase();
}

/**
 * Maps a source's severity or urgency word to a `Severity`: `unknown` for words that explicitly
 * say "no rating" (`not yet assigned`, `untriaged`, `end-of-life`), null for words it does not know.
 */
export function severityFromWord(word: string): Severity | null {
  return SEVERITY_WORDS.get(cleanUrgency(word)) ?? null;
}

/** A severity word usable as an explicit rating: a known word other than `unknown`, else null. */
export function ratedSeverity(word: string | null | undefined): Severity | null {
  if (word === null || word === undefined) return null;
  const severity = severityFromWord(word);
  return severity === 'unknown' ? null : severity;
}

/** The record severity rule: the explicit word, else the highest CVSS rating, else `unknown`. */
export function recordSeverity(explicit: Severity | null, cvss: readonly CvssScore[]): Severity {
  if (explicit !== null) return explicit;
  return highestSeverity(cvss.map((score) => score.severity)) ?? 'unknown';
}

const CVE_ID = /^CVE-\d{4}-\d{4,}$/;
/** Distribution records named after one CVE (`UBUNTU-CVE-2025-38094`, `DEBIAN-CVE-…`, `ALPINE-CVE-…`). */
const PREFIXED_CVE_ID = /^[A-Z]+-(CVE-\d{4}-\d{4,})$/;

export function isCveId(id: string): boolean {
  return CVE_ID.test(id);
}

/** The CVE id an id names: itself when it is one, the embedded one for `UBUNTU-CVE-…`-style ids, else null. */
export function cveOf(id: string): string | null {
  if (CVE_ID.test(id)) return id;
  const match = PREFIXED_CVE_ID.exec(id);
  return match ? match[1]! : null;
}

/**
 * Pages that are about exactly one CVE: a reference to one of them says the record is about that
 * CVE (AlmaLinux names some CVEs only there; USNs name only `UBUNTU-CVE-…` ids besides them).
 */
const CVE_PAGE =
  /^https?:\/\/(?:access\.redhat\.com\/security\/cve\/|www\.redhat\.com\/security\/data\/cve\/|nvd\.nist\.gov\/vuln\/detail\/|www\.cve\.org\/CVERecord\?id=|cve\.mitre\.org\/cgi-bin\/cvename\.cgi\?name=|ubuntu\.com\/security\/|security-tracker\.debian\.org\/tracker\/|security\.alpinelinux\.org\/vuln\/)(CVE-\d{4}-\d{4,})(?:\.html)?\/?$/i;

/** The CVE a reference URL is the page of, or null. */
export function cveOfReference(url: string): string | null {
  const match = CVE_PAGE.exec(url);
  return match ? match[1]!.toUpperCase() : null;
}

/** Sorted, unique. */
export function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/** Unique, in first-seen order. */
export function unique(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

/** A plain JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `2023-03-29` is a real calendar date in YYYY-MM-DD form. */
export function isIsoDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(text);
}

/**
 * What was dropped from, or tolerated in, records that were otherwise kept (an affected entry of
 * an unsupported ecosystem, a GIT range, an unreadable CVSS vector). Collected while parsing a
 * document and reported once per reason as `SkippedRecord`s, so that a large feed gives a short
 * report. Reasons start with a verb: `dropped GIT ranges (…)`.
 */
export class DroppedParts {
  readonly #byReason = new Map<string, { count: number; ids: string[] }>();

  add(recordId: string, reason: string): void {
    const entry = this.#byReason.get(reason);
    if (entry === undefined) {
      this.#byReason.set(reason, { count: 1, ids: [recordId] });
      return;
    }
    entry.count += 1;
    if (!entry.ids.includes(recordId)) entry.ids.push(recordId);
  }

  /** One `SkippedRecord` per reason: the record id when one record is involved, else null with examples. */
  toSkipped(location: string): SkippedRecord[] {
    const skipped: SkippedRecord[] = [];
    for (const [reason, { count, ids }] of this.#byReason) {
      if (ids.length === 1) {
        const times = count === 1 ? '' : ` (${count} times)`;
        skipped.push({ location, recordId: ids[0]!, reason: `kept the record; ${reason}${times}` });
      } else {
        const examples = ids.slice(0, 3).join(', ') + (ids.length > 3 ? ', …' : '');
        skipped.push({
          location,
          recordId: null,
          reason: `kept the records; ${reason} (${count} times in ${ids.length} records: ${examples})`,
        });
      }
    }
    return skipped;
  }
}

/** A message for anything thrown, for `SkippedRecord.reason`. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Splits text into lines without the line ends (`\n` or `\r\n`); a trailing newline adds no line. */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!;
    if (line.endsWith('\r')) lines[i] = line.slice(0, -1);
  }
  return lines;
}

/** Drops a leading byte-order mark. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
