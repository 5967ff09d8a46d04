import { describe, expect, it } from 'vitest';
import type { Advisory, AffectedRange } from '../../types/advisory.js';
import { readFixture } from '../__fixtures__/read-fixture.js';
import { absentMessage, readSharedData, sharedDataPath } from '../__fixtures__/shared-data.js';
import { InvalidAdvisoryError } from '../common.js';
import { parseOsvDocument, parseOsvRecord, toIntervals } from './parse.js';
import type { OsvEvent } from './schema.js';

const tricky = parseOsvDocument(readFixture(import.meta.url, 'tricky.json'), 'tricky.json');

function advisory(id: string): Advisory {
  const found = tricky.advisories.find((a) => a.id === id);
  if (found === undefined) throw new Error(`${id} was not parsed`);
  return found;
}

function range(
  introduced: string | null,
  fixed: string | null,
  lastAffected: string | null = null,
): AffectedRange {
  return { introduced, fixed, lastAffected, limit: null };
}

describe('advisories/osv: tricky records', () => {
  it('keeps withdrawn records, with aliases from aliases+upstream and cves from every id field', () => {
    const dsa = advisory('DSA-9001-1');

    expect(dsa.withdrawn).toBe('2024-01-15T00:00:00Z');
    expect(dsa.aliases).toEqual(['CVE-2024-0001', 'CVE-2024-0002', 'DEBIAN-CVE-2024-0003']);
    expect(dsa.related).toEqual(['CVE-2023-9999', 'GHSA-xxxx-yyyy-zzzz']);
    expect(dsa.cves).toEqual([
      'CVE-2023-9999',
      'CVE-2024-0001',
      'CVE-2024-0002',
      'CVE-2024-0003',
      'CVE-2024-0004',
    ]);
    expect(dsa.source).toBe('osv');
  });

  it('reads a Debian package with its epoch, urgency markers stripped for the severity', () => {
    const [pkg] = advisory('DSA-9001-1').affected;

    expect(pkg).toEqual({
      ecosystem: 'deb',
      scope: { distro: 'debian', release: '12', stream: null },
      name: 'example',
      nameKind: 'source',
      ranges: [range(null, '1:2.0-1+deb12u1')],
      versions: [],
      binaries: [],
      noFixReason: null,
      severity: 'medium',
      urgency: 'medium**',
    });
    expect(advisory('DSA-9001-1').severity).toBe('medium');
  });

  it('turns several introduced/closing pairs into several intervals, last_affected inclusive, trailing introduced open', () => {
    const a = advisory('EXAMPLE-LAST-AFFECTED');

    expect(a.affected[0]?.ranges).toEqual([
      range('1.0-1.el9', null, '1.4-2.el9'),
      range('2.0-1.el9', '2:2.1-3.el9_4.alma'),
      range('3.0-1.el9', null),
      range(null, '0.9-5.el9'),
    ]);
    expect(a.affected[0]?.nameKind).toBe('binary');
    expect(a.affected[0]?.scope).toEqual({ distro: 'almalinux', release: '9', stream: null });
    expect(a.severity).toBe('critical');
    expect(a.cvss).toEqual([
      {
        version: '3.1',
        vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
        baseScore: 9.8,
        severity: 'critical',
      },
    ]);
  });

  it('reads Ubuntu binaries in both shapes, Pro and FIPS streams, versions lists and the record priority', () => {
    const a = advisory('UBUNTU-CVE-2024-0005');
    const [jammy, bionicPro, fips] = a.affected;

    expect(a.severity).toBe('high');
    expect(a.cves).toEqual(['CVE-2024-0005']);
    expect(jammy?.binaries).toEqual(['libexample1', 'example-bin']);
    expect(jammy?.versions).toEqual(['0.9-1', '1.0-1']);
    expect(jammy?.urgency).toBe('low');
    expect(jammy?.severity).toBe('low');
    expect(bionicPro?.scope).toEqual({ distro: 'ubuntu', release: '18.04', stream: 'pro' });
    expect(bionicPro?.ranges).toEqual([range(null, null)]);
    expect(bionicPro?.versions).toEqual(['0.8-1', '0.8-1ubuntu0.1']);
    expect(bionicPro?.binaries).toEqual(['libexample0']);
    expect(bionicPro?.severity).toBeNull();
    expect(fips?.scope).toEqual({ distro: 'ubuntu', release: '22.04', stream: 'fips-updates' });
  });

  it('takes introduced "0" first wherever it stands', () => {
    expect(advisory('EXAMPLE-UNSORTED').affected[0]?.ranges).toEqual([range(null, '1.2.3-r1')]);
  });

  it('keeps SEMVER ranges, drops GIT ranges, PEP 440 ecosystems and unknown ecosystems, and says so once per reason', () => {
    const ghsa = advisory('GHSA-exam-ple0-0001');

    expect(ghsa.severity).toBe('medium');
    expect(ghsa.affected).toHaveLength(1);
    expect(ghsa.affected[0]).toMatchObject({
      ecosystem: 'semver',
      scope: null,
      name: 'example-js',
      nameKind: 'binary',
    });
    expect(ghsa.affected[0]?.ranges).toEqual([range('1.0.0', '1.2.4'), range('2.0.0-rc.1', '2.0.1')]);
    const notes = tricky.skipped.filter((s) => s.recordId === 'GHSA-exam-ple0-0001').map((s) => s.reason);
    expect(notes).toEqual([
      'kept the record; dropped GIT ranges (commit hashes, not package versions)',
      'kept the record; dropped ECOSYSTEM ranges of "PyPI" (its version order is not implemented)',
      'kept the record; dropped versions lists of "PyPI" (its version order is not implemented)',
      'kept the record; dropped affected entries of the unsupported ecosystem "OSS-Fuzz"',
    ]);
  });

  it('skips malformed records naming the record and every bad field, and goes on', () => {
    const malformed = tricky.skipped.filter((s) => !s.reason.startsWith('kept the record'));

    expect(malformed).toEqual([
      {
        location: 'tricky.json[5]',
        recordId: 'EXAMPLE-BROKEN-EVENTS',
        reason:
          'affected[0].ranges[0].events must be a non-empty array; affected[0].ranges[1].events[0] must have exactly one of introduced, fixed, last_affected, limit',
      },
      { location: 'tricky.json[6]', recordId: null, reason: 'id must be a non-empty string' },
      { location: 'tricky.json[7]', recordId: null, reason: 'the record must be a JSON object' },
      {
        location: 'tricky.json[8]',
        recordId: 'EXAMPLE-BAD-TYPES',
        reason:
          'aliases must be an array; affected[0].package must be an object with string ecosystem and name; affected[0].versions[0] must be a string; affected[0].versions[1] must be a string',
      },
    ]);
    expect(tricky.advisories.map((a) => a.id)).toEqual([
      'DSA-9001-1',
      'EXAMPLE-LAST-AFFECTED',
      'UBUNTU-CVE-2024-0005',
      'EXAMPLE-UNSORTED',
      'GHSA-exam-ple0-0001',
    ]);
  });

  it('parseOsvRecord throws InvalidAdvisoryError naming the record id and the field', () => {
    const raw = {
      id: 'EXAMPLE-1',
      affected: [{ package: { ecosystem: 'Debian:12', name: 'x' }, ranges: 'no' }],
    };

    expect(() => parseOsvRecord(raw, 'x.json')).toThrow(InvalidAdvisoryError);
    expect(() => parseOsvRecord(raw, 'x.json')).toThrow(
      'x.json: EXAMPLE-1: affected[0].ranges must be an array',
    );
  });

  it('reads NDJSON line by line, reporting a broken line by number, and RHEL-family summary impact words', () => {
    const result = parseOsvDocument(readFixture(import.meta.url, 'records.ndjson'), 'records.ndjson');

    expect(result.advisories.map((a) => [a.id, a.severity, a.cves])).toEqual([
      ['ALSA-2099:0001', 'high', ['CVE-2099-0001', 'CVE-2099-0002']],
      ['ALSA-2099:0002', 'unknown', []],
      ['ALSA-2099:0004', 'low', []],
    ]);
    expect(result.skipped).toHaveLength(1);
    expect(result.skipped[0]).toMatchObject({ location: 'records.ndjson:4', recordId: 'ALSA-2099:0003' });
    expect(result.skipped[0]?.reason).toMatch(/^not valid JSON: /);
    expect(result.advisories[0]?.affected.map((p) => [p.scope?.release, p.ranges[0]?.fixed])).toEqual([
      ['9', '1:1.0-1.el9_4'],
      ['8', '1.0-1.el8_10'],
    ]);
  });

  it('accepts a single object, an array, an osv.dev {vulns} answer, and reports a broken document', () => {
    const one = JSON.stringify({ id: 'A-1', modified: '2024-01-01T00:00:00Z' });

    expect(parseOsvDocument(one, 'one.json').advisories.map((a) => a.id)).toEqual(['A-1']);
    expect(parseOsvDocument(`[${one}]`, 'arr.json').advisories.map((a) => a.id)).toEqual(['A-1']);
    expect(parseOsvDocument(`{"vulns":[${one}]}`, 'q.json').advisories.map((a) => a.id)).toEqual(['A-1']);
    expect(parseOsvDocument('', 'empty.json')).toEqual({ advisories: [], skipped: [] });
    const broken = parseOsvDocument('{\n  "id": "B-1",\n  "affected": [\n', 'broken.json');
    expect(broken.advisories).toEqual([]);
    expect(broken.skipped).toHaveLength(1);
    expect(broken.skipped[0]).toMatchObject({ location: 'broken.json', recordId: 'B-1' });
  });
});

describe('advisories/osv: toIntervals', () => {
  const ev = (kind: OsvEvent['kind'], version: string): OsvEvent => ({ kind, version });

  it.each([
    { events: [ev('introduced', '0')], expected: [range(null, null)], notes: [] },
    { events: [ev('introduced', '1'), ev('fixed', '2')], expected: [range('1', '2')], notes: [] },
    {
      events: [ev('introduced', '0'), ev('limit', '5'), ev('fixed', '2'), ev('introduced', '3')],
      expected: [
        { introduced: null, fixed: '2', lastAffected: null, limit: '5' },
        { introduced: '3', fixed: null, lastAffected: null, limit: '5' },
      ],
      notes: [],
    },
    {
      events: [ev('fixed', '2'), ev('introduced', '1'), ev('introduced', '1.5'), ev('last_affected', '3')],
      expected: [range('1', null, '3')],
      notes: [
        'ignored a fixed event with no introduced before it',
        'ignored an introduced event that follows another (kept the first)',
      ],
    },
    {
      events: [ev('introduced', '0'), ev('fixed', '2'), ev('introduced', '3'), ev('last_affected', '4')],
      expected: [range(null, '2'), range('3', null, '4')],
      notes: ['tolerated a range that mixes fixed and last_affected'],
    },
  ])('%#: $events.length events', ({ events, expected, notes }) => {
    const seen: string[] = [];

    expect(toIntervals(events, (note) => seen.push(note))).toEqual(expected);
    expect(seen).toEqual(notes);
  });
});

const ALMA9 = 'osv/almalinux/almalinux9.ndjson';
const ALMA10 = 'osv/almalinux/almalinux10.ndjson';

describe.skipIf(sharedDataPath(ALMA9) === null || sharedDataPath(ALMA10) === null)(
  `advisories/osv: real AlmaLinux NDJSON${sharedDataPath(ALMA9) === null ? ` (${absentMessage(ALMA9)})` : ''}`,
  () => {
    it('parses every record of almalinux9.ndjson with the affected entries, pairs and epochs the README counts', () => {
      const result = parseOsvDocument(readSharedData(ALMA9), ALMA9);

      expect(result.skipped).toEqual([]);
      expect(result.advisories).toHaveLength(1783);
      const perRelease = new Map<string, number>();
      let pairs = 0;
      let epochs = 0;
      const names = new Set<string>();
      const odd: string[] = [];
      for (const a of result.advisories) {
        for (const pkg of a.affected) {
          const shape = `${pkg.ecosystem} ${pkg.nameKind} ${pkg.scope?.distro} ${pkg.versions.length} ${pkg.binaries.length}`;
          if (shape !== 'rpm binary almalinux 0 0') odd.push(`${a.id} ${pkg.name}: ${shape}`);
          const release = pkg.scope?.release ?? 'none';
          perRelease.set(release, (perRelease.get(release) ?? 0) + 1);
          names.add(pkg.name);
          for (const r of pkg.ranges) {
            if (r.introduced !== null || r.fixed === null || r.lastAffected !== null)
              odd.push(`${a.id} ${pkg.name}: range`);
            pairs += 1;
            if (r.fixed?.includes(':')) epochs += 1;
          }
        }
      }
      expect(odd).toEqual([]);
      expect(Object.fromEntries(perRelease)).toEqual({ '9': 23051, '8': 745, '10': 216 });
      expect(pairs).toBe(24012);
      // The README's 6070 counts every entry of the file: 5109 AlmaLinux:9 ones and all AlmaLinux:8/10 ones.
      expect(epochs).toBe(6070);
      expect(names.size).toBe(2937);
      expect(new Set(result.advisories.flatMap((a) => a.cves)).size).toBe(4169);
      expect(result.advisories.filter((a) => a.id.startsWith('ALBA-'))).toHaveLength(3);
      expect(result.advisories.every((a) => a.severity !== 'unknown' || a.summary?.startsWith('None:'))).toBe(
        true,
      );
    });

    it('parses every record of almalinux10.ndjson', () => {
      const result = parseOsvDocument(readSharedData(ALMA10), ALMA10);

      expect(result.skipped).toEqual([]);
      expect(result.advisories).toHaveLength(660);
      expect(new Set(result.advisories.flatMap((a) => a.cves)).size).toBe(1705);
      expect(new Set(result.advisories.flatMap((a) => a.affected.map((p) => p.name))).size).toBe(1672);
    });
  },
);

const DSA_3029 = 'osv/debian/DSA-3029-1.json';
const UBUNTU = 'osv/ubuntu/UBUNTU-CVE-2025-38094.json';
const DLA_3623 = 'osv/trimmed-fixtures/DLA-3623-1.json';
const USN_6332 = 'osv/trimmed-fixtures/USN-6332-1.json';

describe.skipIf(sharedDataPath(DSA_3029) === null)(
  `advisories/osv: real Debian and Ubuntu records${sharedDataPath(DSA_3029) === null ? ` (${absentMessage(DSA_3029)})` : ''}`,
  () => {
    it('reads DSA-3029-1 (CVEs in aliases, Debian:7)', () => {
      const { advisories, skipped } = parseOsvDocument(readSharedData(DSA_3029), DSA_3029);

      expect(skipped).toEqual([]);
      expect(advisories).toHaveLength(1);
      expect(advisories[0]).toMatchObject({
        id: 'DSA-3029-1',
        aliases: ['CVE-2014-3616'],
        cves: ['CVE-2014-3616'],
        summary: 'nginx - security update',
        severity: 'unknown',
        references: ['https://www.debian.org/security/2014/dsa-3029'],
      });
      expect(advisories[0]?.affected).toEqual([
        {
          ecosystem: 'deb',
          scope: { distro: 'debian', release: '7', stream: null },
          name: 'nginx',
          nameKind: 'source',
          ranges: [range(null, '1.2.1-2.2+wheezy3')],
          versions: [],
          binaries: [],
          noFixReason: null,
          severity: null,
          urgency: null,
        },
      ]);
    });

    it('reads UBUNTU-CVE-2025-38094 (upstream CVE, Ubuntu priority, Pro streams, unfixed with versions)', () => {
      const { advisories, skipped } = parseOsvDocument(readSharedData(UBUNTU), UBUNTU);
      const raw = JSON.parse(readSharedData(UBUNTU)) as {
        affected: Array<{ package: { ecosystem: string } }>;
      };

      expect(skipped).toEqual([]);
      const a = advisories[0]!;
      expect(a).toMatchObject({
        id: 'UBUNTU-CVE-2025-38094',
        aliases: ['CVE-2025-38094'],
        severity: 'medium',
      });
      expect(a.cves).toEqual(['CVE-2025-38094']);
      expect(a.affected).toHaveLength(raw.affected.length);
      expect(a.affected[0]?.scope).toEqual({ distro: 'ubuntu', release: '14.04', stream: 'pro' });
      expect(a.affected[0]?.ranges).toEqual([range(null, null)]);
      expect(a.affected[0]?.versions).toHaveLength(180);
    });

    it('reads the trimmed DLA and USN records (upstream ids only, no affected)', () => {
      const dla = parseOsvDocument(readSharedData(DLA_3623), DLA_3623).advisories[0]!;
      const usn = parseOsvDocument(readSharedData(USN_6332), USN_6332).advisories[0]!;

      expect(dla.cves).toHaveLength(44);
      expect(dla.aliases).toEqual(dla.cves);
      expect(dla.affected).toEqual([]);
      expect(usn.cves).toHaveLength(34);
      expect(usn.aliases).toHaveLength(68);
    });
  },
);
