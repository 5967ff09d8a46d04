import { readFileSync } from 'node:fs';
import type { Finding } from '@patchwarden/core';
import { describe, expect, it } from 'vitest';
import { checkJsonSchema } from '../../test/json-schema-check.js';
import { CSV_COLUMNS, csvField, formatCsv } from './csv.js';
import { describeRange } from './explain.js';
import { formatJson } from './json.js';
import type { ScanReport } from './report.js';
import { formatSarif } from './sarif.js';
import { formatTable, summaryLine } from './table.js';

const schema = JSON.parse(
  readFileSync(new URL('../../../../docs/scan-json.schema.json', import.meta.url), 'utf8'),
);

function finding(overrides: Partial<Finding>): Finding {
  return {
    package: 'libc6',
    sourcePackage: 'glibc',
    ecosystem: 'deb',
    installedVersion: '2.36-9+deb12u1',
    architecture: 'amd64',
    fixedVersion: '2.36-9+deb12u3',
    fixState: 'fix-available',
    advisories: ['DSA-5514-1'],
    cves: ['CVE-2023-4911'],
    severity: 'high',
    urgencies: [],
    cvssScore: 7.8,
    isKev: true,
    kevDueDate: '2023-12-12',
    knownRansomwareUse: false,
    epss: null,
    epssPercentile: null,
    riskScore: 53.8,
    dueDate: '2023-12-12',
    evidence: [
      {
        advisoryId: 'DSA-5514-1',
        feed: { location: 'feeds/DSA-list', timestamp: '2024-01-01T00:00:00.000Z' },
        scope: 'debian:12',
        matchedName: 'glibc',
        matchedBy: 'source',
        range: { introduced: null, fixed: '2.36-9+deb12u3', lastAffected: null, limit: null },
        comparison: 'installed source 2.36-9+deb12u1 < fixed 2.36-9+deb12u3 (deb)',
        fixedVersion: '2.36-9+deb12u3',
        fixState: 'fix-available',
      },
    ],
    ...overrides,
  };
}

const libc = finding({});
const weird = finding({
  package: 'tool,"x"',
  sourcePackage: null,
  architecture: null,
  installedVersion: '1.0-1',
  fixedVersion: null,
  fixState: 'no-fix-yet',
  advisories: ['DSA-1-1', 'DSA-2-1', 'DSA-3-1', 'DSA-4-1'],
  cves: [],
  severity: 'unknown',
  cvssScore: null,
  isKev: false,
  kevDueDate: null,
  riskScore: 2.1,
  dueDate: null,
  evidence: [
    { ...libc.evidence[0]!, advisoryId: 'DSA-1-1', fixedVersion: null, fixState: 'no-fix-yet', range: null },
  ],
});

const report: ScanReport = {
  schemaVersion: 1,
  scannedAt: '2025-01-02T00:00:00.000Z',
  host: {
    source: '/var/lib/dpkg/status',
    os: {
      distro: 'debian',
      version: '12',
      codename: 'bookworm',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
      ecosystem: 'deb',
    },
    packages: 3,
  },
  criticality: 'medium',
  feeds: [
    {
      source: 'feeds',
      role: 'advisories',
      documents: { 'debian-dsa-list': 1, kev: 1 },
      records: 5,
      oldestTimestamp: '2024-01-01T00:00:00.000Z',
      newestTimestamp: '2024-01-01T00:00:00.000Z',
      warnings: [],
    },
  ],
  summary: {
    packagesScanned: 3,
    packagesNotJudged: 0,
    packagesAffected: 2,
    findings: 2,
    bySeverity: { critical: 0, high: 1, medium: 0, low: 0, negligible: 0, unknown: 1 },
    kev: 1,
    fixAvailable: 1,
    advisoriesLoaded: 5,
    advisoriesForHost: 4,
    skipped: 1,
    kevCatalogVersion: '2025.02.25',
    epssScoreDate: null,
  },
  skipped: [{ location: 'feeds/bad.json', recordId: 'DSA-9-1', reason: 'affected must be an array' }],
  findings: [libc, weird],
  advisories: {
    'DSA-5514-1': {
      id: 'DSA-5514-1',
      summary: 'glibc - security update',
      severity: 'high',
      cvssScore: 7.8,
      cves: ['CVE-2023-4911'],
      published: '2023-10-03',
      modified: null,
      references: ['https://www.debian.org/security/2023/dsa-5514'],
    },
  },
};

describe('format/json', () => {
  it('writes a report that satisfies docs/scan-json.schema.json', () => {
    const parsed = JSON.parse(formatJson(report));

    expect(checkJsonSchema(schema, parsed)).toEqual([]);
    expect(parsed.findings[0]).toMatchObject({
      package: 'libc6',
      installedVersion: '2.36-9+deb12u1',
      fixedVersion: '2.36-9+deb12u3',
      advisories: ['DSA-5514-1'],
      cves: ['CVE-2023-4911'],
      severity: 'high',
      fixState: 'fix-available',
    });
  });

  it('the schema checker catches a finding missing a required field (so the test above can fail)', () => {
    const { fixState: _dropped, ...broken } = libc;
    const errors = checkJsonSchema(schema, { ...report, findings: [broken] });

    expect(errors).toEqual(['$.findings[0]: missing required fixState']);
  });
});

describe('format/csv', () => {
  it.each`
    value           | expected
    ${'plain'}      | ${'plain'}
    ${'a,b'}        | ${'"a,b"'}
    ${'say "hi"'}   | ${'"say ""hi"""'}
    ${'two\nlines'} | ${'"two\nlines"'}
    ${null}         | ${''}
    ${53.8}         | ${'53.8'}
  `('csvField($value) is $expected', ({ value, expected }) => {
    expect(csvField(value)).toBe(expected);
  });

  it('writes a header and one CRLF-terminated row per finding', () => {
    const lines = formatCsv(report).split('\r\n');

    expect(lines).toEqual([
      CSV_COLUMNS.join(','),
      'libc6,glibc,amd64,deb,2.36-9+deb12u1,2.36-9+deb12u3,fix-available,high,53.8,2023-12-12,yes,,DSA-5514-1,CVE-2023-4911',
      '"tool,""x""",,,deb,1.0-1,,no-fix-yet,unknown,2.1,,no,,DSA-1-1 DSA-2-1 DSA-3-1 DSA-4-1,',
      '',
    ]);
  });
});

describe('format/sarif', () => {
  it('has one rule per advisory and one result per finding/advisory pair, level from severity', () => {
    const sarif = JSON.parse(formatSarif(report));
    const run = sarif.runs[0];

    expect(sarif.version).toBe('2.1.0');
    expect(run.tool.driver.name).toBe('patchwarden');
    expect(run.tool.driver.rules.map((r: { id: string }) => r.id)).toEqual([
      'DSA-1-1',
      'DSA-2-1',
      'DSA-3-1',
      'DSA-4-1',
      'DSA-5514-1',
    ]);
    expect(run.results).toHaveLength(5);
    expect(run.results[0]).toMatchObject({
      ruleId: 'DSA-5514-1',
      ruleIndex: 4,
      level: 'error',
      message: {
        text: 'libc6 2.36-9+deb12u1 is affected by DSA-5514-1 (CVE-2023-4911): fixed in 2.36-9+deb12u3.',
      },
      locations: [
        {
          physicalLocation: { artifactLocation: { uri: 'file:///var/lib/dpkg/status' } },
          logicalLocations: [{ name: 'libc6', fullyQualifiedName: 'libc6@2.36-9+deb12u1', kind: 'package' }],
        },
      ],
    });
    expect(run.tool.driver.rules[4].properties['security-severity']).toBe('7.8');
    expect(run.tool.driver.rules[4].helpUri).toBe('https://www.debian.org/security/2023/dsa-5514');
    expect(run.results[1]).toMatchObject({ ruleId: 'DSA-1-1', level: 'warning' });
    expect(run.results[1].message.text).toContain('no fix yet');
  });
});

describe('format/table', () => {
  it('shows the host, the feeds, one row per package by risk, and the summary line', () => {
    const text = formatTable(report);

    expect(text.split('\n')).toEqual([
      'Debian GNU/Linux 12 (bookworm): 3 packages from /var/lib/dpkg/status',
      'feed feeds: 1 debian-dsa-list, 1 kev; 5 records, newest 2024-01-01T00:00:00.000Z',
      '',
      'RISK  SEVERITY  PACKAGE      INSTALLED       FIXED           DUE         ADVISORIES',
      '53.8  high      libc6:amd64  2.36-9+deb12u1  2.36-9+deb12u3  2023-12-12  DSA-5514-1 [KEV]',
      '2.1   unknown   tool,"x"     1.0-1           (no fix yet)    -           DSA-1-1 DSA-2-1 DSA-3-1 +1 more',
      '',
      '3 packages scanned, 2 affected; 2 findings: 1 high, 1 unknown; 1 in KEV; 5 advisory records loaded (4 for debian 12); 1 skipped',
      '',
    ]);
  });

  it('says so when nothing applies', () => {
    const empty: ScanReport = {
      ...report,
      findings: [],
      summary: {
        ...report.summary,
        findings: 0,
        packagesAffected: 0,
        kev: 0,
        bySeverity: { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 },
      },
    };

    expect(formatTable(empty)).toContain('No findings: no loaded advisory applies to an installed package.');
    expect(summaryLine(empty)).toMatch(/^3 packages scanned, 0 affected; 0 findings; /);
  });
});

describe('format/explain', () => {
  it.each`
    range                                                                    | text
    ${null}                                                                  | ${'the listed affected versions'}
    ${{ introduced: null, fixed: '1.2-3', lastAffected: null, limit: null }} | ${'[0, 1.2-3)'}
    ${{ introduced: '1.0', fixed: null, lastAffected: '1.1', limit: null }}  | ${'[1.0, 1.1]'}
    ${{ introduced: null, fixed: null, lastAffected: null, limit: null }}    | ${'[0, …) (no fix)'}
  `('describeRange is $text', ({ range, text }) => {
    expect(describeRange(range)).toBe(text);
  });
});
