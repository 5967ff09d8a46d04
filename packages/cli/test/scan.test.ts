import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type Finding, rpm } from '@patchwarden/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { checkJsonSchema } from './json-schema-check.js';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const EXAMPLES = join(REPO, 'examples/feeds');
const DATA = resolve(REPO, '../shared/data');
const schema = JSON.parse(readFileSync(join(REPO, 'docs/scan-json.schema.json'), 'utf8'));

const DEBIAN_12 = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`;
const DEBIAN_11 = `PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"
NAME="Debian GNU/Linux"
VERSION_ID="11"
VERSION="11 (bullseye)"
VERSION_CODENAME=bullseye
ID=debian
`;
const ALMALINUX_9 = `NAME="AlmaLinux"
VERSION="9.4 (Seafoam Ocelot)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.4 (Seafoam Ocelot)"
`;

function stanza(name: string, version: string, source?: string): string {
  return [
    `Package: ${name}`,
    'Status: install ok installed',
    'Architecture: amd64',
    ...(source ? [`Source: ${source}`] : []),
    `Version: ${version}`,
    'Description: test package',
    '',
  ].join('\n');
}

/**
 * A bookworm host as it stood in autumn 2023: glibc before DSA-5514-1, openssl already at the
 * DSA-5532-1 fix, curl before DSA-5587-1, openssh and zlib as first released.
 */
const STATUS = [
  stanza('libc6', '2.36-9+deb12u1', 'glibc'),
  stanza('libc-bin', '2.36-9+deb12u1', 'glibc'),
  stanza('openssl', '3.0.11-1~deb12u2'),
  stanza('libssl3', '3.0.11-1~deb12u2', 'openssl'),
  stanza('curl', '7.88.1-10+deb12u4'),
  stanza('libcurl4', '7.88.1-10+deb12u4', 'curl'),
  stanza('openssh-client', '1:9.2p1-2+deb12u3', 'openssh'),
  stanza('zlib1g', '1:1.2.13.dfsg-1', 'zlib'),
].join('\n');

/** Test-only OSV records: one valid (CVSS 9.8, so critical) and one that breaks the schema. */
const TEST_OSV = JSON.stringify([
  {
    id: 'PW-TEST-0001',
    modified: '2024-01-01T00:00:00Z',
    summary: 'made-up record for the scan tests',
    aliases: ['CVE-2099-0001'],
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
    affected: [
      {
        package: { ecosystem: 'Debian:12', name: 'zlib' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1:1.2.13.dfsg-1+deb12u1' }] }],
      },
    ],
  },
  { id: 'PW-TEST-BROKEN', modified: '2024-01-01T00:00:00Z', affected: 'not an array' },
]);

let dir: string;
let statusPath: string;
let debian12: string;
let debian11: string;
let almalinux9: string;
let testFeeds: string;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => {
    out += chunk;
  });
  stderr.on('data', (chunk) => {
    err += chunk;
  });
  const code = await main(['scan', ...args], { stdin: new PassThrough(), stdout, stderr });
  return { code, stdout: out, stderr: err };
}

async function scanJson(args: string[]) {
  const result = await run([...args, '--format', 'json']);
  expect(result.code, result.stderr).toBe(0);
  return { ...result, report: JSON.parse(result.stdout) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pw-scan-'));
  statusPath = join(dir, 'status');
  debian12 = join(dir, 'os-release-12');
  debian11 = join(dir, 'os-release-11');
  almalinux9 = join(dir, 'os-release-alma9');
  testFeeds = join(dir, 'feeds');
  await writeFile(statusPath, STATUS);
  await writeFile(debian12, DEBIAN_12);
  await writeFile(debian11, DEBIAN_11);
  await writeFile(almalinux9, ALMALINUX_9);
  await mkdir(testFeeds);
  await writeFile(join(testFeeds, 'test-records.json'), TEST_OSV);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const host = () => ['--dpkg-status', statusPath, '--os-release', debian12, '--now', '2025-01-02'];

function byPackage(
  findings: Finding[],
): Record<
  string,
  Pick<Finding, 'installedVersion' | 'fixedVersion' | 'advisories' | 'cves' | 'fixState' | 'isKev'>
> {
  return Object.fromEntries(
    findings.map((f) => [
      f.package,
      {
        installedVersion: f.installedVersion,
        fixedVersion: f.fixedVersion,
        advisories: f.advisories,
        cves: f.cves,
        fixState: f.fixState,
        isKev: f.isKev,
      },
    ]),
  );
}

describe('scan against the example bundle', () => {
  it('finds the glibc and curl advisories, flags KEV, and the JSON satisfies the documented schema', async () => {
    const { report, stderr } = await scanJson([...host(), '--advisories', EXAMPLES]);

    expect(checkJsonSchema(schema, report)).toEqual([]);
    expect(byPackage(report.findings)).toEqual({
      libc6: {
        installedVersion: '2.36-9+deb12u1',
        fixedVersion: '2.36-9+deb12u3',
        advisories: ['DSA-5514-1'],
        cves: ['CVE-2023-4911'],
        fixState: 'fix-available',
        isKev: true,
      },
      'libc-bin': {
        installedVersion: '2.36-9+deb12u1',
        fixedVersion: '2.36-9+deb12u3',
        advisories: ['DSA-5514-1'],
        cves: ['CVE-2023-4911'],
        fixState: 'fix-available',
        isKev: true,
      },
      curl: {
        installedVersion: '7.88.1-10+deb12u4',
        fixedVersion: '7.88.1-10+deb12u5',
        advisories: ['DSA-5587-1'],
        cves: ['CVE-2023-46218'],
        fixState: 'fix-available',
        isKev: false,
      },
      libcurl4: {
        installedVersion: '7.88.1-10+deb12u4',
        fixedVersion: '7.88.1-10+deb12u5',
        advisories: ['DSA-5587-1'],
        cves: ['CVE-2023-46218'],
        fixState: 'fix-available',
        isKev: false,
      },
    });
    // KEV findings rank first; CISA's due date (2023-12-12) is earlier than any SLA deadline.
    expect(
      report.findings
        .slice(0, 2)
        .map((f: Finding) => f.package)
        .sort(),
    ).toEqual(['libc-bin', 'libc6']);
    expect(report.findings[0].dueDate).toBe('2023-12-12');
    expect(report.findings[0].evidence[0]).toMatchObject({
      advisoryId: 'DSA-5514-1',
      feed: { location: join(EXAMPLES, 'debian/DSA-list') },
      matchedName: 'glibc',
      matchedBy: 'source',
      fixedVersion: '2.36-9+deb12u3',
    });
    expect(report.scannedAt).toBe('2025-01-02T00:00:00.000Z');
    expect(report.host).toMatchObject({
      source: statusPath,
      packages: 8,
      os: { distro: 'debian', version: '12' },
    });
    expect(report.summary).toMatchObject({
      packagesScanned: 8,
      packagesAffected: 4,
      findings: 4,
      kev: 2,
      fixAvailable: 4,
      kevCatalogVersion: '2025.02.25',
    });
    expect(report.skipped).toEqual([]);
    expect(report.summary.skipped).toBe(0);
    expect(stderr).not.toContain('skipped');
    expect(report.feeds[0]).toMatchObject({
      source: EXAMPLES,
      role: 'advisories',
      documents: { 'debian-dsa-list': 1, kev: 1 },
    });
  });

  it('prints a table for people, grouped by package and sorted by risk, with a summary line', async () => {
    const { code, stdout } = await run([...host(), '--advisories', EXAMPLES]);

    const lines = stdout.split('\n');
    expect(code).toBe(0);
    expect(lines[0]).toBe(`Debian GNU/Linux 12 (bookworm): 8 packages from ${statusPath}`);
    const header = lines.findIndex((l) => l.startsWith('RISK'));
    expect(lines.slice(header + 1, header + 5).map((l) => l.split(/\s+/)[2])).toEqual([
      'libc-bin:amd64',
      'libc6:amd64',
      'curl:amd64',
      'libcurl4:amd64',
    ]);
    expect(lines[header + 1]).toContain('DSA-5514-1 [KEV]');
    expect(stdout).toMatch(
      /\n8 packages scanned, 4 affected; 4 findings: .*; 2 in KEV; 4 advisory records loaded \(4 for debian 12\); 0 skipped\n$/,
    );
  });

  it('writes CSV and SARIF', async () => {
    const csv = await run([...host(), '--advisories', EXAMPLES, '--format', 'csv']);
    const sarif = await run([...host(), '--advisories', EXAMPLES, '--format', 'sarif']);

    expect(csv.stdout.split('\r\n')[0]).toBe(
      'package,source_package,architecture,ecosystem,installed_version,fixed_version,fix_state,severity,risk_score,due_date,kev,epss,advisories,cves',
    );
    expect(csv.stdout.split('\r\n').filter(Boolean)).toHaveLength(5);
    const run0 = JSON.parse(sarif.stdout).runs[0];
    expect(run0.tool.driver.rules.map((r: { id: string }) => r.id)).toEqual(['DSA-5514-1', 'DSA-5587-1']);
    expect(run0.results).toHaveLength(4);
  });

  it('takes several --advisories paths, joins EPSS scores, and counts and reports a malformed record', async () => {
    const epss = join(dir, 'epss_scores-2025-01-01.csv.gz');
    await writeFile(
      epss,
      gzipSync(
        '#model_version:v2025.03.14,score_date:2025-01-01T00:00:00+0000\ncve,epss,percentile\nCVE-2023-46218,0.00512,0.75\n',
      ),
    );

    const { report, stderr } = await scanJson([
      ...host(),
      '--advisories',
      EXAMPLES,
      testFeeds,
      '--epss',
      epss,
    ]);

    const zlib = report.findings.find((f: Finding) => f.package === 'zlib1g');
    expect(zlib).toMatchObject({
      advisories: ['PW-TEST-0001'],
      severity: 'critical',
      fixedVersion: '1:1.2.13.dfsg-1+deb12u1',
    });
    expect(report.findings.find((f: Finding) => f.package === 'curl')).toMatchObject({
      epss: 0.00512,
      epssPercentile: 0.75,
    });
    const broken = report.skipped.find((s: { recordId: string | null }) => s.recordId === 'PW-TEST-BROKEN');
    expect(broken.location).toContain(join(testFeeds, 'test-records.json'));
    expect(broken.reason).toMatch(/affected/);
    expect(report.summary.skipped).toBe(report.skipped.length);
    expect(report.summary.epssScoreDate).toBe('2025-01-01');
    expect(stderr).toContain(`${join(testFeeds, 'test-records.json')}`);
    expect(stderr).toContain('PW-TEST-BROKEN');
  });
});

describe('scan --fail-on', () => {
  it.each`
    feeds        | failOn        | code
    ${'example'} | ${'critical'} | ${0}
    ${'example'} | ${'high'}     | ${0}
    ${'example'} | ${'low'}      | ${1}
    ${'example'} | ${'any'}      | ${1}
    ${'both'}    | ${'critical'} | ${1}
    ${'none'}    | ${'any'}      | ${0}
  `('$feeds feeds, --fail-on $failOn: exit $code', async ({ feeds, failOn, code }) => {
    // DSA lists state no severity: their findings are `unknown`, which `low` fails on and `high` does not.
    const advisories = feeds === 'none' ? [testFeeds] : feeds === 'both' ? [EXAMPLES, testFeeds] : [EXAMPLES];
    const status = feeds === 'none' ? join(dir, 'status-patched') : statusPath;
    if (feeds === 'none') await writeFile(status, stanza('zlib1g', '1:1.2.13.dfsg-1+deb12u1', 'zlib'));

    const result = await run([
      '--dpkg-status',
      status,
      '--os-release',
      debian12,
      '--advisories',
      ...advisories,
      '--fail-on',
      failOn,
    ]);

    expect(result.code, result.stderr).toBe(code);
  });

  it('rejects an unknown threshold before reading anything', async () => {
    const result = await run([...host(), '--advisories', EXAMPLES, '--fail-on', 'severe']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      '--fail-on must be one of critical, high, medium, low, any; got "severe"',
    );
  });
});

describe('scan --explain', () => {
  it('prints the evidence of each applying advisory', async () => {
    const { code, stdout } = await run([...host(), '--advisories', EXAMPLES, '--explain', 'libc6']);

    expect(code).toBe(0);
    expect(stdout).toContain(
      'libc6 2.36-9+deb12u1 amd64, source glibc 2.36-9+deb12u1 on Debian GNU/Linux 12 (bookworm)',
    );
    expect(stdout).toContain('in CISA KEV (due 2023-12-12)');
    expect(stdout).toContain('  applies: DSA-5514-1');
    expect(stdout).toContain(`    feed:       ${join(EXAMPLES, 'debian/DSA-list')} (`);
    expect(stdout).toContain('source package glibc');
    expect(stdout).toContain('    range:      [0, 2.36-9+deb12u3)');
    expect(stdout).toMatch(
      / {4}comparison: installed (source )?2\.36-9\+deb12u1 < fixed 2\.36-9\+deb12u3 \(deb\)/,
    );
    expect(stdout).toContain('    fixed:      2.36-9+deb12u3 (fix-available)');
  });

  it('says why a record that names the package does not apply', async () => {
    const { stdout } = await run([...host(), '--advisories', EXAMPLES, '--explain', 'openssl']);

    expect(stdout).toContain('openssl 3.0.11-1~deb12u2 amd64');
    expect(stdout).toContain('libssl3 3.0.11-1~deb12u2 amd64, source openssl');
    expect(stdout).toContain(
      'DSA-5532-1: installed 3.0.11-1~deb12u2 >= fixed 3.0.11-1~deb12u2 (deb): not affected',
    );
    expect(stdout).not.toContain('applies:');
  });

  it('is exit 2 for a package that is not installed', async () => {
    const result = await run([...host(), '--advisories', EXAMPLES, '--explain', 'nginx']);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('nginx: not installed (no binary or source package of that name)\n');
  });
});

describe('scan input errors', () => {
  it('stops on a malformed inventory with its line number (exit 2)', async () => {
    const bad = join(dir, 'status-bad');
    await writeFile(
      bad,
      `${stanza('zlib1g', '1:1.2.13.dfsg-1', 'zlib')}\nPackage: broken\nthis line is not a field\n`,
    );

    const result = await run(['--dpkg-status', bad, '--os-release', debian12, '--advisories', EXAMPLES]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`INVALID_INVENTORY: ${bad}:9:`);
    expect(result.stdout).toBe('');
  });

  it('asks for --os-release when the inventory does not say which OS it is from', async () => {
    const result = await run(['--dpkg-status', statusPath, '--advisories', EXAMPLES]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass --os-release FILE');
  });

  it('requires --advisories, and names a missing feed path', async () => {
    const none = await run(['--dpkg-status', statusPath, '--os-release', debian12]);
    const missing = await run([...host(), '--advisories', join(dir, 'nope')]);

    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--advisories is required');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`FEED_NOT_FOUND: ${join(dir, 'nope')}: no such file or directory`);
  });
});

describe('scan of a feed URL (local server on 127.0.0.1)', () => {
  let server: Server;
  let url: string;
  const seen: Array<{ headers: IncomingHttpHeaders; status: number }> = [];
  const body = readFileSync(join(EXAMPLES, 'debian/DSA-list'));

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.headers['if-none-match'] === '"dsa-1"') {
        seen.push({ headers: req.headers, status: 304 });
        res.writeHead(304).end();
        return;
      }
      seen.push({ headers: req.headers, status: 200 });
      res.writeHead(200, { etag: '"dsa-1"', 'last-modified': 'Mon, 01 Jul 2024 12:00:00 GMT' }).end(body);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/data/DSA/list`;
  });
  afterAll(() => new Promise<void>((done) => server.close(() => done())));

  it('fetches once, revalidates with If-None-Match (304), then survives the server going away', async () => {
    const cacheDir = join(dir, 'cache');
    const args = [...host(), '--advisories', url, '--cache-dir', cacheDir];

    const first = await scanJson(args);
    const second = await scanJson(args);
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
    const third = await scanJson(args);
    server = createServer();

    expect(seen.map((s) => s.status)).toEqual([200, 304]);
    expect(seen[1]?.headers['if-none-match']).toBe('"dsa-1"');
    expect(seen[1]?.headers['if-modified-since']).toBe('Mon, 01 Jul 2024 12:00:00 GMT');
    for (const { report } of [first, second, third]) {
      expect(report.findings.map((f: Finding) => f.package).sort()).toEqual([
        'curl',
        'libc-bin',
        'libc6',
        'libcurl4',
      ]);
      expect(report.findings[0].evidence[0].feed).toEqual({
        location: url,
        timestamp: '2024-07-01T12:00:00.000Z',
      });
    }
    expect(third.stderr).toContain(`warning: ${url}: fetch failed`);
    expect(third.stderr).toContain('using the cached copy fetched');
    expect(third.report.feeds[0].warnings).toHaveLength(1);
    expect((await readdir(cacheDir)).length).toBe(2);
  });

  it('stops with FEED_UNREACHABLE and exit 4 when a feed URL does not answer and nothing is cached', async () => {
    const silent = createServer();
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    const deadUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/feed.json`;
    await new Promise<void>((done) => silent.close(() => done()));

    const result = await run([...host(), '--advisories', deadUrl, '--cache-dir', join(dir, 'empty-cache')]);

    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('FEED_UNREACHABLE');
    expect(result.stderr).toContain(deadUrl);
  });
});

describe.skipIf(!existsSync(join(DATA, 'debian-tracker/DSA-list')))('conformance: real Debian data', () => {
  const dsaList = join(DATA, 'debian-tracker/DSA-list');
  const kev = join(DATA, 'kev/known_exploited_vulnerabilities.json');
  const bookworm = join(DATA, 'inventories/debian12-dpkg-status');

  it('the real bookworm machine judged as Debian 11: every bullseye DSA fix is older than what is installed', async () => {
    // Derived with dpkg --compare-versions: all 66 [bullseye] lines of DSA-list for installed sources are
    // below the installed bookworm versions, e.g. openssl 3.0.19-1~deb12u2 against 1.1.1n-0+deb11u4.
    const { report } = await scanJson([
      '--dpkg-status',
      bookworm,
      '--os-release',
      debian11,
      '--advisories',
      dsaList,
      '--kev',
      kev,
    ]);
    const explained = await run([
      '--dpkg-status',
      bookworm,
      '--os-release',
      debian11,
      '--advisories',
      dsaList,
      '--explain',
      'openssl',
    ]);

    expect(report.findings).toEqual([]);
    expect(report.summary.packagesScanned).toBe(802);
    expect(report.summary.advisoriesLoaded).toBeGreaterThan(4000);
    expect(report.summary.advisoriesForHost).toBeGreaterThan(100);
    expect(report.summary.kevCatalogVersion).toBe('2025.08.25');
    for (const [id, fixed] of [
      ['DSA-4963-1', '1.1.1k-1+deb11u1'],
      ['DSA-5103-1', '1.1.1k-1+deb11u2'],
      ['DSA-5139-1', '1.1.1n-0+deb11u2'],
      ['DSA-5169-1', '1.1.1n-0+deb11u3'],
      ['DSA-5343-1', '1.1.1n-0+deb11u4'],
    ]) {
      expect(explained.stdout).toContain(
        `${id}: installed 3.0.19-1~deb12u2 >= fixed ${fixed} (deb): not affected`,
      );
    }
  });

  it('warns that the feeds say nothing about the host when no record is for its release', async () => {
    // The DSA-list snapshot (2023-04) predates bookworm: no [bookworm] line, so nothing judges Debian 12.
    const { report, stderr } = await scanJson([
      '--dpkg-status',
      bookworm,
      '--os-release',
      debian12,
      '--advisories',
      dsaList,
    ]);

    expect(report.findings).toEqual([]);
    expect(report.summary.advisoriesForHost).toBe(0);
    expect(stderr).toContain('warning: none of the');
    expect(stderr).toContain(
      'no finding here means the feeds say nothing about this host, not that it is patched',
    );
  });

  it('a derived inventory (zlib and xz-utils set back to bullseye versions) gets exactly the DSAs above them', async () => {
    // Derived from the real status file: only the Version lines of zlib1g, zlib1g-dev and liblzma5 change.
    // Expected by hand from DSA-list: zlib 1:1.2.11.dfsg-2+deb11u1 is DSA-5111-1's fix but below DSA-5218-1's
    // (1:1.2.11.dfsg-2+deb11u2, CVE-2022-37434); xz-utils 5.2.5-2 is below DSA-5123-1's 5.2.5-2.1~deb11u1.
    const text = readFileSync(bookworm, 'utf8')
      .replace(
        /(Package: zlib1g(?:-dev)?\n(?:[^\n]+\n)*?)Version: 1:1\.2\.13\.dfsg-1\n/g,
        '$1Version: 1:1.2.11.dfsg-2+deb11u1\n',
      )
      .replace(/(Package: liblzma5\n(?:[^\n]+\n)*?)Version: 5\.4\.1-1\n/, '$1Version: 5.2.5-2\n');
    const derived = join(dir, 'status-derived');
    await writeFile(derived, text);

    const { report } = await scanJson([
      '--dpkg-status',
      derived,
      '--os-release',
      debian11,
      '--advisories',
      dsaList,
    ]);

    expect(byPackage(report.findings)).toEqual({
      zlib1g: {
        installedVersion: '1:1.2.11.dfsg-2+deb11u1',
        fixedVersion: '1:1.2.11.dfsg-2+deb11u2',
        advisories: ['DSA-5218-1'],
        cves: ['CVE-2022-37434'],
        fixState: 'fix-available',
        isKev: false,
      },
      'zlib1g-dev': {
        installedVersion: '1:1.2.11.dfsg-2+deb11u1',
        fixedVersion: '1:1.2.11.dfsg-2+deb11u2',
        advisories: ['DSA-5218-1'],
        cves: ['CVE-2022-37434'],
        fixState: 'fix-available',
        isKev: false,
      },
      liblzma5: {
        installedVersion: '5.2.5-2',
        fixedVersion: '5.2.5-2.1~deb11u1',
        advisories: ['DSA-5123-1'],
        cves: ['CVE-2022-1271'],
        fixState: 'fix-available',
        isKev: false,
      },
    });
  });
});

describe.skipIf(!existsSync(join(DATA, 'osv/almalinux/almalinux9.ndjson')))(
  'conformance: real AlmaLinux 9 data',
  () => {
    const ndjson = join(DATA, 'osv/almalinux/almalinux9.ndjson');

    /** rpm -qa line (RPM_QA_QUERY_FORMAT) for `name` at `evr`; the source rpm named after the binary (derived). */
    function qaLine(name: string, evr: string): string {
      const colon = evr.indexOf(':');
      const epoch = colon >= 0 ? evr.slice(0, colon) : '0';
      const vr = colon >= 0 ? evr.slice(colon + 1) : evr;
      const dash = vr.lastIndexOf('-');
      return `${name}\t${epoch}\t${vr.slice(0, dash)}\t${vr.slice(dash + 1)}\tx86_64\t${name}-${vr}.src.rpm\n`;
    }

    /** The highest `fixed` per binary name over every AlmaLinux:9 entry, and the advisories giving it. */
    function maxFixed(): Map<string, { fixed: string; ids: string[] }> {
      const best = new Map<string, { fixed: string; ids: string[] }>();
      for (const line of readFileSync(ndjson, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        const record = JSON.parse(line) as {
          id: string;
          affected: Array<{
            package: { ecosystem: string; name: string };
            ranges: Array<{ events: Array<{ fixed?: string }> }>;
          }>;
        };
        for (const affected of record.affected) {
          if (affected.package.ecosystem !== 'AlmaLinux:9') continue;
          for (const event of affected.ranges.flatMap((r) => r.events)) {
            if (event.fixed === undefined) continue;
            const known = best.get(affected.package.name);
            const order = known ? rpm.compare(event.fixed, known.fixed) : 1;
            if (order > 0) best.set(affected.package.name, { fixed: event.fixed, ids: [record.id] });
            else if (order === 0 && !known!.ids.includes(record.id)) known!.ids.push(record.id);
          }
        }
      }
      return best;
    }

    /** `3.el9_8` -> `2.el9_8`: one release below; null when the release does not start with a number above 0. */
    function releaseBelow(evr: string): string | null {
      const dash = evr.lastIndexOf('-');
      const match = /^(\d+)(.*)$/.exec(evr.slice(dash + 1));
      if (!match || Number(match[1]) === 0) return null;
      return `${evr.slice(0, dash + 1)}${Number(match[1]) - 1}${match[2]}`;
    }

    it('hand-derived: openssl and sudo one release below their last fix are found; at the fix they are not', async () => {
      // From almalinux9.ndjson: openssl's highest fix is ALSA-2026:25239 (1:3.5.5-4.el9_8), sudo's ALSA-2026:19220
      // (1.9.17p2-3.el9_8). rpm -qa lines are derived from those versions, not taken from a real host.
      const qa = join(dir, 'rpm-qa-alma');
      await writeFile(qa, qaLine('openssl', '1:3.5.5-3.el9_8') + qaLine('sudo', '1.9.17p2-3.el9_8'));

      const { report } = await scanJson(['--rpm-qa', qa, '--os-release', almalinux9, '--advisories', ndjson]);

      expect(byPackage(report.findings)).toEqual({
        openssl: {
          installedVersion: '1:3.5.5-3.el9_8',
          fixedVersion: '1:3.5.5-4.el9_8',
          advisories: ['ALSA-2026:25239'],
          cves: expect.arrayContaining(['CVE-2026-7383']),
          fixState: 'fix-available',
          isKev: false,
        },
      });
      expect(report.findings[0].evidence[0]).toMatchObject({
        scope: expect.stringMatching(/almalinux/i),
        matchedBy: 'binary',
      });
    });

    it('derived for 150 packages: one release below the highest fix is a finding with that fix; at it, none', async () => {
      const best = [...maxFixed()].filter(([, v]) => releaseBelow(v.fixed) !== null).slice(0, 150);
      const below = join(dir, 'rpm-qa-below');
      const at = join(dir, 'rpm-qa-at');
      await writeFile(below, best.map(([name, v]) => qaLine(name, releaseBelow(v.fixed)!)).join(''));
      await writeFile(at, best.map(([name, v]) => qaLine(name, v.fixed)).join(''));

      const vulnerable = await scanJson([
        '--rpm-qa',
        below,
        '--os-release',
        almalinux9,
        '--advisories',
        ndjson,
      ]);
      const patched = await scanJson(['--rpm-qa', at, '--os-release', almalinux9, '--advisories', ndjson]);

      expect(best).toHaveLength(150);
      expect(patched.report.findings).toEqual([]);
      const found = new Map<string, Finding>(vulnerable.report.findings.map((f: Finding) => [f.package, f]));
      for (const [name, { fixed, ids }] of best) {
        const finding = found.get(name);
        expect(finding, name).toBeDefined();
        expect(
          rpm.compare(finding!.fixedVersion!, fixed),
          `${name} fixed ${finding!.fixedVersion} vs ${fixed}`,
        ).toBe(0);
        expect(finding!.advisories, name).toEqual(expect.arrayContaining(ids));
      }
      expect(found.size).toBe(150);
    });
  },
);

describe('scan of a bundle with a file that is not a feed', () => {
  it('lists the file as skipped rather than passing over it silently', async () => {
    const copy = join(dir, 'examples-copy');
    await mkdir(join(copy, 'debian'), { recursive: true });
    await copyFile(join(EXAMPLES, 'debian/DSA-list'), join(copy, 'debian/DSA-list'));
    await writeFile(join(copy, 'NOTES.md'), '# notes\n');

    const { report, stderr } = await scanJson([...host(), '--advisories', copy]);

    expect(report.skipped).toEqual([
      expect.objectContaining({ location: join(copy, 'NOTES.md'), recordId: null }),
    ]);
    expect(report.summary.skipped).toBe(1);
    expect(stderr).toContain(`skipped ${join(copy, 'NOTES.md')}: not a feed file`);
    expect(report.summary.advisoriesLoaded).toBe(4);
  });
});

const hasBuild = existsSync(join(REPO, 'packages/cli/dist/main.js'));
describe.skipIf(!hasBuild || !existsSync('/var/lib/dpkg/status'))(
  'the README quick start through the built binary (needs `npm run build` and a dpkg host)',
  () => {
    it('scans this machine against examples/feeds and explains what it read', () => {
      const result = spawnSync(
        process.execPath,
        ['packages/cli/bin/patchwarden.js', 'scan', '--local', '--advisories', 'examples/feeds'],
        { cwd: REPO, encoding: 'utf8' },
      );

      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^.+: \d+ packages from \/var\/lib\/dpkg\/status\n/);
      expect(result.stdout).toContain('feed examples/feeds: 1 debian-dsa-list, 1 kev; 5 records');
      expect(result.stdout).toMatch(/\n\d+ packages scanned, \d+ affected; .*4 advisory records loaded/);
    });
  },
);
