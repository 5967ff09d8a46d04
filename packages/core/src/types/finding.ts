import type { AffectedRange, FeedOrigin, FixState, Severity } from './advisory.js';
import type { EcosystemId } from './ecosystem.js';

/** Why one advisory applies to one installed package: shown to operators verbatim. */
export interface FindingEvidence {
  advisoryId: string;
  feed: FeedOrigin | null;
  /** The ecosystem string and package name the record used (`Debian:12`, source `openssl`). */
  scope: string;
  matchedName: string;
  matchedBy: 'binary' | 'source';
  /** The range that matched, or null when the version was in the explicit `versions` list. */
  range: AffectedRange | null;
  /** The comparison that decided it, e.g. `3.0.11-1~deb12u1 < 3.0.11-1~deb12u2 (deb)`. */
  comparison: string;
  fixedVersion: string | null;
  fixState: FixState;
}

/** One installed package that one or more advisories apply to. */
export interface Finding {
  /** The installed binary package name. */
  package: string;
  sourcePackage: string | null;
  ecosystem: EcosystemId;
  installedVersion: string;
  architecture: string | null;
  /** The lowest version that fixes every applicable advisory that has a fix; null when none has one. */
  fixedVersion: string | null;
  fixState: FixState;
  /** Ids of every advisory record that applies, sorted. */
  advisories: string[];
  /** CVE ids among them and their aliases, sorted. */
  cves: string[];
  severity: Severity;
  /** Distribution urgency words seen, as written. */
  urgencies: string[];
  /** Highest CVSS base score among the advisories, or null. */
  cvssScore: number | null;
  isKev: boolean;
  /** Earliest CISA due date among the KEV CVEs (YYYY-MM-DD), or null. */
  kevDueDate: string | null;
  knownRansomwareUse: boolean;
  /** Highest EPSS score and its percentile among the CVEs, or null. */
  epss: number | null;
  epssPercentile: number | null;
  /** 0–100, see core/risk. */
  riskScore: number;
  /** YYYY-MM-DD remediation due date under the SLA policy, or null. */
  dueDate: string | null;
  evidence: FindingEvidence[];
}
