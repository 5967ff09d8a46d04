import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidVersionError } from '../../errors.js';
import { apk, compareApkVersionsUnchecked } from './index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');
const fixtures = resolve(repoRoot, '../shared/data/version-fixtures');
const hasFixtures = existsSync(resolve(fixtures, 'alpine-versions.txt'));

const SIGN = { '<': -1, '=': 0, '>': 1 } as const;
type Op = keyof typeof SIGN;

function order(a: string, b: string): number {
  return Math.sign(apk.compare(a, b)) || 0;
}

describe('ecosystems/apk/version: order', () => {
  it.each`
    a                                  | b                                  | expected
    ${'1.0'}                           | ${'1.0'}                           | ${0}
    ${'1.0'}                           | ${'1.1'}                           | ${-1}
    ${'1.10'}                          | ${'1.9'}                           | ${1}
    ${'1.0'}                           | ${'1.0.0'}                         | ${-1}
    ${'1.2.3'}                         | ${'1.2.3-r0'}                      | ${-1}
    ${'1.2.3-r0'}                      | ${'1.2.3-r00'}                     | ${0}
    ${'1.2.3-r9'}                      | ${'1.2.3-r10'}                     | ${-1}
    ${'1.2.3-r1'}                      | ${'1.2.4'}                         | ${-1}
    ${'1.2.3'}                         | ${'1.2.3a'}                        | ${-1}
    ${'1.2.3a'}                        | ${'1.2.3b'}                        | ${-1}
    ${'1.2.3z'}                        | ${'1.2.4'}                         | ${-1}
    ${'1.2.3z'}                        | ${'1.2.3.1'}                       | ${-1}
    ${'1.2.3_alpha'}                   | ${'1.2.3_beta'}                    | ${-1}
    ${'1.2.3_beta'}                    | ${'1.2.3_pre'}                     | ${-1}
    ${'1.2.3_pre'}                     | ${'1.2.3_rc'}                      | ${-1}
    ${'1.2.3_rc'}                      | ${'1.2.3'}                         | ${-1}
    ${'1.2.3_rc9'}                     | ${'1.2.3_rc10'}                    | ${-1}
    ${'1.2.3'}                         | ${'1.2.3_cvs'}                     | ${-1}
    ${'1.2.3_cvs'}                     | ${'1.2.3_svn'}                     | ${-1}
    ${'1.2.3_svn'}                     | ${'1.2.3_git'}                     | ${-1}
    ${'1.2.3_git'}                     | ${'1.2.3_hg'}                      | ${-1}
    ${'1.2.3_hg'}                      | ${'1.2.3_p'}                       | ${-1}
    ${'1.2.3_p1'}                      | ${'1.2.3_p1-r1'}                   | ${-1}
    ${'1.2.3_rc1'}                     | ${'1.2.3_rc1_p1'}                  | ${-1}
    ${'1.2.3_rc1'}                     | ${'1.2.3_rc1_alpha'}               | ${1}
    ${'0.1.0_alpha_pre2'}              | ${'0.1.0_alpha'}                   | ${-1}
    ${'1.2.3_p1'}                      | ${'1.2.3.1'}                       | ${-1}
    ${'1.2.3-r5'}                      | ${'1.2.3_p1'}                      | ${-1}
    ${'1.01'}                          | ${'1.1'}                           | ${-1}
    ${'1.001'}                         | ${'1.01'}                          | ${-1}
    ${'1.00'}                          | ${'1.0'}                           | ${-1}
    ${'1.0'}                           | ${'1.01'}                          | ${-1}
    ${'1.0.1'}                         | ${'1.01'}                          | ${-1}
    ${'01.2'}                          | ${'1.2'}                           | ${0}
    ${'1.1'}                           | ${'1.010'}                         | ${1}
    ${'006'}                           | ${'1.0.0'}                         | ${1}
    ${'20050718-r1'}                   | ${'2.59'}                          | ${1}
    ${'6.6.2p1'}                       | ${'6.6.2_p1'}                      | ${1}
    ${'6.6.2p1-r0'}                    | ${'6.6.2p1-r1'}                    | ${-1}
    ${'1.0_pre20191002222144'}         | ${'1.0_pre20210530193627'}         | ${-1}
    ${'9007199254740993'}              | ${'9007199254740992'}              | ${1}
    ${'1.99999999999999999999'}        | ${'1.100000000000000000000'}       | ${-1}
    ${'1.123456789012345678901234567'} | ${'1.123456789012345678901234568'} | ${-1}
    ${'1.0000000000000000000001'}      | ${'1.000000000000000000001'}       | ${-1}
    ${'1-r18446744073709551617'}       | ${'1-r18446744073709551616'}       | ${1}
    ${'1_p4294967297'}                 | ${'1_p1'}                          | ${1}
    ${'1.'}                            | ${'1'}                             | ${1}
    ${'1_'}                            | ${'1'}                             | ${1}
    ${'1-r'}                           | ${'1-r0'}                          | ${0}
    ${'a'}                             | ${'b'}                             | ${-1}
    ${'.1'}                            | ${'1'}                             | ${-1}
  `('compare($a, $b) is $expected', ({ a, b, expected }: { a: string; b: string; expected: number }) => {
    expect(order(a, b)).toBe(expected);
    expect(order(b, a)).toBe(-expected || 0);
  });
});

describe('ecosystems/apk/version: validation (apk_version_validate)', () => {
  it.each`
    version         | rule
    ${''}           | ${'empty'}
    ${'1.0-1'}      | ${'bad-revision'}
    ${'1-r-1'}      | ${'bad-revision'}
    ${'1.0-'}       | ${'bad-revision'}
    ${'1.0 '}       | ${'illegal-character'}
    ${'1.0A'}       | ${'illegal-character'}
    ${'1:1.0'}      | ${'illegal-character'}
    ${'1.0+git'}    | ${'illegal-character'}
    ${'1.0~rc1'}    | ${'illegal-character'}
    ${'1.0\u00e9'}  | ${'illegal-character'}
    ${'1.0\0'}      | ${'illegal-character'}
    ${'1.0_foo'}    | ${'unknown-suffix'}
    ${'1.0_csv2'}   | ${'unknown-suffix'}
    ${'1.0__p1'}    | ${'unknown-suffix'}
    ${'1.0ab'}      | ${'token-order'}
    ${'1.0_alphax'} | ${'token-order'}
    ${'1.0_p1a'}    | ${'token-order'}
    ${'1.0_rc1.2'}  | ${'token-order'}
    ${'1.0a.2'}     | ${'token-order'}
    ${'1.0-r1.2'}   | ${'token-order'}
    ${'1.0-r1_p1'}  | ${'token-order'}
    ${'1.0-r1a'}    | ${'token-order'}
    ${'1-ruff'}     | ${'token-order'}
  `('$version is invalid: $rule', ({ version, rule }: { version: string; rule: string }) => {
    const error = apk.checkVersion(version);

    expect(error).toBeInstanceOf(InvalidVersionError);
    expect(error?.rule).toBe(rule);
    expect(error?.input).toBe(version);
    expect(apk.parseVersion(version)).toBeNull();
    expect(() => apk.compare(version, '1.0')).toThrow(InvalidVersionError);
    expect(() => apk.compare('1.0', version)).toThrow(InvalidVersionError);
  });

  // apk-tools 2.x accepts all of these: its tokenizer starts expecting digits but lets any
  // token follow an empty run, and an empty separator ('.', '_', '-r') at the end is accepted.
  it.each([
    '0',
    '1.2.3',
    '1.2.3a',
    '1.2.3_rc1_p2-r10',
    '2.3.0b-r1',
    '6.6.2p1',
    '0..1..0',
    '0.r1',
    '1.',
    '1_',
    '1-r',
    '1-r0-r1',
    'a',
    '.1',
    '_rc1',
    '-r1',
    '.',
    '99999999999999999999999999.0',
  ])('%s is valid', (version) => {
    expect(apk.checkVersion(version)).toBeNull();
    expect(apk.parseVersion(version)).toBe(version);
  });

  it('names the offset and the token in the message', () => {
    expect(apk.checkVersion('1.0_rc1.2')?.message).toBe(
      `apk version "1.0_rc1.2" is invalid: '.' cannot follow a suffix number at offset 7; apk versions are ` +
        `digits{.digits}[letter]{_suffix[digits]}[-r<digits>] (token-order)`,
    );
  });
});

/**
 * Fixture lines where apk-tools 2.x disagrees with alpine-versions.txt, with apk-tools 2.x's
 * answer. The hand-written part of that file (from osv-scalibr) follows apk-tools 3 on these;
 * apk-tools 2.x, which produced all 13979 lines of alpine-versions-generated.txt, orders them
 * as below. All but the first two hold versions apk-tools rejects, so apk.compare throws for
 * them and only compareApkVersionsUnchecked (`apk version -t`) orders them.
 */
const APK2_DIVERGENCES: Readonly<Record<string, Op>> = {
  // apk-tools 2.x accepts '.r': an empty number, then a letter. The '.'-number token type sorts
  // before the letter type, so the side still in numbers is the longer, newer one; apk-tools 3
  // rejects '.r' (a digit must follow '.').
  '0.r1 < 0r2': '>',
  '0.8.21.r2 < 0.8.21r2': '>',
  // Invalid: apk-tools 2.x ranks its invalid token above a revision, apk-tools 3 below.
  '1-r-0 < 1-r0': '>',
  '1-r-1 < 1-r0': '>',
  '1 > 1-ruff': '<',
  '1-ruff2 = 1--ruff1': '<',
  // Invalid: upper case ends the version in apk-tools 2.x (an invalid token after a number
  // ranks above a letter); apk-tools 3 ranks the invalid token last.
  '1.2.0A < 1.2.0d': '>',
  '1.2.0D < 1.2.0d': '>',
};

interface FixtureRow {
  line: number;
  text: string;
  a: string;
  op: Op;
  b: string;
}

function readFixture(name: string): FixtureRow[] {
  const rows: FixtureRow[] = [];
  const lines = readFileSync(resolve(fixtures, name), 'utf8').split('\n');
  for (const [index, text] of lines.entries()) {
    if (text.trim() === '' || text.startsWith('#')) continue;
    const [a, op, b, ...rest] = text.split(' ');
    if (a === undefined || b === undefined || !(op === '<' || op === '=' || op === '>') || rest.length > 0) {
      throw new Error(`${name}:${index + 1}: not "A <op> B": ${text}`);
    }
    rows.push({ line: index + 1, text, a, op, b });
  }
  return rows;
}

describe.skipIf(!hasFixtures)(
  `ecosystems/apk/version: shared version fixtures (apk-tools 2.x ground truth)${hasFixtures ? '' : ` (skipped: ${fixtures} is absent, see ../shared/data/README.md)`}`,
  () => {
    it.each(['alpine-versions.txt', 'alpine-versions-generated.txt'])('agrees with %s', (name) => {
      const rows = readFixture(name);
      const mismatches: string[] = [];
      const divergencesSeen: string[] = [];
      let invalidRows = 0;

      for (const { line, text, a, op, b } of rows) {
        const apk2 = APK2_DIVERGENCES[text];
        if (apk2 !== undefined) divergencesSeen.push(text);
        const expected = SIGN[apk2 ?? op];
        if (apk.checkVersion(a) === null && apk.checkVersion(b) === null) {
          if (order(a, b) !== expected || order(b, a) !== -expected) mismatches.push(`${line}: ${text}`);
        } else {
          invalidRows++;
          expect(() => apk.compare(a, b)).toThrow(InvalidVersionError);
          if (Math.sign(compareApkVersionsUnchecked(a, b)) !== expected) mismatches.push(`${line}: ${text}`);
        }
      }

      expect(mismatches).toEqual([]);
      if (name === 'alpine-versions.txt') {
        expect(rows.length).toBe(778);
        expect(divergencesSeen.sort()).toEqual(Object.keys(APK2_DIVERGENCES).sort());
        expect(invalidRows).toBe(16);
      } else {
        expect(rows.length).toBe(13979);
        expect(divergencesSeen).toEqual([]);
        expect(invalidRows).toBe(0);
      }
    });
  },
);

// Valid apk versions by the documented grammar, biased toward what breaks comparators:
// leading zeros, runs past 2^53, empty components, suffix chains and revisions.
const digitRun = fc.oneof(
  fc.stringMatching(/^[0-9]{1,2}$/),
  fc.stringMatching(/^0{1,3}[0-9]?$/),
  fc.stringMatching(/^[1-9][0-9]{14,24}$/),
  fc.constant(''),
);
const suffix = fc.constantFrom('alpha', 'beta', 'pre', 'rc', 'cvs', 'svn', 'git', 'hg', 'p');
const grammarVersion = fc
  .tuple(
    fc.stringMatching(/^[0-9]{1,3}$/),
    fc.array(digitRun, { maxLength: 3 }),
    fc.option(fc.constantFrom('a', 'b', 'p', 'z'), { nil: '' }),
    fc.array(fc.tuple(suffix, digitRun), { maxLength: 2 }),
    fc.option(digitRun, { nil: null }),
  )
  .map(
    ([first, rest, letter, suffixes, revision]) =>
      first +
      rest.map((d) => `.${d}`).join('') +
      letter +
      suffixes.map(([s, n]) => `_${s}${n}`).join('') +
      (revision === null ? '' : `-r${revision}`),
  );
// Anything apk-tools accepts, however odd ('.', 'a', '0.r1', '1-r0-r1').
const oddVersion = fc
  .string({
    unit: fc.constantFrom('0', '1', '9', '.', '_', '-', 'r', 'a', 'p', 'c', 'z'),
    minLength: 1,
    maxLength: 8,
  })
  .filter((v) => apk.checkVersion(v) === null);
const anyVersion = fc.oneof(grammarVersion, grammarVersion, oddVersion);

describe('ecosystems/apk/version: properties', () => {
  it('generated versions are valid', () => {
    fc.assert(
      fc.property(grammarVersion, (v) => apk.checkVersion(v) === null),
      { numRuns: 2000 },
    );
  });

  it('is reflexive and antisymmetric', () => {
    fc.assert(
      fc.property(anyVersion, anyVersion, (a, b) => {
        expect(order(a, a)).toBe(0);
        expect(order(a, b)).toBe(-order(b, a) || 0);
      }),
      { numRuns: 5000 },
    );
  });

  it('is transitive', () => {
    // Versions sharing a prefix, so that triples often tie on their first tokens.
    const related = fc
      .tuple(fc.constantFrom('1', '1.0', '1.2', '0'), anyVersion, anyVersion)
      .chain(([prefix, x, y]) =>
        fc.constantFrom(x, y, `${prefix}.${x}`, `${prefix}${x.replace(/^[0-9]+/, '')}`, prefix),
      )
      .filter((v) => apk.checkVersion(v) === null);
    fc.assert(
      fc.property(related, related, related, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort((p, q) => apk.compare(p, q)) as [string, string, string];
        expect(order(x, y)).toBeLessThanOrEqual(0);
        expect(order(y, z)).toBeLessThanOrEqual(0);
        expect(order(x, z)).toBeLessThanOrEqual(0);
      }),
      { numRuns: 5000 },
    );
  });

  it('orders digit runs of any length by value', () => {
    const natural = fc.bigInt({ min: 0n, max: 10n ** 40n });
    fc.assert(
      fc.property(natural, natural, (x, y) => {
        const expected = x < y ? -1 : x > y ? 1 : 0;
        expect(order(`1.${x + 1n}`, `1.${y + 1n}`)).toBe(expected);
        expect(order(`${x}`, `${y}`)).toBe(expected);
        expect(order(`1_p${x}`, `1_p${y}`)).toBe(expected);
        expect(order(`1-r${x}`, `1-r${y}`)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with the unchecked order on valid versions, and checkVersion never throws', () => {
    fc.assert(
      fc.property(anyVersion, anyVersion, fc.string(), (a, b, junk) => {
        expect(apk.compare(a, b)).toBe(compareApkVersionsUnchecked(a, b));
        const error = apk.checkVersion(junk);
        expect(apk.parseVersion(junk)).toBe(error === null ? junk : null);
      }),
      { numRuns: 3000 },
    );
  });
});
