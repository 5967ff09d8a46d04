import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidVersionError } from '../../errors.js';
import { parseSemver, type SemVer, semver } from './index.js';

function order(a: string, b: string): number {
  return Math.sign(semver.compare(a, b)) || 0;
}

describe('ecosystems/semver/version: semver.org examples', () => {
  // §11: "Example: 1.0.0 < 2.0.0 < 2.1.0 < 2.1.1" and
  // "1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0".
  const chains = [
    ['1.0.0', '2.0.0', '2.1.0', '2.1.1'],
    [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
    ],
  ];

  it.each(chains)('orders the §11 chain starting %s', (...chain: string[]) => {
    for (const [i, a] of chain.entries()) {
      for (const [j, b] of chain.entries()) expect(order(a, b)).toBe(Math.sign(i - j) || 0);
    }
  });

  // §9 and §10 examples.
  it.each([
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-0.3.7',
    '1.0.0-x.7.z.92',
    '1.0.0-x-y-z.--',
    '1.0.0-alpha+001',
    '1.0.0+20130313144700',
    '1.0.0-beta+exp.sha.5114f85',
    '1.0.0+21AF26D3----117B344092BD',
  ])('accepts the spec example %s', (version) => {
    expect(semver.checkVersion(version)).toBeNull();
  });

  it.each`
    a                                                                 | b                                                                 | expected
    ${'1.0.0+a'}                                                      | ${'1.0.0+b'}                                                      | ${0}
    ${'1.0.0-alpha+001'}                                              | ${'1.0.0-alpha'}                                                  | ${0}
    ${'1.0.0+20130313144700'}                                         | ${'1.0.0'}                                                        | ${0}
    ${'1.0.0-beta+exp.sha.5114f'}                                     | ${'1.0.0-beta+z'}                                                 | ${0}
    ${'1.0.0-1'}                                                      | ${'1.0.0-a'}                                                      | ${-1}
    ${'1.0.0-999'}                                                    | ${'1.0.0--'}                                                      | ${-1}
    ${'1.0.0-A'}                                                      | ${'1.0.0-a'}                                                      | ${-1}
    ${'1.0.0-Z'}                                                      | ${'1.0.0-a'}                                                      | ${-1}
    ${'1.0.0--'}                                                      | ${'1.0.0-0a'}                                                     | ${-1}
    ${'1.0.0-0a'}                                                     | ${'1.0.0-A'}                                                      | ${-1}
    ${'1.0.0-alpha'}                                                  | ${'1.0.0-alpha-'}                                                 | ${-1}
    ${'1.0.0-alpha'}                                                  | ${'1.0.0-alpha.0'}                                                | ${-1}
    ${'1.0.0-2'}                                                      | ${'1.0.0-10'}                                                     | ${-1}
    ${'1.0.0-a.10'}                                                   | ${'1.0.0-a.9'}                                                    | ${1}
    ${'1.0.0-a10'}                                                    | ${'1.0.0-a9'}                                                     | ${-1}
    ${'1.0.0-0'}                                                      | ${'1.0.0'}                                                        | ${-1}
    ${'0.0.0'}                                                        | ${'0.0.0-0'}                                                      | ${1}
    ${'1.2.3'}                                                        | ${'1.10.0'}                                                       | ${-1}
    ${'9007199254740993.0.0'}                                         | ${'9007199254740992.0.0'}                                         | ${1}
    ${'1.0.0-18446744073709551617'}                                   | ${'1.0.0-18446744073709551616'}                                   | ${1}
    ${'99999999999999999999999.999999999999999999.99999999999999999'} | ${'99999999999999999999999.999999999999999999.99999999999999998'} | ${1}
  `('compare($a, $b) is $expected', ({ a, b, expected }: { a: string; b: string; expected: number }) => {
    expect(order(a, b)).toBe(expected);
    expect(order(b, a)).toBe(-expected || 0);
  });
});

describe('ecosystems/semver/version: validation', () => {
  // The test strings of the regular expression that semver.org's FAQ links (regex101.com/r/Ly7O1x/3).
  it.each([
    '0.0.4',
    '1.2.3',
    '10.20.30',
    '1.1.2-prerelease+meta',
    '1.1.2+meta',
    '1.1.2+meta-valid',
    '1.0.0-alpha.beta.1',
    '1.0.0-alpha0.valid',
    '1.0.0-alpha.0valid',
    '1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay',
    '1.0.0-rc.1+build.1',
    '2.0.0-rc.1+build.123',
    '10.2.3-DEV-SNAPSHOT',
    '1.2.3-SNAPSHOT-123',
    '2.0.0+build.1848',
    '2.0.1-alpha.1227',
    '1.0.0-alpha+beta',
    '1.2.3----RC-SNAPSHOT.12.9.1--.12+788',
    '1.2.3----R-S.12.9.1--.12+meta',
    '1.2.3----RC-SNAPSHOT.12.9.1--.12',
    '1.0.0+0.build.1-rc.10000aaa-kk-0.1',
    '99999999999999999999999.999999999999999999.99999999999999999',
    '1.0.0-0A.is.legal',
  ])('accepts %s', (version) => {
    expect(semver.checkVersion(version)).toBeNull();
  });

  it.each([
    '1',
    '1.2',
    '1.2.3-0123',
    '1.2.3-0123.0123',
    '1.1.2+.123',
    '+invalid',
    '-invalid',
    '-invalid+invalid',
    '-invalid.01',
    'alpha',
    'alpha.beta',
    'alpha.beta.1',
    'alpha.1',
    'alpha+beta',
    'alpha_beta',
    'alpha.',
    'alpha..',
    'beta',
    '1.0.0-alpha_beta',
    '-alpha.',
    '1.0.0-alpha..',
    '1.0.0-alpha..1',
    '1.0.0-alpha...1',
    '01.1.1',
    '1.01.1',
    '1.1.01',
    '1.2.3.DEV',
    '1.2-SNAPSHOT',
    '1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788',
    '1.2-RC-SNAPSHOT',
    '-1.0.3-gamma+b7718',
    '+justmeta',
    '9.8.7+meta+meta',
    '9.8.7-whatever+meta+meta',
    '99999999999999999999999.999999999999999999.99999999999999999----RC-SNAPSHOT.12.09.1--------------------------------..12',
  ])('rejects %s', (version) => {
    expect(semver.checkVersion(version)).toBeInstanceOf(InvalidVersionError);
    expect(semver.parseVersion(version)).toBeNull();
    expect(() => semver.compare(version, '1.0.0')).toThrow(InvalidVersionError);
    expect(() => semver.compare('1.0.0', version)).toThrow(InvalidVersionError);
  });

  it.each`
    version            | rule
    ${''}              | ${'empty'}
    ${'v1.0.0'}        | ${'leading-v'}
    ${'V1.0.0'}        | ${'leading-v'}
    ${'1.0'}           | ${'core-format'}
    ${'1.0.0.0'}       | ${'core-format'}
    ${'1.0.0a'}        | ${'core-format'}
    ${'1..0'}          | ${'core-format'}
    ${'=1.0.0'}        | ${'illegal-character'}
    ${' 1.0.0'}        | ${'illegal-character'}
    ${'1.0.0 '}        | ${'illegal-character'}
    ${'1.0.0-a b'}     | ${'illegal-character'}
    ${'1.0.0-alpha_1'} | ${'illegal-character'}
    ${'1.0.0+a+b'}     | ${'illegal-character'}
    ${'1.0.0-é'}       | ${'illegal-character'}
    ${'01.0.0'}        | ${'leading-zero'}
    ${'1.00.0'}        | ${'leading-zero'}
    ${'1.0.0-01'}      | ${'leading-zero'}
    ${'1.0.0-a.00'}    | ${'leading-zero'}
    ${'1.0.0-'}        | ${'empty-identifier'}
    ${'1.0.0+'}        | ${'empty-identifier'}
    ${'1.0.0-a..b'}    | ${'empty-identifier'}
    ${'1.0.0-a.'}      | ${'empty-identifier'}
    ${'1.0.0-+b'}      | ${'empty-identifier'}
  `('$version breaks $rule', ({ version, rule }: { version: string; rule: string }) => {
    const error = semver.checkVersion(version);

    expect(error?.rule).toBe(rule);
    expect(error?.input).toBe(version);
  });

  it.each(['1.0.0+001', '1.0.0-0', '1.0.0-00a', '1.0.0-0-0', '0.0.0'])('accepts %s', (version) => {
    expect(semver.checkVersion(version)).toBeNull();
  });

  it('names the input and the rule in the message', () => {
    expect(semver.checkVersion('v1.2.3')?.message).toBe(
      `semver version "v1.2.3" is invalid: a leading 'v' is not part of SemVer 2.0.0; strip it first (leading-v)`,
    );
  });

  it('parses the parts, exactly at any length', () => {
    expect(parseSemver('18446744073709551617.0.1-rc.1.x-y+build.007')).toEqual({
      major: 18446744073709551617n,
      minor: 0n,
      patch: 1n,
      prerelease: ['rc', '1', 'x-y'],
      build: ['build', '007'],
    } satisfies SemVer);
  });
});

/** §11 transcribed over parsed parts: the reference the scanner-based compare must agree with. */
function modelCompare(a: SemVer, b: SemVer): number {
  for (const key of ['major', 'minor', 'patch'] as const) {
    if (a[key] !== b[key]) return a[key] < b[key] ? -1 : 1;
  }
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return Math.sign(b.prerelease.length - a.prerelease.length) || 0;
  }
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i];
    const y = b.prerelease[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    const xNumeric = /^[0-9]+$/.test(x);
    const yNumeric = /^[0-9]+$/.test(y);
    if (xNumeric && yNumeric && x !== y) return BigInt(x) < BigInt(y) ? -1 : 1;
    if (xNumeric !== yNumeric) return xNumeric ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

const number = fc.oneof(
  fc.constantFrom('0', '1', '2', '9', '10', '11'),
  fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String),
);
const identifier = fc.oneof(
  number,
  fc.constantFrom('alpha', 'beta', 'rc', 'a', 'A', 'Z', 'z', '-', '--', '0a', 'a-1', 'x-y'),
  fc
    .string({ unit: fc.constantFrom('0', '1', 'a', 'Z', '-'), minLength: 1, maxLength: 4 })
    .filter((s) => !/^0[0-9]+$/.test(s)),
);
const version = fc
  .tuple(
    fc.constantFrom('0', '1', '2'),
    number,
    number,
    fc.array(identifier, { maxLength: 4 }),
    fc.array(fc.stringMatching(/^[0-9A-Za-z-]{1,4}$/), { maxLength: 2 }),
  )
  .map(
    ([major, minor, patch, pre, build]) =>
      `${major}.${minor}.${patch}${pre.length > 0 ? `-${pre.join('.')}` : ''}${build.length > 0 ? `+${build.join('.')}` : ''}`,
  );

describe('ecosystems/semver/version: properties', () => {
  it('generated versions are valid and agree with the §11 model', () => {
    fc.assert(
      fc.property(version, version, (a, b) => {
        const x = parseSemver(a);
        const y = parseSemver(b);

        expect(x).not.toBeNull();
        expect(y).not.toBeNull();
        expect(order(a, b)).toBe(modelCompare(x!, y!));
      }),
      { numRuns: 5000 },
    );
  });

  it('is reflexive, antisymmetric and ignores build metadata', () => {
    fc.assert(
      fc.property(version, version, fc.stringMatching(/^[0-9A-Za-z-]{1,6}$/), (a, b, build) => {
        expect(order(a, a)).toBe(0);
        expect(order(a, b)).toBe(-order(b, a) || 0);
        expect(order(`${a.split('+')[0]}+${build}`, a)).toBe(0);
      }),
      { numRuns: 3000 },
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(version, version, version, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(semver.compare) as [string, string, string];
        expect(order(x, y)).toBeLessThanOrEqual(0);
        expect(order(y, z)).toBeLessThanOrEqual(0);
        expect(order(x, z)).toBeLessThanOrEqual(0);
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws from checkVersion or parseVersion', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('0', '1', '.', '-', '+', 'a', 'v', ' ', '_') }),
        (text) => {
          const error = semver.checkVersion(text);
          expect(semver.parseVersion(text) === null).toBe(error !== null);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

interface NpmSemver {
  valid(v: string): string | null;
  compare(a: string, b: string): number;
}

// The npm `semver` package: from this repository's node_modules when a dependency brings it,
// otherwise the copy bundled with the npm that ships beside this node binary. Not a dependency.
async function loadNpmSemver(): Promise<{ lib: NpmSemver; from: string } | null> {
  const bundled = resolve(dirname(process.execPath), '../lib/node_modules/npm/node_modules/semver/index.js');
  for (const specifier of ['semver', pathToFileURL(bundled).href]) {
    if (specifier !== 'semver' && !existsSync(bundled)) continue;
    try {
      const module = (await import(/* @vite-ignore */ specifier)) as { default?: NpmSemver } & NpmSemver;
      return { lib: module.default ?? module, from: specifier };
    } catch {
      // Not installed there; try the next place.
    }
  }
  return null;
}

const npm = await loadNpmSemver();
const SAFE = 2n ** 53n - 1n;

describe.skipIf(npm === null)(
  `ecosystems/semver/version: agrees with npm semver (${npm?.from ?? 'skipped: the npm semver package is neither in node_modules nor bundled with npm'})`,
  () => {
    // npm semver compares numbers as JavaScript numbers and rejects core numbers above 2^53 - 1.
    const safeNumber = fc.oneof(
      fc.constantFrom('0', '1', '2', '10'),
      fc.bigInt({ min: 0n, max: SAFE }).map(String),
    );
    const safeIdentifier = fc.oneof(
      safeNumber,
      identifier.filter((s) => !/^[0-9]+$/.test(s)),
    );
    const safeVersion = fc
      .tuple(safeNumber, safeNumber, safeNumber, fc.array(safeIdentifier, { maxLength: 4 }), fc.boolean())
      .map(
        ([major, minor, patch, pre, withBuild]) =>
          `${major}.${minor}.${patch}${pre.length > 0 ? `-${pre.join('.')}` : ''}${withBuild ? '+b.01' : ''}`,
      );

    it('on the order of 5000 generated pairs', () => {
      const lib = npm!.lib;
      fc.assert(
        fc.property(safeVersion, safeVersion, (a, b) => {
          expect(order(a, b)).toBe(lib.compare(a, b));
        }),
        { numRuns: 5000 },
      );
    });

    it('on which of 5000 strings are versions', () => {
      const lib = npm!.lib;
      const unit = fc.constantFrom('0', '1', '9', '.', '.', '-', '+', 'a', 'Z', '_', ' ');
      // Random strings, and valid versions with one character replaced, inserted or removed.
      const text = fc.oneof(
        fc.string({ unit, maxLength: 14 }),
        fc
          .tuple(safeVersion, fc.nat(), fc.constantFrom('', ...'019.-+aZ_ '), fc.constantFrom(0, 1))
          .map(
            ([v, i, c, drop]) => v.slice(0, i % (v.length + 1)) + c + v.slice((i % (v.length + 1)) + drop),
          ),
      );
      fc.assert(
        fc.property(text, (t) => {
          // npm semver trims whitespace and drops a leading 'v' or '='; SemVer 2.0.0 does not. It
          // also rejects major, minor and patch above 2^53 - 1, which SemVer 2.0.0 allows.
          if (t.trim() !== t || /[0-9]{16}/.test(t)) return;
          expect(semver.checkVersion(t) === null).toBe(lib.valid(t) !== null);
        }),
        { numRuns: 5000 },
      );
    });
  },
);
