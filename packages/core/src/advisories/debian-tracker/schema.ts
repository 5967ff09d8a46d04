import { isObject } from '../common.js';

/**
 * Raw shapes of the Debian security tracker: the JSON dump
 * (https://security-tracker.debian.org/tracker/data/json) and the line grammar of the
 * `data/DSA/list` / `data/DLA/list` source files. Only the parsers in this folder use them.
 */

/** One release of one (package, issue) in the JSON dump. */
export interface TrackerRelease {
  /** `resolved`, `open` or `undetermined` (others are reported, not guessed at). */
  status: string;
  /** Present when resolved; `"0"` means never affected. */
  fixedVersion: string | null;
  urgency: string | null;
  /** The free-text no-DSA comment (`Minor issue`), or null when the issue is not marked no-dsa. */
  nodsa: string | null;
  /** `ignored`, `postponed` or empty. */
  nodsaReason: string | null;
  /** The fix is queued for the next point release. */
  isNextPointUpdate: boolean;
}

/** One (source package, CVE/TEMP id) of the JSON dump. */
export interface TrackerIssue {
  description: string | null;
  debianbug: number | null;
  releases: Array<[codename: string, release: TrackerRelease]>;
}

/**
 * Checks one `<package>.<id>` value of the dump; problems are appended to `issues` as
 * `<field> <problem>` and the returned value must then not be used.
 */
export function readTrackerIssue(value: unknown, issues: string[]): TrackerIssue {
  const issue: TrackerIssue = { description: null, debianbug: null, releases: [] };
  if (!isObject(value)) {
    issues.push('the entry must be an object');
    return issue;
  }
  if (typeof value.description === 'string') issue.description = value.description;
  else if (value.description !== undefined && value.description !== null)
    issues.push('description must be a string');
  if (typeof value.debianbug === 'number' && Number.isInteger(value.debianbug))
    issue.debianbug = value.debianbug;
  else if (value.debianbug !== undefined && value.debianbug !== null)
    issues.push('debianbug must be an integer');
  if (!isObject(value.releases)) {
    issues.push('releases must be an object');
    return issue;
  }
  for (const [codename, raw] of Object.entries(value.releases)) {
    const path = `releases.${codename}`;
    if (!isObject(raw) || typeof raw.status !== 'string') {
      issues.push(`${path} must be an object with a string status`);
      continue;
    }
    issue.releases.push([
      codename,
      {
        status: raw.status,
        fixedVersion: optString(raw, 'fixed_version', path, issues),
        urgency: optString(raw, 'urgency', path, issues),
        nodsa: optString(raw, 'nodsa', path, issues),
        nodsaReason: optString(raw, 'nodsa_reason', path, issues),
        isNextPointUpdate: raw.next_point_update === true,
      },
    ]);
  }
  return issue;
}

function optString(obj: Record<string, unknown>, key: string, path: string, issues: string[]): string | null {
  const value = obj[key];
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  issues.push(`${path}.${key} must be a string`);
  return null;
}

/** `[29 Mar 2023] DSA-5380-1 xorg-server - security update`; old entries lack the revision (`DSA-137`). */
export const LIST_HEADER = /^\[(\d{1,2}) ([A-Za-z]{3}) (\d{4})\] ([A-Z]+-\d+(?:-\d+)?)(?:\s+(.*?))?\s*$/;
/** `\t{CVE-2023-1393 CVE-2023-1394}` */
export const LIST_IDS = /^\s+\{([^{}]*)\}\s*$/;
/** `\t[bullseye] - xorg-server 2:1.20.11-1+deb11u6 (bug #123; medium)` */
export const LIST_RELEASE = /^\s+\[([a-z][a-z0-9-]*)\]\s+-\s+(\S+)\s+(\S+)(?:\s+\((.*)\))?\s*$/;
/** `\tNOTE: fixed in testing at time of DSA` — comments for people. */
export const LIST_NOTE = /^\s+NOTE:/;

export const MONTHS: Readonly<Record<string, string>> = {
  Jan: '01',
  Feb: '02',
  Mar: '03',
  Apr: '04',
  May: '05',
  Jun: '06',
  Jul: '07',
  Aug: '08',
  Sep: '09',
  Oct: '10',
  Nov: '11',
  Dec: '12',
};
