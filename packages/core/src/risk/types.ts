import type { Severity } from '../types/advisory.js';

/** How much a host matters to the business, set per host or group. Ordered low to critical. */
export type Criticality = 'low' | 'medium' | 'high' | 'critical';

/**
 * Remediation deadlines: calendar days from the day a finding was first seen, per severity.
 * `null` means no deadline for that severity. Known exploited vulnerabilities are due on the
 * earlier of CISA's due date and the severity deadline.
 */
export interface SlaPolicy {
  readonly days: Readonly<Record<Severity, number | null>>;
}

/** Inputs of the risk score; every field is "higher is worse" in the order documented in readme.md. */
export interface RiskInput {
  severity: Severity;
  /** CVSS base score 0–10, or null when no vector was given. */
  cvssScore: number | null;
  /** EPSS probability 0–1, or null when the CVE has no score. */
  epss: number | null;
  isKev: boolean;
  knownRansomwareUse: boolean;
  criticality: Criticality;
}

/** Inputs of the due date. */
export interface DueDateInput {
  severity: Severity;
  isKev: boolean;
  /** CISA's remediation deadline (YYYY-MM-DD) when `isKev`; ignored otherwise. */
  kevDueDate: string | null;
  /** When the finding was first seen on the host; the deadline counts from its UTC calendar day. */
  firstSeen: Date;
}
