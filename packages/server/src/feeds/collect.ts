import {
  type Advisory,
  type AdvisoryParseResult,
  detectFeedKind,
  type EpssScore,
  type FeedKind,
  type FeedOrigin,
  type KevEntry,
  parseAlpineSecdb,
  parseDebianAdvisoryList,
  parseDebianTrackerJson,
  parseEpss,
  parseKev,
  parseOsvDocument,
  type SkippedRecord,
} from '@patchwarden/core';
import { loadFeedSource } from './index.js';
import type { FeedLoadOptions, LoadedDocument, LoadedFeed } from './types.js';

/** What a source was given for; documents are still recognised by their content. */
export type FeedRole = 'advisories' | 'kev' | 'epss';

/** What one feed source gave. */
export interface FeedReport {
  /** The source as given. */
  source: string;
  role: FeedRole;
  /** Documents read, by recognised kind (`osv`, `debian-dsa-list`, …). */
  documents: Record<string, number>;
  /** Advisory records parsed (KEV entries or EPSS scores for those kinds). */
  records: number;
  /** Oldest and newest document timestamps (RFC 3339), or null. */
  oldestTimestamp: string | null;
  newestTimestamp: string | null;
  warnings: string[];
}

export interface CollectOptions {
  /** Only documents of these kinds are parsed; others are skipped with the reason. Default: every kind. */
  kinds?: readonly FeedKind[];
}

/**
 * Recognises and parses the documents of loaded feed sources, and keeps what each gave: advisory
 * records with their origin, KEV entries and EPSS scores (one per CVE: the earliest KEV due date,
 * the latest EPSS score), and everything skipped. Used by `patchwarden scan` and the server's feed sync.
 */
export class FeedCollector {
  readonly records: Array<{ advisory: Advisory; origin: FeedOrigin | null }> = [];
  readonly kev = new Map<string, KevEntry>();
  readonly epss = new Map<string, EpssScore>();
  readonly skipped: SkippedRecord[] = [];
  readonly reports: FeedReport[] = [];
  /** Documents that were feeds yet could not be used (unrecognised, of another kind, or a parser threw). */
  unusableDocuments = 0;
  documentCount = 0;
  kevCatalogVersion: string | null = null;
  epssScoreDate: string | null = null;

  /** Loads `spec` (see `loadFeedSource`, whose errors it throws) and collects its documents. */
  async load(spec: string, role: FeedRole, options: FeedLoadOptions): Promise<void> {
    this.collect(await loadFeedSource(spec, options), role);
  }

  /** Recognises and parses every document of an already loaded feed. */
  collect(feed: LoadedFeed, role: FeedRole, options: CollectOptions = {}): FeedReport {
    const report: FeedReport = {
      source: feed.spec,
      role,
      documents: {},
      records: 0,
      oldestTimestamp: null,
      newestTimestamp: null,
      warnings: feed.warnings,
    };
    for (const file of feed.skipped)
      this.skipped.push({ location: file.location, recordId: null, reason: file.reason });
    for (const document of feed.documents) {
      this.documentCount += 1;
      const kind = detectFeedKind(document.text, document.name) ?? (role === 'advisories' ? null : role);
      if (kind === null) {
        this.unusableDocuments += 1;
        this.skipped.push({
          location: document.location,
          recordId: null,
          reason:
            'not a recognised feed (OSV, Debian tracker JSON or DSA/DLA list, Alpine secdb, CISA KEV, EPSS CSV)',
        });
        continue;
      }
      if (options.kinds !== undefined && !options.kinds.includes(kind)) {
        this.unusableDocuments += 1;
        this.skipped.push({
          location: document.location,
          recordId: null,
          reason: `is a ${kind} document; this feed reads ${options.kinds.join(', ')}`,
        });
        continue;
      }
      report.documents[kind] = (report.documents[kind] ?? 0) + 1;
      if (document.timestamp !== null) {
        if (report.oldestTimestamp === null || document.timestamp < report.oldestTimestamp)
          report.oldestTimestamp = document.timestamp;
        if (report.newestTimestamp === null || document.timestamp > report.newestTimestamp)
          report.newestTimestamp = document.timestamp;
      }
      try {
        report.records += this.parse(kind, document);
      } catch (err) {
        // A parser that throws on input it should have reported: the document is skipped, not the run.
        this.unusableDocuments += 1;
        this.skipped.push({
          location: document.location,
          recordId: null,
          reason: `could not be parsed as ${kind}: ${err instanceof Error ? err.message : String(err)}`,
        });
      }
    }
    this.reports.push(report);
    return report;
  }

  /** Parses one document by kind; returns how many records it gave. */
  private parse(kind: FeedKind, document: LoadedDocument): number {
    const origin: FeedOrigin = { location: document.location, timestamp: document.timestamp };
    switch (kind) {
      case 'kev': {
        const parsed = parseKev(document.text, document.location);
        this.skipped.push(...parsed.skipped);
        for (const entry of parsed.entries) {
          const known = this.kev.get(entry.cve);
          if (!known || entry.dueDate < known.dueDate) this.kev.set(entry.cve, entry);
        }
        if (
          parsed.catalogVersion &&
          (this.kevCatalogVersion === null || parsed.catalogVersion > this.kevCatalogVersion)
        ) {
          this.kevCatalogVersion = parsed.catalogVersion;
        }
        return parsed.entries.length;
      }
      case 'epss': {
        const parsed = parseEpss(document.text, document.location);
        this.skipped.push(...parsed.skipped);
        for (const score of parsed.scores) {
          const known = this.epss.get(score.cve);
          if (!known || (score.scoreDate ?? '') >= (known.scoreDate ?? '')) this.epss.set(score.cve, score);
        }
        if (parsed.scoreDate && (this.epssScoreDate === null || parsed.scoreDate > this.epssScoreDate)) {
          this.epssScoreDate = parsed.scoreDate;
        }
        return parsed.scores.length;
      }
      default:
        return this.addAdvisories(parseAdvisories(kind, document), origin);
    }
  }

  private addAdvisories(result: AdvisoryParseResult, origin: FeedOrigin): number {
    this.skipped.push(...result.skipped);
    for (const advisory of result.advisories) this.records.push({ advisory, origin });
    return result.advisories.length;
  }
}

function parseAdvisories(
  kind: 'osv' | 'debian-tracker' | 'debian-dsa-list' | 'debian-dla-list' | 'alpine-secdb',
  document: LoadedDocument,
): AdvisoryParseResult {
  switch (kind) {
    case 'osv':
      return parseOsvDocument(document.text, document.location);
    case 'debian-tracker':
      return parseDebianTrackerJson(document.text, document.location);
    case 'debian-dsa-list':
      return parseDebianAdvisoryList(document.text, document.location, 'DSA');
    case 'debian-dla-list':
      return parseDebianAdvisoryList(document.text, document.location, 'DLA');
    case 'alpine-secdb':
      return parseAlpineSecdb(document.text, document.location);
  }
}
