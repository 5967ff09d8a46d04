import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deb } from '../ecosystems/deb/index.js';
import type { Advisory, AffectedPackage, AffectedRange } from '../types/advisory.js';
import { advisory, affected, context, entry, inventory, os, pkg } from './__fixtures__/builders.js';
import { buildAdvisoryIndex, updateAdvisoryIndex } from './advisory-index.js';
import { createDetectionMemo, detectFindings } from './detect.js';

/** Small deb versions that collide often: epochs, tildes, revisions, equal-but-different spellings. */
const arbVersion = fc
  .tuple(
    fc.constantFrom('', '', '', '0:', '1:'),
    fc.integer({ min: 0, max: 3 }),
    fc.constantFrom('', '.0', '.1', '.2', '.10'),
    fc.constantFrom('', '', '~rc1', '+dfsg'),
    fc.constantFrom('', '-1', '-2', '-1~deb12u1', '-1+b1'),
  )
  .map((parts) => parts.join(''));

const arbRange: fc.Arbitrary<AffectedRange> = fc.record({
  introduced: fc.option(arbVersion, { freq: 2, nil: null }),
  fixed: fc.option(arbVersion, { freq: 4, nil: null }),
  lastAffected: fc.option(arbVersion, { freq: 1, nil: null }),
  limit: fc.option(arbVersion, { freq: 1, nil: null }),
});

const arbAffected: fc.Arbitrary<AffectedPackage> = fc
  .record({
    name: fc.constantFrom('foo', 'bar'),
    ranges: fc.array(arbRange, { maxLength: 3 }),
    versions: fc.array(arbVersion, { maxLength: 3 }),
    noFixReason: fc.constantFrom(null, 'ignored'),
  })
  .map((fields) => affected(fields));

const arbAdvisories: fc.Arbitrary<Advisory[]> = fc
  .array(fc.array(arbAffected, { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 24 })
  .map((lists) => lists.map((list, i) => advisory({ id: `CVE-2024-${1000 + i}`, affected: list })));

/** The definition, evaluated one range at a time, with no index. */
function naive(advisories: Advisory[], name: string, version: string) {
  const cmp = deb.compare;
  const ids = new Set<string>();
  let findingFix: string | null = null;
  let hasFix = false;
  for (const adv of advisories) {
    for (const entryPkg of adv.affected) {
      if (entryPkg.name !== name) continue;
      const fixes: Array<string | null> = [];
      for (const r of entryPkg.ranges) {
        const introduced = r.introduced === '0' ? null : r.introduced;
        const inRange =
          (introduced === null || cmp(version, introduced) >= 0) &&
          (r.fixed === null || cmp(version, r.fixed) < 0) &&
          (r.lastAffected === null || cmp(version, r.lastAffected) <= 0) &&
          (r.limit === null || cmp(version, r.limit) < 0);
        if (inRange) fixes.push(r.fixed);
      }
      if (entryPkg.versions.some((v) => cmp(v, version) === 0)) {
        const above = entryPkg.ranges
          .map((r) => r.fixed)
          .filter((f): f is string => f !== null && cmp(f, version) > 0)
          .sort(cmp);
        fixes.push(above[0] ?? null);
      }
      if (fixes.length === 0) continue;
      ids.add(adv.id);
      const entryFix = fixes.includes(null) ? null : (fixes as string[]).sort(cmp).at(-1)!;
      if (entryFix !== null) {
        hasFix = true;
        if (findingFix === null || cmp(entryFix, findingFix) > 0) findingFix = entryFix;
      }
    }
  }
  if (ids.size === 0) return null;
  return { advisories: [...ids].sort(), fixedVersion: findingFix, hasFix };
}

describe('detection: the index agrees with the definition', () => {
  it('on random ranges, versions lists and installed versions (deb)', () => {
    fc.assert(
      fc.property(
        arbAdvisories,
        fc.array(arbVersion, { minLength: 1, maxLength: 5 }),
        (advisories, installed) => {
          const index = buildAdvisoryIndex(advisories.map((adv) => entry(adv)));
          const memo = createDetectionMemo();
          for (const version of installed) {
            const host = inventory(os('debian', '12'), [pkg('foo', version)]);
            const findings = detectFindings(index, host, context());
            expect(detectFindings(index, host, context({ memo }))).toEqual(findings);
            const expected = naive(advisories, 'foo', version);

            const got =
              findings[0] === undefined
                ? null
                : {
                    advisories: findings[0].advisories,
                    fixedVersion: findings[0].fixedVersion,
                    hasFix: findings[0].fixState === 'fix-available',
                  };
            // Equal versions may be spelled differently (`0:1.0` and `1.0`): compare them as versions.
            if (
              got?.fixedVersion &&
              expected?.fixedVersion &&
              deb.compare(got.fixedVersion, expected.fixedVersion) === 0
            ) {
              got.fixedVersion = expected.fixedVersion;
            }
            expect(got).toEqual(expected);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('gives each host what a fresh index gives it, whatever hosts came before (kept per-place results)', () => {
    // Every kind of bound, so that tables with intervals checked one by one are among them.
    const sometimes = fc.oneof(
      { arbitrary: fc.constant(null), weight: 3 },
      { arbitrary: arbVersion, weight: 1 },
    );
    const arbAnyRange: fc.Arbitrary<AffectedRange> = fc.record({
      introduced: fc.option(arbVersion, { freq: 2, nil: null }),
      fixed: fc.option(arbVersion, { freq: 4, nil: null }),
      lastAffected: sometimes,
      limit: sometimes,
    });
    const arbAnyAdvisories = fc
      .array(
        fc.array(
          fc
            .record({
              name: fc.constantFrom('foo', 'bar'),
              ranges: fc.array(arbAnyRange, { maxLength: 3 }),
              versions: fc.array(arbVersion, { maxLength: 3 }),
              noFixReason: fc.constantFrom(null, 'ignored'),
            })
            .map((fields) => affected(fields)),
          { minLength: 1, maxLength: 2 },
        ),
        { minLength: 1, maxLength: 24 },
      )
      .map((lists) => lists.map((list, i) => advisory({ id: `CVE-2024-${1000 + i}`, affected: list })));
    fc.assert(
      fc.property(
        fc.oneof(arbAdvisories, arbAnyAdvisories),
        fc.array(fc.tuple(arbVersion, arbVersion), { minLength: 1, maxLength: 6 }),
        (advisories, installed) => {
          const shared = buildAdvisoryIndex(advisories.map((adv) => entry(adv)));
          for (const [version, sourceVersion] of installed) {
            const host = inventory(os('debian', '12'), [
              pkg('foo', version),
              pkg('libbar1', version, { sourceName: 'bar', sourceVersion }),
            ]);
            const fresh = buildAdvisoryIndex(advisories.map((adv) => entry(adv)));
            expect(detectFindings(shared, host, context())).toEqual(detectFindings(fresh, host, context()));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('spells a fixed version the same whatever order records with equal, differently spelled fixes arrive in', () => {
    const fix = (id: string, fixed: string) =>
      advisory({
        id,
        affected: [
          affected({ name: 'foo', ranges: [{ introduced: null, fixed, lastAffected: null, limit: null }] }),
        ],
      });
    const a = fix('CVE-2024-1000', '3.10');
    const b = fix('CVE-2024-1001', '0:3.10');
    const incremental = buildAdvisoryIndex([entry(b)]);
    updateAdvisoryIndex(incremental, { upsert: [entry(a)] });
    const host = inventory(os('debian', '12'), [pkg('foo', '3.9')]);

    const fromFresh = detectFindings(buildAdvisoryIndex([entry(a), entry(b)]), host, context());
    const fromIncremental = detectFindings(incremental, host, context());

    expect(fromFresh[0]!.fixedVersion).toBe('0:3.10');
    expect(fromIncremental).toEqual(fromFresh);
  });

  it('after incremental updates as after a fresh build', () => {
    fc.assert(
      fc.property(arbAdvisories, arbAdvisories, arbVersion, (first, second, version) => {
        const renamed = second.map((adv, i) => ({ ...adv, id: i % 2 === 0 ? adv.id : `CVE-2025-${i}` }));
        const incremental = buildAdvisoryIndex(first.map((adv) => entry(adv)));
        // One record per update, so that most updates place a few intervals into sorted tables.
        for (const adv of renamed) updateAdvisoryIndex(incremental, { upsert: [entry(adv)] });
        const merged = new Map([...first, ...renamed].map((adv) => [adv.id, adv]));
        const fresh = buildAdvisoryIndex([...merged.values()].map((adv) => entry(adv)));
        const host = inventory(os('debian', '12'), [pkg('foo', version), pkg('bar', version)]);

        expect(detectFindings(incremental, host, context())).toEqual(detectFindings(fresh, host, context()));
        expect(incremental.stats).toEqual(fresh.stats);
      }),
      { numRuns: 500 },
    );
  });
});
