import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Advisory } from '../../types/advisory.js';
import { readFixture } from '../__fixtures__/read-fixture.js';
import { absentMessage, readSharedData, sharedDataPath } from '../__fixtures__/shared-data.js';
import { parseAlpineSecdb } from './parse.js';

const tricky = parseAlpineSecdb(readFixture(import.meta.url, 'tricky.yaml'), 'tricky.yaml');

function advisory(id: string): Advisory {
  const found = tricky.advisories.find((a) => a.id === id);
  if (found === undefined) throw new Error(`${id} was not parsed`);
  return found;
}

const upTo = (fixed: string) => ({ introduced: null, fixed, lastAffected: null, limit: null });

describe('advisories/alpine-secdb', () => {
  it('gives one advisory per id, one entry per package (origin), one range per fixed version, keys kept as strings', () => {
    const a = advisory('CVE-2099-0001');

    expect(a).toMatchObject({
      source: 'alpine-secdb',
      cves: ['CVE-2099-0001'],
      aliases: [],
      severity: 'unknown',
    });
    expect(a.affected).toEqual([
      {
        ecosystem: 'apk',
        scope: { distro: 'alpine', release: '3.19', stream: null },
        name: 'example',
        nameKind: 'source',
        ranges: [upTo('1.10-r0'), upTo('1.2.3_p1-r2')],
        versions: [],
        binaries: [],
        noFixReason: null,
        severity: null,
        urgency: null,
      },
      expect.objectContaining({ name: 'example-two', ranges: [upTo('2.0-r0')] }),
    ]);
  });

  it('ignores parenthesised comments, reads ids on one line as aliases, fixes the CVE_ typo, gives no entry for key 0', () => {
    expect(advisory('CVE-2099-0002').affected[0]?.ranges).toEqual([upTo('1.10-r0')]);
    expect(advisory('XSA-999')).toMatchObject({ aliases: ['CVE-2099-0004'], cves: ['CVE-2099-0004'] });
    expect(advisory('CVE-2099-0004').aliases).toEqual(['XSA-999']);
    expect(advisory('XSA-998')).toMatchObject({ aliases: [], cves: [] });
    expect(advisory('CVE-2099-0005').affected[0]?.ranges).toEqual([upTo('4.10.0-r1')]);
    expect(tricky.advisories.map((a) => a.id)).not.toContain('CVE-2099-0003');
    expect(tricky.advisories.map((a) => a.id)).not.toContain('CVE-2099-0006');
  });

  it('reports placeholders and broken packages', () => {
    expect(tricky.skipped).toEqual([
      {
        location: 'tricky.yaml:packages[4]',
        recordId: null,
        reason: 'packages[4] must be {pkg: {name, secfixes}} with a non-empty name',
      },
      {
        location: 'tricky.yaml:packages[5]',
        recordId: null,
        reason: 'packages[5] must be {pkg: {name, secfixes}} with a non-empty name',
      },
      {
        location: 'tricky.yaml',
        recordId: 'example-xen',
        reason: 'kept the record; dropped "CVE-????-?????", which is not a vulnerability id',
      },
    ]);
  });

  it('reads the JSON form, edge as a null release, null and {} id lists as empty, separate list items as separate ids', () => {
    const { advisories, skipped } = parseAlpineSecdb(readFixture(import.meta.url, 'edge.json'), 'edge.json');

    expect(skipped).toEqual([]);
    expect(advisories.map((a) => [a.id, a.affected[0]?.scope, a.affected[0]?.ranges])).toEqual([
      ['CVE-2099-0001', { distro: 'alpine', release: null, stream: null }, [upTo('2.0-r0')]],
      ['ZBX-9999', { distro: 'alpine', release: null, stream: null }, [upTo('2.0-r0')]],
    ]);
    expect(advisories[1]?.aliases).toEqual([]);
  });

  it('reports documents it cannot read', () => {
    expect(parseAlpineSecdb('{"distroversion": 3}', 'x.json').skipped).toEqual([
      { location: 'x.json', recordId: null, reason: 'distroversion must be a string' },
    ]);
    expect(parseAlpineSecdb('distroversion: 3.11\npackages: []\n', 'x.yaml').skipped[0]?.reason).toBe(
      'distroversion "3.11" is neither vX.Y nor edge',
    );
    expect(parseAlpineSecdb('a: [', 'x.yaml').skipped[0]?.reason).toMatch(/^not valid JSON or YAML: /);
  });
});

interface RawSecdb {
  packages: Array<{ pkg: { name: string; secfixes?: Record<string, string[] | null> } }>;
}

for (const [file, packageCount, fixedCount] of [
  ['alpine-secdb/v3.10-main.yaml', 166, 460],
  ['alpine-secdb/v3.10-community.yaml', 73, 203],
  ['alpine-secdb/v3.11-main.yaml', 175, 502],
  ['alpine-secdb/v3.11-community.yaml', 85, 239],
] as const) {
  describe.skipIf(sharedDataPath(file) === null)(
    `advisories/alpine-secdb: real ${file}${sharedDataPath(file) === null ? ` (${absentMessage(file)})` : ''}`,
    () => {
      it('parses every package and every fixed version that lists ids', () => {
        const text = readSharedData(file);
        const raw = parseYaml(text, { schema: 'failsafe' }) as RawSecdb;
        const expected = new Set<string>();
        let keys = 0;
        for (const { pkg } of raw.packages) {
          for (const [fixed, ids] of Object.entries(pkg.secfixes ?? {})) {
            keys += 1;
            if (fixed !== '0' && Array.isArray(ids) && ids.length > 0) expected.add(`${pkg.name} ${fixed}`);
          }
        }

        const { advisories, skipped } = parseAlpineSecdb(text, file);

        expect(raw.packages).toHaveLength(packageCount);
        expect(keys).toBe(fixedCount);
        const seen = new Set<string>();
        for (const a of advisories) {
          for (const pkg of a.affected) for (const r of pkg.ranges) seen.add(`${pkg.name} ${r.fixed}`);
        }
        expect(seen).toEqual(expected);
        expect(skipped.every((s) => s.reason.startsWith('kept the record; dropped "CVE-????'))).toBe(true);
      });
    },
  );
}

describe.skipIf(sharedDataPath('alpine-secdb/vuln-list-update-fixture/312-main.json') === null)(
  'advisories/alpine-secdb: real secdb JSON excerpts',
  () => {
    it('parses 312-main, 312-community (packages as {}) and edge-main', () => {
      const dir = 'alpine-secdb/vuln-list-update-fixture';
      const main = parseAlpineSecdb(readSharedData(`${dir}/312-main.json`), '312-main.json');
      const community = parseAlpineSecdb(readSharedData(`${dir}/312-community.json`), '312-community.json');
      const edge = parseAlpineSecdb(readSharedData(`${dir}/edge-main.json`), 'edge-main.json');

      expect(main).toEqual({
        advisories: [
          expect.objectContaining({
            id: 'CVE-2018-16876',
            affected: [
              expect.objectContaining({
                name: 'ansible',
                scope: { distro: 'alpine', release: '3.12', stream: null },
              }),
            ],
          }),
        ],
        skipped: [],
      });
      expect(community).toEqual({ advisories: [], skipped: [] });
      expect(edge.advisories.map((a) => [a.id, a.affected[0]?.ranges[0]?.fixed])).toEqual([
        ['CVE-2021-30139', '2.12.5-r0'],
        ['CVE-2021-36159', '2.12.6-r0'],
      ]);
    });
  },
);
