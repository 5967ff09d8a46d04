import type { EcosystemId } from './ecosystem.js';

/** Advisory sources Patchwarden parses (one folder each under `core/src/advisories/`). */
export type AdvisorySourceId = 'osv' | 'debian-tracker' | 'alpine-secdb';

/** Normalised severity words, highest first. `unknown` when the source gives none. */
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'negligible' | 'unknown';

/** A CVSS vector with the base score a CVSS library computed from it. */
export interface CvssScore {
  version: '2.0' | '3.0' | '3.1' | '4.0';
  vector: string;
  /** 0.0–10.0, computed from `vector` (never taken on trust from the feed). */
  baseScore: number;
  /** The qualitative rating of `baseScore` (CVSS specification table). */
  severity: Severity;
}

/**
 * Which distribution release a record speaks for. Null on an `AffectedPackage` of an application
 * ecosystem (semver). `release` is as `OsIdentity.version` names it (`12`, `22.04`, `9`, `3.19`);
 * `stream` distinguishes parallel product streams of one release (`pro`, `fips`), null for the plain one.
 */
export interface DistroScope {
  distro: string;
  release: string | null;
  stream: string | null;
}

/**
 * One affected interval in the ecosystem's version order. `introduced: null` means "from the very first
 * version" (OSV `introduced: "0"`). Exactly one of `fixed` (exclusive), `lastAffected` (inclusive) or
 * neither (open: every later version affected) bounds it; `limit` is an extra exclusive upper bound.
 */
export interface AffectedRange {
  introduced: string | null;
  fixed: string | null;
  lastAffected: string | null;
  limit: string | null;
}

/** Whether a distribution will ship a fix for an affected package. */
export type FixState = 'fix-available' | 'no-fix-yet' | 'will-not-fix';

/** One package an advisory affects, in one ecosystem and distribution scope. */
export interface AffectedPackage {
  ecosystem: EcosystemId;
  scope: DistroScope | null;
  /** The package name as the advisory names it. */
  name: string;
  /** Whether `name` is a source package (Debian, Ubuntu, Alpine origin) or a binary package (RPM families). */
  nameKind: 'source' | 'binary';
  /** Affected if the version is in any range OR in `versions`. */
  ranges: AffectedRange[];
  versions: string[];
  /** For sources that name binaries of a source package with their own fixed versions (Ubuntu). Empty otherwise. */
  binaries: string[];
  /** The distribution's own statement when it says it will not fix this (e.g. Debian `no-dsa`/`ignored`), else null. */
  noFixReason: string | null;
  /** Per-package severity or distribution urgency, overriding the record's when present. */
  severity: Severity | null;
  /** The distribution's urgency word as written (`medium`, `not yet assigned`, `unimportant`). */
  urgency: string | null;
}

/** A normalised advisory record. Immutable once parsed. */
export interface Advisory {
  /** The record's own id: `DSA-5000-1`, `ALSA-2024:1234`, `CVE-2024-1234` (tracker), `ALPINE-CVE-…`. */
  id: string;
  source: AdvisorySourceId;
  /** Other ids of the same vulnerability (OSV `aliases` and `upstream`), never `related`. */
  aliases: string[];
  /** Connected but different ids (OSV `related`). */
  related: string[];
  /** Every CVE id this record is about: its own id, aliases, upstream and related when they are CVEs. Sorted, unique. */
  cves: string[];
  summary: string | null;
  /** RFC 3339, or null. */
  published: string | null;
  modified: string | null;
  /** Retracted records are kept for audit and never produce a finding. */
  withdrawn: string | null;
  /** The record's severity: the source's own word, else the highest CVSS rating, else `unknown`. */
  severity: Severity;
  cvss: CvssScore[];
  affected: AffectedPackage[];
  references: string[];
}

/** Where a parsed record came from, for evidence. */
export interface FeedOrigin {
  /** File path or URL of the feed, and the record's location in it (`all.zip:DSA-5000-1.json`). */
  location: string;
  /** When the feed was produced or fetched (RFC 3339), or null when unknown. */
  timestamp: string | null;
}

/** A record that could not be parsed: reported, skipped, counted. */
export interface SkippedRecord {
  location: string;
  recordId: string | null;
  reason: string;
}

/** The result of parsing one feed document. */
export interface AdvisoryParseResult {
  advisories: Advisory[];
  skipped: SkippedRecord[];
}

/** CISA Known Exploited Vulnerabilities entry. */
export interface KevEntry {
  cve: string;
  vendorProject: string;
  product: string;
  name: string;
  /** YYYY-MM-DD */
  dateAdded: string;
  /** YYYY-MM-DD: the federal remediation deadline. */
  dueDate: string;
  knownRansomwareUse: boolean;
}

/** FIRST EPSS score of one CVE. */
export interface EpssScore {
  cve: string;
  /** Probability of exploitation activity in the next 30 days, 0–1. */
  epss: number;
  /** Rank among all scored CVEs, 0–1, or null in old files without it. */
  percentile: number | null;
  /** YYYY-MM-DD from the file's comment line, or null. */
  scoreDate: string | null;
  modelVersion: string | null;
}
