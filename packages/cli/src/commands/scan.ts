import {
  type Advisory,
  buildAdvisoryIndex,
  DEFAULT_SLA_POLICY,
  detect,
  type Finding,
  type Inventory,
  type OsIdentity,
} from '@patchwarden/core';
import { DEFAULT_MAX_FEED_BYTES, FeedCollector } from '@patchwarden/server/feeds';
import { parseCommandArgs } from '../args.js';
import { EXIT, UsageError } from '../errors.js';
import { formatCsv } from '../format/csv.js';
import { explainPackages, formatExplanation } from '../format/explain.js';
import { formatJson } from '../format/json.js';
import {
  type AdvisorySummary,
  compareFindings,
  type ScanReport,
  SEVERITIES,
  severityRank,
} from '../format/report.js';
import { formatSarif } from '../format/sarif.js';
import { formatTable } from '../format/table.js';
import { INVENTORY_OPTIONS, type InventoryFlags, readInventory } from '../inventory-source.js';
import { type Io, write } from '../io.js';

const USAGE = `usage: patchwarden scan (--local | --dpkg-status F | --rpm-qa F | --pacman-db DIR | --apk-db F | --inventory JSON)
                        [--os-release F] --advisories PATH|URL... [--kev F|URL] [--epss F|URL]
                        [--format table|json|csv|sarif] [--fail-on critical|high|medium|low|any]
                        [--explain PACKAGE] [--criticality low|medium|high|critical] [--now YYYY-MM-DD]
                        [--cache-dir DIR] [--offline] [--max-feed-size MIB]
Offline one-shot detection: which advisories apply to the installed packages of one host.
--advisories takes files, directories, .gz, OSV all.zip exports and http(s) URLs; repeat it, or list
several paths after it. Exit 1 when --fail-on is given and a finding is at or above that severity.`;

const FORMATS = ['table', 'json', 'csv', 'sarif'] as const;
type Format = (typeof FORMATS)[number];
const FAIL_ON = ['critical', 'high', 'medium', 'low', 'any'] as const;
type FailOn = (typeof FAIL_ON)[number];
const CRITICALITIES = ['low', 'medium', 'high', 'critical'] as const;
type Criticality = (typeof CRITICALITIES)[number];

/** Default cache of http(s) feeds, beside the server's data. */
export const DEFAULT_CACHE_DIR = './patchwarden-data/feeds-cache';

/** Skipped records listed on stderr before the rest is only counted. */
const SKIPPED_SHOWN = 20;

const OPTIONS = {
  ...INVENTORY_OPTIONS,
  advisories: { type: 'string', multiple: true },
  kev: { type: 'string', multiple: true },
  epss: { type: 'string', multiple: true },
  format: { type: 'string' },
  'fail-on': { type: 'string' },
  explain: { type: 'string' },
  criticality: { type: 'string' },
  now: { type: 'string' },
  'cache-dir': { type: 'string' },
  offline: { type: 'boolean' },
  'max-feed-size': { type: 'string' },
} as const;

interface ScanFlags extends InventoryFlags {
  advisories?: string[];
  kev?: string[];
  epss?: string[];
  format?: string;
  'fail-on'?: string;
  explain?: string;
  criticality?: string;
  now?: string;
  'cache-dir'?: string;
  offline?: boolean;
  'max-feed-size'?: string;
}

export async function scanCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS, USAGE);
  const flags = values as ScanFlags;
  if (values.help) {
    await write(io.stdout, `${USAGE}\n`);
    return EXIT.ok;
  }
  const advisorySpecs = [...(flags.advisories ?? [])];
  if (advisorySpecs.length === 0) throw new UsageError(`--advisories is required\n${USAGE}`);
  // `--advisories a b c`: parseArgs takes only `a` as the value; the rest arrive as positionals.
  advisorySpecs.push(...positionals);
  const format = oneOf('--format', flags.format ?? 'table', FORMATS);
  const failOn = flags['fail-on'] === undefined ? null : oneOf('--fail-on', flags['fail-on'], FAIL_ON);
  const criticality = oneOf('--criticality', flags.criticality ?? 'medium', CRITICALITIES);
  const now = parseNow(flags.now);
  const maxBytes = parseMaxFeedSize(flags['max-feed-size']);
  if (flags.explain !== undefined && flags.format !== undefined && format !== 'table') {
    throw new UsageError(
      '--explain prints text for people; it does not combine with --format json, csv or sarif',
    );
  }

  const inventory = await readInventory(flags);
  const os = requireOs(inventory);

  const loadOptions = {
    cacheDir: flags['cache-dir'] ?? DEFAULT_CACHE_DIR,
    maxBytes,
    offline: flags.offline ?? false,
  };
  const feeds = new FeedCollector();
  for (const spec of advisorySpecs) await feeds.load(spec, 'advisories', loadOptions);
  for (const spec of flags.kev ?? []) await feeds.load(spec, 'kev', loadOptions);
  for (const spec of flags.epss ?? []) await feeds.load(spec, 'epss', loadOptions);

  const index = buildAdvisoryIndex(feeds.records);
  const { findings, stats } = detect(index, inventory, {
    kev: feeds.kev,
    epss: feeds.epss,
    criticality,
    sla: DEFAULT_SLA_POLICY,
    now,
  });
  findings.sort(compareFindings);

  const report = buildReport({
    inventory,
    os,
    source: inventorySource(flags, os),
    criticality,
    now,
    feeds,
    findings,
    packagesNotJudged: stats.invalidVersions,
  });
  await reportProblems(io, report, index.stats.invalidVersions);

  if (flags.explain !== undefined) {
    const explanations = explainPackages(flags.explain, inventory.packages, findings, feeds.records, os);
    await write(io.stdout, formatExplanation(flags.explain, explanations, os));
    if (explanations.length === 0) return EXIT.badInput;
  } else {
    await write(io.stdout, render(format, report));
  }
  return failOn !== null && findings.some((f) => isAtOrAbove(f, failOn)) ? EXIT.failed : EXIT.ok;
}

function render(format: Format, report: ScanReport): string {
  switch (format) {
    case 'json':
      return formatJson(report);
    case 'csv':
      return formatCsv(report);
    case 'sarif':
      return formatSarif(report);
    case 'table':
      return formatTable(report);
  }
}

/**
 * `--fail-on` thresholds. `low` also fails on `unknown` severity: a finding whose feed states no severity
 * is not assumed harmless. `negligible` fails only under `any`.
 */
export function isAtOrAbove(finding: Finding, failOn: FailOn): boolean {
  if (failOn === 'any') return true;
  if (finding.severity === 'unknown') return failOn === 'low';
  return severityRank(finding.severity) <= severityRank(failOn);
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag} must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`);
}

/** `--now YYYY-MM-DD` (midnight UTC) or an RFC 3339 time; the real clock when absent. */
function parseNow(text: string | undefined): Date {
  if (text === undefined) return new Date();
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(text)) {
    throw new UsageError(
      `--now must be a date (YYYY-MM-DD) or an RFC 3339 time; got ${JSON.stringify(text)}`,
    );
  }
  return date;
}

function parseMaxFeedSize(text: string | undefined): number {
  if (text === undefined) return DEFAULT_MAX_FEED_BYTES;
  const mib = Number(text);
  if (!/^\d+$/.test(text) || mib <= 0)
    throw new UsageError(`--max-feed-size is a whole number of MiB; got ${JSON.stringify(text)}`);
  return mib * 1024 * 1024;
}

/** Advisories are scoped by distribution release, so a scan without a known OS would judge nothing. */
function requireOs(inventory: Inventory): OsIdentity {
  const os = inventory.os;
  if (os === null) {
    throw new UsageError(
      'the inventory does not say which OS it comes from, and advisories are scoped by distribution release: ' +
        "pass --os-release FILE (the host's /etc/os-release)",
    );
  }
  if (os.distro === '' || os.distro === 'unknown') {
    throw new UsageError(
      `cannot tell the distribution of ${JSON.stringify(os.prettyName)}: pass --os-release FILE with its ID and VERSION_ID`,
    );
  }
  return os;
}

/** Where the inventory came from, for people and as the SARIF artifact. */
function inventorySource(flags: ScanFlags, os: OsIdentity): string {
  for (const flag of ['dpkg-status', 'rpm-qa', 'pacman-db', 'apk-db', 'inventory'] as const) {
    if (flags[flag] !== undefined) return flags[flag];
  }
  switch (os.ecosystem) {
    case 'rpm':
      return '/var/lib/rpm';
    case 'alpm':
      return '/var/lib/pacman/local';
    case 'apk':
      return '/lib/apk/db/installed';
    default:
      return '/var/lib/dpkg/status';
  }
}

function buildReport(input: {
  inventory: Inventory;
  os: OsIdentity;
  source: string;
  criticality: Criticality;
  now: Date;
  feeds: FeedCollector;
  findings: Finding[];
  packagesNotJudged: number;
}): ScanReport {
  const { inventory, os, feeds, findings } = input;
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<
    (typeof SEVERITIES)[number],
    number
  >;
  for (const finding of findings) bySeverity[finding.severity]++;
  const cited = new Set(findings.flatMap((f) => f.advisories));
  const advisories: Record<string, AdvisorySummary> = {};
  for (const { advisory } of feeds.records) {
    if (!cited.has(advisory.id) || advisories[advisory.id]) continue;
    advisories[advisory.id] = summarise(advisory);
  }
  return {
    schemaVersion: 1,
    scannedAt: input.now.toISOString(),
    host: {
      source: input.source,
      os: {
        distro: os.distro,
        version: os.version,
        codename: os.codename,
        prettyName: os.prettyName,
        ecosystem: os.ecosystem,
      },
      packages: inventory.packages.length,
    },
    criticality: input.criticality,
    feeds: feeds.reports,
    summary: {
      packagesScanned: inventory.packages.length,
      packagesNotJudged: input.packagesNotJudged,
      packagesAffected: new Set(findings.map((f) => f.package)).size,
      findings: findings.length,
      bySeverity,
      kev: findings.filter((f) => f.isKev).length,
      fixAvailable: findings.filter((f) => f.fixState === 'fix-available').length,
      advisoriesLoaded: feeds.records.length,
      advisoriesForHost: feeds.records.filter(({ advisory }) =>
        advisory.affected.some((a) => isForHost(a, os)),
      ).length,
      skipped: feeds.skipped.length,
      kevCatalogVersion: feeds.kevCatalogVersion,
      epssScoreDate: feeds.epssScoreDate,
    },
    skipped: feeds.skipped,
    findings,
    advisories: Object.fromEntries(
      Object.entries(advisories).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    ),
  };
}

/** Whether an affected entry speaks for the host's distribution release (plain stream), or for no distribution. */
function isForHost(affected: Advisory['affected'][number], os: OsIdentity): boolean {
  if (affected.scope === null) return true;
  return (
    affected.scope.distro === os.distro &&
    affected.scope.release === os.version &&
    affected.scope.stream === null
  );
}

function summarise(advisory: Advisory): AdvisorySummary {
  const scores = advisory.cvss.map((c) => c.baseScore);
  return {
    id: advisory.id,
    summary: advisory.summary,
    severity: advisory.severity,
    cvssScore: scores.length > 0 ? Math.max(...scores) : null,
    cves: advisory.cves,
    published: advisory.published,
    modified: advisory.modified,
    references: advisory.references,
  };
}

/** Feed warnings and skipped records go to stderr whatever the format, so that nothing is left out silently. */
async function reportProblems(io: Io, report: ScanReport, invalidAdvisoryVersions: number): Promise<void> {
  const lines: string[] = [];
  for (const feed of report.feeds) for (const warning of feed.warnings) lines.push(`warning: ${warning}`);
  for (const item of report.skipped.slice(0, SKIPPED_SHOWN)) {
    lines.push(`skipped ${item.location}${item.recordId ? ` ${item.recordId}` : ''}: ${item.reason}`);
  }
  if (report.skipped.length > SKIPPED_SHOWN) {
    lines.push(
      `... and ${report.skipped.length - SKIPPED_SHOWN} more skipped (--format json lists them all)`,
    );
  }
  const { summary, host } = report;
  if (summary.advisoriesLoaded > 0 && summary.advisoriesForHost === 0) {
    lines.push(
      `warning: none of the ${summary.advisoriesLoaded} advisory records is for ${host.os.prettyName} (${host.os.distro} ${host.os.version ?? 'rolling'}): ` +
        'no finding here means the feeds say nothing about this host, not that it is patched',
    );
  }
  if (report.summary.packagesNotJudged > 0) {
    lines.push(
      `warning: ${report.summary.packagesNotJudged} installed packages have versions their ecosystem rejects and were not judged`,
    );
  }
  if (invalidAdvisoryVersions > 0) {
    lines.push(
      `warning: ${invalidAdvisoryVersions} advisory ranges or versions are invalid in their ecosystem and were left out`,
    );
  }
  if (lines.length > 0) await write(io.stderr, `${lines.join('\n')}\n`);
}
