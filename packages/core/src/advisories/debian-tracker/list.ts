import type { Advisory, AdvisoryParseResult, AffectedPackage, SkippedRecord } from '../../types/advisory.js';
import {
  cleanUrgency,
  cveOf,
  highestSeverity,
  isIsoDate,
  severityFromWord,
  splitLines,
  stripBom,
} from '../common.js';
import { debianPackage } from './affected.js';
import { debianRelease } from './releases.js';
import { LIST_HEADER, LIST_IDS, LIST_NOTE, LIST_RELEASE, MONTHS } from './schema.js';

interface Builder {
  id: string;
  summary: string | null;
  published: string | null;
  ids: string[];
  affected: AffectedPackage[];
  bugs: string[];
}

/**
 * What a `<…>` pseudo-version on a release line means: `isAffected` gives an entry with no fixed
 * version and the given `noFixReason`; otherwise the release gets no entry.
 */
const PSEUDO_VERSIONS: ReadonlyMap<string, { isAffected: boolean; noFixReason: string | null }> = new Map([
  ['<not-affected>', { isAffected: false, noFixReason: null }],
  ['<removed>', { isAffected: false, noFixReason: null }],
  ['<itp>', { isAffected: false, noFixReason: null }],
  ['<unfixed>', { isAffected: true, noFixReason: null }],
  ['<postponed>', { isAffected: true, noFixReason: null }],
  ['<end-of-life>', { isAffected: true, noFixReason: 'end-of-life' }],
  ['<no-dsa>', { isAffected: true, noFixReason: 'no-dsa' }],
  ['<ignored>', { isAffected: true, noFixReason: 'ignored' }],
]);

/**
 * Parses the tracker's `data/DSA/list` or `data/DLA/list` text: one Advisory per
 * `[DD Mon YYYY] DSA-NNNN-R <packages> - <title>` header, its ids from the `{CVE-…}` line
 * (aliases; CVEs also in `cves`), and one affected entry per `[codename] - <package> <version>`
 * line. `<not-affected>`, `<removed>` and `<itp>` give no entry; `<unfixed>`/`<postponed>` an
 * entry with no fix; `<end-of-life>`, `<no-dsa>`, `<ignored>` one with that `noFixReason`
 * (+ `: comment`). An urgency word in the line's parenthesis (`(bug #123; medium)`) is kept.
 * `NOTE:` lines and blank lines are comments. Every other line is reported in `skipped` with its
 * line number (`<location>:<line>`), never dropped silently; a header that does not parse takes
 * its body lines with it, reported as one entry. An id listed twice is merged into one Advisory.
 */
export function parseDebianAdvisoryList(
  text: string,
  location: string,
  kind: 'DSA' | 'DLA',
  releases?: Record<string, string>,
): AdvisoryParseResult {
  const skipped: SkippedRecord[] = [];
  const builders = new Map<string, Builder>();
  let current: Builder | null = null;
  /** A header that did not parse: its line number, reason and the count of body lines skipped with it. */
  let broken: { line: number; reason: string; bodyLines: number } | null = null;
  const closeBroken = () => {
    if (broken === null) return;
    const body = broken.bodyLines === 0 ? '' : `; its ${broken.bodyLines} body lines were skipped with it`;
    skipped.push({
      location: `${location}:${broken.line}`,
      recordId: null,
      reason: `${broken.reason}${body}`,
    });
    broken = null;
  };

  for (const [index, line] of splitLines(stripBom(text)).entries()) {
    const lineNumber = index + 1;
    const at = `${location}:${lineNumber}`;
    if (line.trim() === '') continue;
    const header = LIST_HEADER.exec(line);
    if (header !== null || !/^\s/.test(line)) {
      closeBroken();
      current = null;
      const parsed = header === null ? null : parseHeader(header, kind);
      if (parsed === null || typeof parsed === 'string') {
        broken = { line: lineNumber, reason: parsed ?? `not a ${kind} header`, bodyLines: 0 };
        continue;
      }
      current = builders.get(parsed.id) ?? null;
      if (current === null) {
        current = { ...parsed, ids: [], affected: [], bugs: [] };
        builders.set(parsed.id, current);
      }
      continue;
    }
    if (broken !== null) {
      broken.bodyLines += 1;
      continue;
    }
    if (LIST_NOTE.test(line)) continue;
    if (current === null) {
      skipped.push({ location: at, recordId: null, reason: 'a body line before any advisory header' });
      continue;
    }
    const ids = LIST_IDS.exec(line);
    if (ids !== null) {
      current.ids.push(...ids[1]!.split(/\s+/).filter((id) => id !== ''));
      continue;
    }
    const release = LIST_RELEASE.exec(line);
    if (release === null) {
      skipped.push({ location: at, recordId: current.id, reason: 'not an ids, release or NOTE line' });
      continue;
    }
    const problem = addRelease(current, release, releases);
    if (problem !== null) skipped.push({ location: at, recordId: current.id, reason: problem });
  }
  closeBroken();

  const advisories: Advisory[] = [];
  for (const builder of builders.values()) {
    const aliases = [...new Set(builder.ids)];
    advisories.push({
      id: builder.id,
      source: 'debian-tracker',
      aliases,
      related: [],
      cves: [...new Set(aliases.map(cveOf).filter((cve) => cve !== null))].sort(),
      summary: builder.summary,
      published: builder.published,
      modified: null,
      withdrawn: null,
      severity: highestSeverity(builder.affected.map((pkg) => pkg.severity)) ?? 'unknown',
      cvss: [],
      affected: builder.affected,
      references: [
        `https://security-tracker.debian.org/tracker/${builder.id}`,
        ...[...new Set(builder.bugs)].map((bug) => `https://bugs.debian.org/${bug}`),
      ],
    });
  }
  return { advisories, skipped };
}

/** The header's fields, or a reason string when it is not a header of this list. */
function parseHeader(
  match: RegExpExecArray,
  kind: 'DSA' | 'DLA',
): { id: string; summary: string | null; published: string } | string {
  const [, day, month, year, id, title] = match;
  if (!id!.startsWith(`${kind}-`)) return `${id} is not a ${kind} id`;
  const monthNumber = MONTHS[month!];
  const date = `${year}-${monthNumber}-${day!.padStart(2, '0')}`;
  if (monthNumber === undefined || !isIsoDate(date)) return `${day} ${month} ${year} is not a date`;
  const summary = title?.trim() ?? '';
  return { id: id!, summary: summary === '' ? null : summary, published: `${date}T00:00:00Z` };
}

const URGENCIES: ReadonlySet<string> = new Set(['unimportant', 'low', 'medium', 'high']);

/** Adds the release line's entry to `builder`; returns a reason when the line cannot be used. */
function addRelease(
  builder: Builder,
  match: RegExpExecArray,
  releases: Record<string, string> | undefined,
): string | null {
  const [, codename, pkg, version, note] = match;
  const release = debianRelease(codename!, releases);
  if (release === undefined) return `the release codename "${codename}" is unknown`;
  let urgency: string | null = null;
  const comments: string[] = [];
  for (const part of (note ?? '').split(';')) {
    const text = part.trim();
    const bug = /^bug #(\d+)$/.exec(text);
    if (bug !== null) builder.bugs.push(bug[1]!);
    else if (URGENCIES.has(cleanUrgency(text)) && severityFromWord(text) !== null) urgency = text;
    else if (text !== '') comments.push(text);
  }
  if (!version!.startsWith('<')) {
    builder.affected.push(debianPackage(pkg!, release, version!, null, urgency));
    return null;
  }
  const pseudo = PSEUDO_VERSIONS.get(version!);
  if (pseudo === undefined) return `unknown pseudo-version ${version}`;
  if (!pseudo.isAffected) return null;
  const comment = comments.join('; ');
  const reason =
    pseudo.noFixReason === null || comment === '' ? pseudo.noFixReason : `${pseudo.noFixReason}: ${comment}`;
  builder.affected.push(debianPackage(pkg!, release, null, reason, urgency));
  return null;
}
