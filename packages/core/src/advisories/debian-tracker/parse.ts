import type { Advisory, AdvisoryParseResult, AffectedPackage, SkippedRecord } from '../../types/advisory.js';
import { cveOf, DroppedParts, highestSeverity, isObject, messageOf, stripBom } from '../common.js';
import { debianPackage, noFixReasonOf } from './affected.js';
import { debianRelease } from './releases.js';
import { readTrackerIssue, type TrackerRelease } from './schema.js';

/** CVE ids and the tracker's `TEMP-0000000-1A2B3C` placeholders for issues without one. */
const ISSUE_ID = /^(?:CVE-\d{4}-\d{4,}|TEMP-\d+-[0-9A-Fa-f]+)$/;

interface Builder {
  summary: string | null;
  bugs: Set<number>;
  affected: AffectedPackage[];
}

/**
 * Parses the security tracker's JSON dump (`package -> CVE/TEMP id -> {description, debianbug,
 * releases: {codename: {status, fixed_version, urgency, nodsa, nodsa_reason}}}`) into one
 * Advisory per id, with one affected entry per (source package, release) that is or was affected:
 * - `resolved` with `fixed_version` `"0"`: never affected, no entry; with a version: fixed there.
 * - `open`: affected with no fix; `noFixReason` from the no-DSA marks (see `noFixReasonOf`).
 * - `undetermined`: affected with no fix until the tracker says otherwise; urgency kept.
 * Codenames map to releases through `releases` (e.g. `debianReleasesFromConfig`) over the built-in
 * table; sid gives a null release. Entries that break the shape are reported in `skipped` as
 * `<package>/<id>`; releases with an unknown codename or status are reported once per reason.
 */
export function parseDebianTrackerJson(
  text: string,
  location: string,
  releases?: Record<string, string>,
): AdvisoryParseResult {
  const skipped: SkippedRecord[] = [];
  let document: unknown;
  try {
    document = JSON.parse(stripBom(text));
  } catch (error) {
    return {
      advisories: [],
      skipped: [{ location, recordId: null, reason: `not valid JSON: ${messageOf(error)}` }],
    };
  }
  if (!isObject(document)) {
    return {
      advisories: [],
      skipped: [{ location, recordId: null, reason: 'the document must be a JSON object' }],
    };
  }

  const dropped = new DroppedParts();
  const builders = new Map<string, Builder>();
  for (const [pkg, issuesById] of Object.entries(document)) {
    if (!isObject(issuesById)) {
      skipped.push({
        location: `${location}:${pkg}`,
        recordId: null,
        reason: 'a package entry must be an object',
      });
      continue;
    }
    for (const [id, raw] of Object.entries(issuesById)) {
      const problems: string[] = [];
      if (!ISSUE_ID.test(id)) problems.push('the id is neither a CVE id nor a TEMP- id');
      const issue = readTrackerIssue(raw, problems);
      if (problems.length > 0) {
        skipped.push({ location: `${location}:${pkg}/${id}`, recordId: id, reason: problems.join('; ') });
        continue;
      }
      let builder = builders.get(id);
      if (builder === undefined) {
        builder = { summary: null, bugs: new Set(), affected: [] };
        builders.set(id, builder);
      }
      builder.summary ??= issue.description;
      if (issue.debianbug !== null) builder.bugs.add(issue.debianbug);
      for (const [codename, release] of issue.releases) {
        const affected = affectedOf(pkg, codename, release, releases, (reason) => dropped.add(id, reason));
        if (affected !== null) builder.affected.push(affected);
      }
    }
  }

  const advisories: Advisory[] = [];
  for (const [id, builder] of builders) {
    const cve = cveOf(id);
    advisories.push({
      id,
      source: 'debian-tracker',
      aliases: [],
      related: [],
      cves: cve === null ? [] : [cve],
      summary: builder.summary,
      published: null,
      modified: null,
      withdrawn: null,
      severity: highestSeverity(builder.affected.map((pkg) => pkg.severity)) ?? 'unknown',
      cvss: [],
      affected: builder.affected,
      references: [
        `https://security-tracker.debian.org/tracker/${id}`,
        ...[...builder.bugs].map((bug) => `https://bugs.debian.org/${bug}`),
      ],
    });
  }
  return { advisories, skipped: [...skipped, ...dropped.toSkipped(location)] };
}

function affectedOf(
  pkg: string,
  codename: string,
  entry: TrackerRelease,
  releases: Record<string, string> | undefined,
  note: (reason: string) => void,
): AffectedPackage | null {
  const release = debianRelease(codename, releases);
  if (release === undefined) {
    note(`dropped releases with the unknown codename "${codename}"`);
    return null;
  }
  const urgency = entry.urgency === null || entry.urgency.trim() === '' ? null : entry.urgency;
  switch (entry.status) {
    case 'resolved': {
      const fixed = entry.fixedVersion?.trim() ?? '';
      if (fixed === '0') return null;
      if (fixed === '') {
        note('dropped resolved releases without a fixed_version');
        return null;
      }
      return debianPackage(pkg, release, fixed, null, urgency);
    }
    case 'open':
      return debianPackage(
        pkg,
        release,
        null,
        noFixReasonOf(entry.nodsa, entry.nodsaReason, entry.isNextPointUpdate),
        urgency,
      );
    case 'undetermined':
      return debianPackage(pkg, release, null, null, urgency);
    default:
      note(`dropped releases with the unknown status "${entry.status}"`);
      return null;
  }
}
