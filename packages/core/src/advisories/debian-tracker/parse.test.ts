import { describe, expect, it } from 'vitest';
import type { Advisory } from '../../types/advisory.js';
import { readFixture } from '../__fixtures__/read-fixture.js';
import { absentMessage, readSharedData, sharedDataPath } from '../__fixtures__/shared-data.js';
import { InvalidAdvisoryError } from '../common.js';
import { parseDebianTrackerJson } from './parse.js';
import { DEBIAN_RELEASES, debianReleasesFromConfig } from './releases.js';

const result = parseDebianTrackerJson(readFixture(import.meta.url, 'tracker.json'), 'tracker.json');

function advisory(id: string): Advisory {
  const found = result.advisories.find((a) => a.id === id);
  if (found === undefined) throw new Error(`${id} was not parsed`);
  return found;
}

describe('advisories/debian-tracker: tracker JSON', () => {
  it('gives one advisory per id, across packages, without entries for fixed_version "0"', () => {
    const a = advisory('CVE-2099-0001');

    expect(a).toMatchObject({
      source: 'debian-tracker',
      cves: ['CVE-2099-0001'],
      aliases: [],
      summary: 'never affected everywhere, fixed in sid',
      severity: 'high',
      references: [
        'https://security-tracker.debian.org/tracker/CVE-2099-0001',
        'https://bugs.debian.org/1000001',
      ],
    });
    expect(a.affected.map((p) => [p.name, p.scope, p.ranges[0]?.fixed, p.severity, p.urgency])).toEqual([
      ['example', { distro: 'debian', release: null, stream: null }, '1:1.1-1', 'medium', 'medium**'],
      ['other-example', { distro: 'debian', release: '12', stream: null }, '2.0-1+deb12u1', 'high', 'high'],
    ]);
  });

  it('reads open issues with their no-DSA marks', () => {
    const a = advisory('CVE-2099-0002');

    expect(a.affected.map((p) => [p.scope?.release, p.ranges, p.noFixReason, p.severity])).toEqual([
      [
        '12',
        [{ introduced: null, fixed: null, lastAffected: null, limit: null }],
        'no-dsa: Minor issue',
        'low',
      ],
      [
        '11',
        [{ introduced: null, fixed: null, lastAffected: null, limit: null }],
        'ignored: Minor issue',
        'low',
      ],
      ['10', [{ introduced: null, fixed: null, lastAffected: null, limit: null }], null, 'low'],
      ['13', [{ introduced: null, fixed: null, lastAffected: null, limit: null }], null, 'high'],
      ['14', [{ introduced: null, fixed: null, lastAffected: null, limit: null }], null, 'high'],
    ]);
    expect(a.severity).toBe('high');
  });

  it('keeps TEMP ids and undetermined releases (urgency kept, no rating), reporting unknown codenames and statuses', () => {
    const a = advisory('TEMP-0000000-ABC123');

    expect(a.cves).toEqual([]);
    expect(a.severity).toBe('unknown');
    expect(a.affected).toHaveLength(1);
    expect(a.affected[0]).toMatchObject({ noFixReason: null, severity: null, urgency: 'not yet assigned' });
    expect(a.affected[0]?.ranges[0]?.fixed).toBeNull();
    const notes = result.skipped.filter((s) => s.recordId === 'TEMP-0000000-ABC123').map((s) => s.reason);
    expect(notes).toEqual([
      'kept the record; dropped releases with the unknown codename "hamm-security"',
      'kept the record; dropped releases with the unknown status "weird"',
      'kept the record; dropped resolved releases without a fixed_version',
    ]);
  });

  it('reports malformed entries by package/id and goes on', () => {
    const malformed = result.skipped.filter((s) => !s.reason.startsWith('kept the record'));

    expect(malformed).toEqual([
      {
        location: 'tracker.json:example/CVE-2099-0003',
        recordId: 'CVE-2099-0003',
        reason: 'debianbug must be an integer; releases.bookworm must be an object with a string status',
      },
      {
        location: 'tracker.json:example/not-an-id',
        recordId: 'not-an-id',
        reason: 'the id is neither a CVE id nor a TEMP- id',
      },
      { location: 'tracker.json:broken', recordId: null, reason: 'a package entry must be an object' },
    ]);
    expect(result.advisories.map((a) => a.id)).toEqual([
      'CVE-2099-0001',
      'CVE-2099-0002',
      'TEMP-0000000-ABC123',
    ]);
  });

  it('uses a codename map that overrides the built-in one', () => {
    const text = JSON.stringify({ pkg: { 'CVE-2099-0009': { releases: { duke: { status: 'open' } } } } });

    const own = parseDebianTrackerJson(text, 't.json', { duke: '99' });

    expect(own.advisories[0]?.affected[0]?.scope?.release).toBe('99');
    expect(parseDebianTrackerJson(text, 't.json').advisories[0]?.affected[0]?.scope?.release).toBe('15');
  });

  it('reports a document that is not JSON or not an object', () => {
    expect(parseDebianTrackerJson('{', 'x.json').skipped[0]?.reason).toMatch(/^not valid JSON: /);
    expect(parseDebianTrackerJson('[]', 'x.json').skipped).toEqual([
      { location: 'x.json', recordId: null, reason: 'the document must be a JSON object' },
    ]);
  });
});

describe('advisories/debian-tracker: releases', () => {
  it('reads major versions from a static distributions table, and the built-in ones otherwise', () => {
    const text = JSON.stringify({
      distributions: { bookworm: { release: 'stable' }, zzz: {}, sid: {}, next: { 'major-version': '16' } },
    });

    expect(debianReleasesFromConfig(text)).toEqual({ bookworm: '12', next: '16' });
    expect(debianReleasesFromConfig('{"stretch": {"major-version": "9"}}')).toEqual({ stretch: '9' });
    expect(() => debianReleasesFromConfig('nope')).toThrow(InvalidAdvisoryError);
  });
});

const SAMPLE = 'debian-tracker/tracker-json-sample.json';
const CONFIG = 'debian-tracker/config.json';
const STATIC = 'debian-tracker/vuln-list-update-fixture/static-distributions.json';

describe.skipIf(sharedDataPath(SAMPLE) === null)(
  `advisories/debian-tracker: real tracker files${sharedDataPath(SAMPLE) === null ? ` (${absentMessage(SAMPLE)})` : ''}`,
  () => {
    it('reads the config.json and static-distributions codenames', () => {
      const releases = debianReleasesFromConfig(readSharedData(CONFIG));

      expect(releases).toEqual({
        lenny: '5',
        squeeze: '6',
        wheezy: '7',
        jessie: '8',
        stretch: '9',
        buster: '10',
        bullseye: '11',
        bookworm: '12',
        trixie: '13',
        forky: '14',
        potato: '2.2',
        woody: '3.0',
        sarge: '3.1',
        etch: '4',
      });
      expect(debianReleasesFromConfig(readSharedData(STATIC))).toEqual({ stretch: '9', buster: '10' });
      for (const [codename, major] of Object.entries(releases)) expect(DEBIAN_RELEASES[codename]).toBe(major);
    });

    it('parses the tracker JSON sample: 3 CVEs of apparmor, 15 release entries', () => {
      const { advisories, skipped } = parseDebianTrackerJson(
        readSharedData(SAMPLE),
        SAMPLE,
        debianReleasesFromConfig(readSharedData(CONFIG)),
      );

      expect(skipped).toEqual([]);
      expect(advisories.map((a) => [a.id, a.affected.length, a.severity])).toEqual([
        ['CVE-2014-1424', 0, 'unknown'],
        ['CVE-2016-1585', 5, 'negligible'],
        ['CVE-2017-6507', 5, 'unknown'],
      ]);
      const open = advisories[1]!.affected.map((p) => [p.scope?.release, p.ranges[0]?.fixed, p.urgency]);
      expect(open).toEqual([
        ['12', null, 'unimportant'],
        ['11', null, 'unimportant'],
        ['10', null, 'unimportant'],
        [null, '3.0.12-1', 'unimportant'],
        ['13', '3.0.12-1', 'unimportant'],
      ]);
      expect(advisories[1]!.references).toContain('https://bugs.debian.org/929990');
    });
  },
);
