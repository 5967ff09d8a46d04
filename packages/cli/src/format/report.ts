import type { Finding, Severity, SkippedRecord } from '@patchwarden/core';

/** Severity words from worst to least: the order of tables, summaries and `--fail-on`. */
export const SEVERITIES = [
  'critical',
  'high',
  'medium',
  'low',
  'negligible',
  'unknown',
] as const satisfies readonly Severity[];

/** The feed sources of one run, as `scan` loaded them. */
export interface FeedReport {
  /** The `--advisories`, `--kev` or `--epss` argument as given. */
  source: string;
  /** What the flag asked for; documents are still recognised by their content. */
  role: 'advisories' | 'kev' | 'epss';
  /** Documents read, by recognised kind (`osv`, `debian-dsa-list`, …). */
  documents: Record<string, number>;
  /** Advisory records parsed (KEV entries or EPSS scores for those kinds). */
  records: number;
  /** Oldest and newest document timestamps (RFC 3339), or null. */
  oldestTimestamp: string | null;
  newestTimestamp: string | null;
  warnings: string[];
}

/** What one advisory that a finding cites says, for SARIF rules and people. */
export interface AdvisorySummary {
  id: string;
  summary: string | null;
  severity: Severity;
  /** Highest CVSS base score of the record, or null. */
  cvssScore: number | null;
  cves: string[];
  published: string | null;
  modified: string | null;
  references: string[];
}

/** The scanned host. */
export interface HostReport {
  /** Where the inventory came from: a file path, or the package database `--local` read. */
  source: string;
  os: {
    distro: string;
    version: string | null;
    codename: string | null;
    prettyName: string;
    ecosystem: string | null;
  };
  packages: number;
}

export interface ScanSummary {
  packagesScanned: number;
  /** Installed packages whose version their ecosystem rejects: left unjudged (and warned about). */
  packagesNotJudged: number;
  /** Installed packages with at least one finding. */
  packagesAffected: number;
  findings: number;
  bySeverity: Record<Severity, number>;
  /** Findings with a CVE in CISA KEV. */
  kev: number;
  /** Findings with a fixed version to upgrade to. */
  fixAvailable: number;
  advisoriesLoaded: number;
  /**
   * Loaded records with an affected package in the host's distribution release (or in no distribution:
   * application ecosystems). Zero means the feeds cannot say anything about this host: a warning, not a clean bill.
   */
  advisoriesForHost: number;
  /** Advisory records or documents that could not be used (see `skipped`). */
  skipped: number;
  kevCatalogVersion: string | null;
  epssScoreDate: string | null;
}

/** Everything a `scan` run produces; `--format json` writes it as is (docs/scan-json.schema.json). */
export interface ScanReport {
  schemaVersion: 1;
  /** RFC 3339: the run's clock (`--now` when given). */
  scannedAt: string;
  host: HostReport;
  /** `--criticality` of the host, which scales risk scores. */
  criticality: 'low' | 'medium' | 'high' | 'critical';
  feeds: FeedReport[];
  summary: ScanSummary;
  skipped: SkippedRecord[];
  /** Sorted by risk, highest first; then package name. */
  findings: Finding[];
  /** Every advisory a finding cites, by id. */
  advisories: Record<string, AdvisorySummary>;
}

/** Rank of a severity for `--fail-on` and sorting: 0 is worst. */
export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

/** Findings by risk (highest first), then severity, then package name and version. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    b.riskScore - a.riskScore ||
    severityRank(a.severity) - severityRank(b.severity) ||
    (a.package < b.package ? -1 : a.package > b.package ? 1 : 0) ||
    (a.architecture ?? '').localeCompare(b.architecture ?? '')
  );
}
