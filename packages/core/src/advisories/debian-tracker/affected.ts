import type { AffectedPackage, AffectedRange } from '../../types/advisory.js';
import { ratedSeverity } from '../common.js';

/** Every version up to `fixed` (exclusive), or every version when `fixed` is null (no fix). */
export function upTo(fixed: string | null): AffectedRange {
  return { introduced: null, fixed, lastAffected: null, limit: null };
}

/** A Debian source package in one release, as both tracker formats give it. */
export function debianPackage(
  name: string,
  release: string | null,
  fixed: string | null,
  noFixReason: string | null,
  urgency: string | null,
): AffectedPackage {
  return {
    ecosystem: 'deb',
    scope: { distro: 'debian', release, stream: null },
    name,
    nameKind: 'source',
    ranges: [upTo(fixed)],
    versions: [],
    binaries: [],
    noFixReason,
    severity: ratedSeverity(urgency),
    urgency,
  };
}

/**
 * `noFixReason` of an open issue from the tracker's no-DSA marks (security-tracker
 * `[release] - pkg <no-dsa|ignored|postponed> (comment)`):
 * - `ignored`: Debian will not fix it in this release -> `ignored` (+ `: comment`).
 * - plain no-dsa (a minor issue): no security update will be issued; a point release may still
 *   fix it -> `no-dsa` (+ `: comment`). Operators see it as "will not fix" unless a point release does.
 * - `postponed`: a fix is expected in a later update -> null (no fix yet, not "will not fix"),
 *   as is an issue whose fix is queued for the next point release.
 */
export function noFixReasonOf(
  nodsa: string | null,
  reason: string | null,
  isNextPointUpdate: boolean,
): string | null {
  if (isNextPointUpdate) return null;
  const word = (reason ?? '').trim().toLowerCase();
  if (word === 'postponed') return null;
  const comment = (nodsa ?? '').trim();
  if (word === 'ignored') return comment === '' ? 'ignored' : `ignored: ${comment}`;
  if (nodsa === null) return null;
  return comment === '' ? 'no-dsa' : `no-dsa: ${comment}`;
}
