import { describe, expect, it } from 'vitest';
import type { Advisory } from '../../types/advisory.js';
import { readFixture } from '../__fixtures__/read-fixture.js';
import { absentMessage, readSharedData, sharedDataPath } from '../__fixtures__/shared-data.js';
import { parseDebianAdvisoryList } from './list.js';

const result = parseDebianAdvisoryList(readFixture(import.meta.url, 'DSA-list'), 'DSA-list', 'DSA');

function advisory(id: string): Advisory {
  const found = result.advisories.find((a) => a.id === id);
  if (found === undefined) throw new Error(`${id} was not parsed`);
  return found;
}

describe('advisories/debian-tracker: DSA/DLA list', () => {
  it('reads header, ids, releases (fixed, not-affected, end-of-life, unfixed) and urgency notes', () => {
    const dsa = advisory('DSA-9999-1');

    expect(dsa).toMatchObject({
      source: 'debian-tracker',
      summary: 'example other-example - security update',
      published: '2099-03-29T00:00:00Z',
      aliases: ['CVE-2099-0001', 'CVE-2099-0002', 'CVE-2099-0004'],
      cves: ['CVE-2099-0001', 'CVE-2099-0002', 'CVE-2099-0004'],
      severity: 'high',
      references: [
        'https://security-tracker.debian.org/tracker/DSA-9999-1',
        'https://bugs.debian.org/1000001',
      ],
    });
    expect(
      dsa.affected.map((p) => [p.name, p.scope?.release, p.ranges[0]?.fixed, p.noFixReason, p.urgency]),
    ).toEqual([
      ['example', '12', '1:1.0-1+deb12u1', null, 'medium'],
      ['example', '10', null, 'end-of-life: no longer supported', null],
      ['other-example', '9', null, null, null],
      ['example', '13', '1:1.0-2', null, 'high'],
    ]);
  });

  it('reads a regression update without ids and an old id without revision', () => {
    expect(advisory('DSA-9998-2')).toMatchObject({ aliases: [], cves: [], severity: 'unknown' });
    expect(advisory('DSA-9998-2').affected[0]?.ranges[0]?.fixed).toBe('1:1.0-1+deb12u2');
    expect(advisory('DSA-137').affected.map((p) => [p.name, p.scope?.release])).toEqual([['mm', '3.0']]);
    expect(advisory('DSA-137').published).toBe('2002-07-30T00:00:00Z');
  });

  it('reports every line it cannot use, with its line number', () => {
    expect(result.skipped).toEqual([
      {
        location: 'DSA-list:11',
        recordId: null,
        reason: '31 Feb 2099 is not a date; its 2 body lines were skipped with it',
      },
      { location: 'DSA-list:14', recordId: null, reason: 'DLA-9996-1 is not a DSA id' },
      { location: 'DSA-list:16', recordId: 'DSA-9995-1', reason: 'unknown pseudo-version <wontfix>' },
      {
        location: 'DSA-list:17',
        recordId: 'DSA-9995-1',
        reason: 'the release codename "hamm-lts" is unknown',
      },
      { location: 'DSA-list:18', recordId: 'DSA-9995-1', reason: 'not an ids, release or NOTE line' },
    ]);
    expect(result.advisories.map((a) => a.id)).toEqual(['DSA-9999-1', 'DSA-9998-2', 'DSA-9995-1', 'DSA-137']);
  });

  it('reports body lines before the first header and non-header lines at column 0', () => {
    const text = '\t[bookworm] - x 1.0-1\nrubbish\n\t{CVE-2099-0001}\n';

    expect(parseDebianAdvisoryList(text, 'l', 'DLA')).toEqual({
      advisories: [],
      skipped: [
        { location: 'l:1', recordId: null, reason: 'a body line before any advisory header' },
        {
          location: 'l:2',
          recordId: null,
          reason: 'not a DLA header; its 1 body lines were skipped with it',
        },
      ],
    });
  });
});

/** Counts by line kind, independently of the parser, to check that no line goes missing. */
function lineCounts(text: string) {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  return {
    headers: lines.filter((line) => line.startsWith('[')).length,
    releases: lines.filter((line) => /^\s+\[/.test(line)).length,
    notAffected: lines.filter((line) => /^\s+\[.*<(?:not-affected|removed|itp)>/.test(line)).length,
  };
}

for (const [kind, file, advisories, cves] of [
  ['DSA', 'debian-tracker/DSA-list', 5406, 14767],
  ['DLA', 'debian-tracker/DLA-list', 3534, 8690],
] as const) {
  describe.skipIf(sharedDataPath(file) === null)(
    `advisories/debian-tracker: real ${kind} list${sharedDataPath(file) === null ? ` (${absentMessage(file)})` : ''}`,
    () => {
      it(`parses every line of ${file}`, () => {
        const text = readSharedData(file);
        const counts = lineCounts(text);

        const parsed = parseDebianAdvisoryList(text, file, kind);

        expect(parsed.skipped).toEqual([]);
        expect(parsed.advisories).toHaveLength(advisories);
        expect(counts.headers).toBe(advisories);
        const entries = parsed.advisories.reduce((sum, a) => sum + a.affected.length, 0);
        expect(entries + counts.notAffected).toBe(counts.releases);
        expect(new Set(parsed.advisories.flatMap((a) => a.cves)).size).toBe(cves);
        for (const a of parsed.advisories) {
          expect(a.id.startsWith(`${kind}-`)).toBe(true);
          expect(a.published).toMatch(/^\d{4}-\d{2}-\d{2}T00:00:00Z$/);
          for (const pkg of a.affected) expect(pkg.scope?.release).toMatch(/^\d+(?:\.\d)?$/);
        }
      });
    },
  );
}

describe.skipIf(sharedDataPath('debian-tracker/vuln-list-update-fixture/data-DLA-list') === null)(
  'advisories/debian-tracker: vuln-list-update list excerpts',
  () => {
    it('parses the DSA excerpt and reports the malformed DLA header', () => {
      const dsa = parseDebianAdvisoryList(
        readSharedData('debian-tracker/vuln-list-update-fixture/data-DSA-list'),
        'data-DSA-list',
        'DSA',
      );
      const dla = parseDebianAdvisoryList(
        readSharedData('debian-tracker/vuln-list-update-fixture/data-DLA-list'),
        'data-DLA-list',
        'DLA',
      );

      expect(dsa.skipped).toEqual([]);
      expect(dsa.advisories[0]?.affected.map((p) => [p.scope?.release, p.ranges[0]?.fixed])).toEqual([
        ['9', '3:3.2.6-3+deb9u3'],
        ['10', '5:5.0.3-4+deb10u1'],
      ]);
      expect(dla.advisories.map((a) => a.id)).toEqual(['DLA-2711-1']);
      expect(dla.skipped).toEqual([
        {
          location: 'data-DLA-list:4',
          recordId: null,
          reason: 'not a DLA header; its 1 body lines were skipped with it',
        },
      ]);
    });
  },
);
