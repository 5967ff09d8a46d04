import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { Finding, Severity } from '@patchwarden/core';
import type { AdvisorySummary, ScanReport } from './report.js';

const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

/** SARIF `level` per severity: a finding with unknown severity is not downplayed to a note. */
const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
  negligible: 'note',
  unknown: 'warning',
};

/**
 * GitHub code scanning reads `security-severity` (a CVSS-like number as a string) to rank results;
 * used when the record has no CVSS score. Each value sits inside GitHub's band for the word.
 */
const SECURITY_SEVERITY: Record<Severity, number> = {
  critical: 9.5,
  high: 8,
  medium: 5.5,
  low: 2.5,
  negligible: 0.5,
  unknown: 5,
};

/**
 * SARIF 2.1.0 (OASIS): one rule per advisory, one result per (finding, advisory) pair, located at the
 * inventory file with the package as a logical location.
 */
export function formatSarif(report: ScanReport): string {
  const ruleIds = [...new Set(report.findings.flatMap((f) => f.advisories))].sort();
  const ruleIndex = new Map(ruleIds.map((id, index) => [id, index]));
  const rules = ruleIds.map((id) => rule(id, report.advisories[id]));
  const results = report.findings.flatMap((finding) =>
    finding.advisories.map((id) =>
      result(finding, id, ruleIndex.get(id)!, report.advisories[id], report.host.source),
    ),
  );
  const sarif = {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: { name: 'patchwarden', version: cliVersion(), semanticVersion: cliVersion(), rules },
        },
        automationDetails: {
          id: `patchwarden/scan/${report.host.os.distro}-${report.host.os.version ?? 'rolling'}/`,
        },
        results,
        properties: { scannedAt: report.scannedAt, host: report.host, summary: report.summary },
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}

function rule(id: string, advisory: AdvisorySummary | undefined) {
  const severity = advisory?.severity ?? 'unknown';
  const text = advisory?.summary ?? `Security advisory ${id}`;
  const cves = advisory?.cves ?? [];
  return {
    id,
    name: id,
    shortDescription: { text },
    fullDescription: { text: cves.length > 0 ? `${text} (${cves.join(', ')})` : text },
    ...(advisory?.references[0] ? { helpUri: advisory.references[0] } : {}),
    help: { text: `${id}: upgrade the affected packages to the fixed version the advisory names.` },
    defaultConfiguration: { level: LEVEL[severity] },
    properties: {
      tags: ['security', 'vulnerability', ...cves],
      precision: 'very-high',
      'security-severity': (advisory?.cvssScore ?? SECURITY_SEVERITY[severity]).toFixed(1),
    },
  };
}

function result(
  finding: Finding,
  id: string,
  index: number,
  advisory: AdvisorySummary | undefined,
  source: string,
) {
  const evidence = finding.evidence.find((e) => e.advisoryId === id);
  const fixed = evidence?.fixedVersion ?? finding.fixedVersion;
  const fix = fixed
    ? `fixed in ${fixed}`
    : finding.fixState === 'will-not-fix'
      ? 'the distribution will not fix it'
      : 'no fix yet';
  const cves = advisory?.cves.length ? ` (${advisory.cves.join(', ')})` : '';
  return {
    ruleId: id,
    ruleIndex: index,
    level: LEVEL[advisory?.severity ?? finding.severity],
    message: { text: `${finding.package} ${finding.installedVersion} is affected by ${id}${cves}: ${fix}.` },
    locations: [
      {
        physicalLocation: { artifactLocation: { uri: artifactUri(source) } },
        logicalLocations: [
          {
            name: finding.package,
            fullyQualifiedName: `${finding.package}@${finding.installedVersion}`,
            kind: 'package',
          },
        ],
      },
    ],
    partialFingerprints: {
      'patchwarden/package-advisory/v1': `${finding.package}:${finding.architecture ?? ''}:${id}`,
    },
    properties: {
      package: finding.package,
      sourcePackage: finding.sourcePackage,
      installedVersion: finding.installedVersion,
      fixedVersion: fixed,
      fixState: evidence?.fixState ?? finding.fixState,
      severity: finding.severity,
      riskScore: finding.riskScore,
      dueDate: finding.dueDate,
      isKev: finding.isKev,
      comparison: evidence?.comparison ?? null,
    },
  };
}

/** SARIF wants URIs: an absolute path becomes a file: URI, a relative one stays relative (to the repository root). */
function artifactUri(source: string): string {
  if (isAbsolute(source)) return new URL(`file://${source}`).href;
  return source.split('\\').join('/');
}

let version: string | null = null;

/** The CLI package's version (packages/cli/package.json), read once; this file sits two levels below it in src/ and dist/. */
function cliVersion(): string {
  version ??= (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return version;
}
