import { PatchwardenError } from '../errors.js';
import type { DueDateInput, SlaPolicy } from './types.js';

/** Critical 7 days, high 30, medium 90, low 180; negligible and unknown have no deadline. */
export const DEFAULT_SLA_POLICY: SlaPolicy = Object.freeze({
  days: Object.freeze({ critical: 7, high: 30, medium: 90, low: 180, negligible: null, unknown: null }),
});

const DAY_MS = 86_400_000;
const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Remediation deadline as YYYY-MM-DD (UTC): the first-seen UTC day plus the policy's days for the
 * severity; for a known exploited vulnerability, the earlier of that and CISA's due date. Null when
 * neither applies. A `kevDueDate` that is not a real YYYY-MM-DD day is ignored.
 * Throws PatchwardenError `INVALID_DATE` when `firstSeen` is not a valid Date.
 */
export function dueDate(input: DueDateInput, policy: SlaPolicy): string | null {
  const firstSeenMs = input.firstSeen.getTime();
  if (Number.isNaN(firstSeenMs)) {
    throw new PatchwardenError('INVALID_DATE', 'dueDate: firstSeen is not a valid date', 400);
  }
  const days = policy.days[input.severity];
  const bySeverity =
    days === null ? null : formatDay(Math.floor(firstSeenMs / DAY_MS) * DAY_MS + days * DAY_MS);
  const byKev =
    input.isKev && input.kevDueDate !== null && isIsoDay(input.kevDueDate) ? input.kevDueDate : null;
  if (bySeverity === null) return byKev;
  if (byKev === null) return bySeverity;
  // YYYY-MM-DD strings order like the days they name (Math.min would not compare strings).
  // biome-ignore lint/complexity/useMathMinMax: these are strings
  return byKev < bySeverity ? byKev : bySeverity;
}

function formatDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function isIsoDay(text: string): boolean {
  const match = ISO_DAY.exec(text);
  if (match === null) return false;
  const ms = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return formatDay(ms) === text;
}
