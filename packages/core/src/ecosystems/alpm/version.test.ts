import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidVersionError } from '../../errors.js';
import { alpm } from './index.js';
import { alpmRpmvercmp, compareAlpmVersionsLenient, parseAlpmVersion } from './version.js';

const VERCMP = '/usr/bin/vercmp';
const FULLPKGVER_LINT = '/usr/share/makepkg/lint_pkgbuild/fullpkgver.sh';

// ---------------------------------------------------------------------------------------------
// Generators, biased toward what breaks comparators: separator runs of different lengths, letter
// and digit switches, `~ ^ + _ .`, leading zeros and digit runs far beyond 2^53.

const digits = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('0', '1', '2', '9', '10', '00', '01', '007', '99', '100') },
  { weight: 3, arbitrary: fc.stringMatching(/^[0-9]{1,4}$/) },
  { weight: 2, arbitrary: fc.stringMatching(/^0{0,3}[1-9][0-9]{15,30}$/) },
  { weight: 1, arbitrary: fc.constantFrom('9007199254740992', '9007199254740993', '18446744073709551616') },
);
const letters = fc.oneof(
  fc.constantFrom('a', 'b', 'z', 'A', 'Z', 'rc', 'alpha', 'beta', 'pre', 'git', 'r', 'g', 'p'),
  fc.stringMatching(/^[a-zA-Z]{1,3}$/),
);
/** Characters makepkg allows in pkgver besides alnum (any ASCII but whitespace, `/ : -`). */
const pkgverSeparator = fc.constantFrom(
  '.',
  '.',
  '.',
  '_',
  '+',
  '~',
  '^',
  '..',
  '._',
  '@',
  '!',
  '%',
  ',',
  '\x01',
);
/** Anything: also characters no valid version contains. */
const anySeparator = fc.constantFrom(
  '.',
  '_',
  '+',
  '~',
  '^',
  '..',
  '-',
  ':',
  '/',
  ' ',
  '\t',
  '--',
  '::',
  'é',
  '€',
  '😀',
);

function joined(parts: fc.Arbitrary<string>, maxLength: number): fc.Arbitrary<string> {
  return fc.array(parts, { minLength: 1, maxLength }).map((xs) => xs.join(''));
}

const pkgver = joined(fc.oneof(digits, letters, pkgverSeparator), 8);
const pkgrel = fc.oneof(
  fc.constantFrom('1', '2', '10', '01', '1.1', '2.0', '1.01'),
  fc.stringMatching(/^[0-9]{1,3}(\.[0-9]{1,2})?$/),
);
const epoch = fc.constantFrom('', '0', '1', '2', '00', '01', '10', '99999999999999999999');
const validVersion = fc
  .tuple(fc.option(epoch, { freq: 3 }), pkgver, fc.option(pkgrel, { freq: 4 }))
  .map(([e, v, r]) => `${e === null ? '' : `${e}:`}${v}${r === null ? '' : `-${r}`}`);
const rawVersion = joined(fc.oneof(digits, letters, anySeparator), 10);

function sharedPrefixPairs(
  arb: fc.Arbitrary<string>,
  tail: fc.Arbitrary<string>,
): fc.Arbitrary<[string, string]> {
  return fc.tuple(arb, tail, tail).map(([p, x, y]) => [p + x, p + y] as [string, string]);
}

const nearlyEqualPairs = validVersion.chain((a) =>
  fc
    .constantFrom(
      (s: string) => s.replace(/\d+/g, (m) => `0${m}`),
      (s: string) => s.replace(/\./g, '_'),
      (s: string) => s.replace(/\./g, '..'),
      (s: string) => s.replace(/^(\d*):/, ''),
      (s: string) => (s.includes(':') ? s : `0:${s}`),
      (s: string) => s.replace(/-[^-]*$/, ''),
      (s: string) => s.replace(/(-[^-]*)?$/, '.0$1'),
      (s: string) => s.replace(/(-[^-]*)?$/, 'a$1'),
      // separator runs of equal length in UTF-16 but not in UTF-8 bytes
      (s: string) => s.replace(/\.+/, (m) => 'é'.repeat(m.length)),
      (s: string) => `${s.replace(/[.:]/g, '_')}.`,
    )
    .map((f) => [a, f(a)] as [string, string]),
);

const pairs = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: fc.tuple(validVersion, validVersion) },
      {
        weight: 4,
        arbitrary: sharedPrefixPairs(
          validVersion,
          fc.oneof(
            pkgver,
            pkgrel.map((r) => `-${r}`),
          ),
        ),
      },
      { weight: 2, arbitrary: nearlyEqualPairs },
      { weight: 2, arbitrary: fc.tuple(rawVersion, rawVersion) },
      { weight: 2, arbitrary: sharedPrefixPairs(rawVersion, rawVersion) },
    ),
    fc.boolean(),
  )
  .map(([[a, b], swap]) => (swap ? [b, a] : [a, b]) as [string, string])
  // vercmp prints its usage for a first argument -h or --help
  .filter(([a]) => a !== '-h' && a !== '--help');

// ---------------------------------------------------------------------------------------------

describe('ecosystems/alpm/version: compare', () => {
  // Mostly pacman's own test/util/vercmptest.sh
  it.each`
    a                           | b                           | expected
    ${'1.5.0'}                  | ${'1.5.0'}                  | ${0}
    ${'1.5.1'}                  | ${'1.5.0'}                  | ${1}
    ${'1.5.1'}                  | ${'1.5'}                    | ${1}
    ${'1.5.0-1'}                | ${'1.5.0-2'}                | ${-1}
    ${'1.5.0-2'}                | ${'1.5.1-1'}                | ${-1}
    ${'1.5-2'}                  | ${'1.5.1-1'}                | ${-1}
    ${'1.5'}                    | ${'1.5-1'}                  | ${0}
    ${'1.1-1'}                  | ${'1.1'}                    | ${0}
    ${'1.0-1'}                  | ${'1.1'}                    | ${-1}
    ${'1.5b-1'}                 | ${'1.5-1'}                  | ${-1}
    ${'1.5b'}                   | ${'1.5.1'}                  | ${-1}
    ${'1.0a'}                   | ${'1.0alpha'}               | ${-1}
    ${'1.0alpha'}               | ${'1.0b'}                   | ${-1}
    ${'1.0beta'}                | ${'1.0rc'}                  | ${-1}
    ${'1.0rc'}                  | ${'1.0'}                    | ${-1}
    ${'1.5.a'}                  | ${'1.5'}                    | ${1}
    ${'1.5.b'}                  | ${'1.5.a'}                  | ${1}
    ${'1.5.1'}                  | ${'1.5.b'}                  | ${1}
    ${'1.5.b-1'}                | ${'1.5.b'}                  | ${0}
    ${'1.5-1'}                  | ${'1.5.b'}                  | ${-1}
    ${'2.0'}                    | ${'2_0'}                    | ${0}
    ${'2.0_a'}                  | ${'2_0.a'}                  | ${0}
    ${'2.0a'}                   | ${'2.0.a'}                  | ${-1}
    ${'2___a'}                  | ${'2_a'}                    | ${1}
    ${'1..0'}                   | ${'1.0'}                    | ${1}
    ${'0:1.0'}                  | ${'1.0'}                    | ${0}
    ${':1.0'}                   | ${'1.0'}                    | ${0}
    ${'1:1.0'}                  | ${'0:1.1'}                  | ${1}
    ${'1:1.0'}                  | ${'2:1.1'}                  | ${-1}
    ${'1:1.0'}                  | ${'0:1.0-1'}                | ${1}
    ${'1.1'}                    | ${'1:1.1'}                  | ${-1}
    ${'1.0~rc1'}                | ${'1.0'}                    | ${1}
    ${'1.0^1'}                  | ${'1.0'}                    | ${1}
    ${'1.0rc1'}                 | ${'1.0'}                    | ${-1}
    ${'1.0'}                    | ${'1.0.0'}                  | ${-1}
    ${'1.0.'}                   | ${'1.0'}                    | ${1}
    ${'1.0.'}                   | ${'1.0.a'}                  | ${1}
    ${'5.3.1-1'}                | ${'5.3.1-1.1'}              | ${-1}
    ${'.a'}                     | ${'1000.'}                  | ${1}
    ${'1000.'}                  | ${'.'}                      | ${1}
    ${'.'}                      | ${'.a'}                     | ${1}
    ${'9..a0'}                  | ${'9.0.'}                   | ${1}
    ${'9.0.'}                   | ${'9.'}                     | ${1}
    ${'9.'}                     | ${'9..a0'}                  | ${1}
    ${'9007199254740993'}       | ${'9007199254740992'}       | ${1}
    ${'18446744073709551616'}   | ${'018446744073709551615'}  | ${1}
    ${'99999999999999999999:1'} | ${'99999999999999999998:2'} | ${1}
  `('compare($a, $b) is $expected', ({ a, b, expected }) => {
    expect(alpm.compare(a, b)).toBe(expected);
    expect(alpm.compare(b, a)).toBe(-expected || 0);
  });

  it.each`
    input          | rule
    ${''}          | ${'empty'}
    ${'a:1'}       | ${'epoch-not-numeric'}
    ${'1.0-1:2'}   | ${'epoch-not-numeric'}
    ${'1:'}        | ${'version-empty'}
    ${'1:-1'}      | ${'illegal-character'}
    ${'-1'}        | ${'illegal-character'}
    ${'1.0-'}      | ${'release-empty'}
    ${'1.0-a'}     | ${'release-not-numeric'}
    ${'1.0-1.'}    | ${'release-not-numeric'}
    ${'1.0-1.2.3'} | ${'release-not-numeric'}
    ${'1.0-.1'}    | ${'release-not-numeric'}
    ${'1-2-3'}     | ${'illegal-character'}
    ${'1:2:3'}     | ${'illegal-character'}
    ${'1.0 beta'}  | ${'illegal-character'}
    ${'1.0\t'}     | ${'illegal-character'}
    ${'1/0'}       | ${'illegal-character'}
    ${'1.0é'}      | ${'illegal-character'}
    ${'1.0\u0000'} | ${'illegal-character'}
  `('$input is invalid ($rule)', ({ input, rule }) => {
    const error = alpm.checkVersion(input);

    expect(error).toBeInstanceOf(InvalidVersionError);
    expect(error?.rule).toBe(rule);
    expect(error?.input).toBe(input);
    expect(alpm.parseVersion(input)).toBeNull();
    expect(() => alpm.compare(input, '1.0')).toThrow(InvalidVersionError);
    expect(() => alpm.compare('1.0', input)).toThrow(InvalidVersionError);
  });

  it.each`
    input                | epoch   | version           | release
    ${'5.3.1-1'}         | ${'0'}  | ${'5.3.1'}        | ${'1'}
    ${'2:3.0.7rc1-1.1'}  | ${'2'}  | ${'3.0.7rc1'}     | ${'1.1'}
    ${':1.0'}            | ${'0'}  | ${'1.0'}          | ${null}
    ${'01:1.0~r3.g1a2b'} | ${'01'} | ${'1.0~r3.g1a2b'} | ${null}
    ${'.1'}              | ${'0'}  | ${'.1'}           | ${null}
  `('parseAlpmVersion($input)', ({ input, epoch, version, release }) => {
    expect(parseAlpmVersion(input)).toEqual({ epoch, version, release });
    expect(alpm.parseVersion(input)).toEqual({ epoch, version, release });
  });
});

describe('ecosystems/alpm/version: alpmRpmvercmp', () => {
  it.each`
    a         | b           | expected
    ${'1é1'}  | ${'1..1'}   | ${0}
    ${'1é1'}  | ${'1.1'}    | ${1}
    ${'1€1'}  | ${'1...1'}  | ${0}
    ${'1😀1'} | ${'1....1'} | ${0}
    ${'1😀1'} | ${'1...1'}  | ${1}
    ${'~1'}   | ${'1'}      | ${1}
    ${''}     | ${'a'}      | ${1}
    ${''}     | ${'1'}      | ${-1}
    ${''}     | ${'.'}      | ${-1}
  `(
    'alpmRpmvercmp($a, $b) is $expected (separator runs are measured in UTF-8 bytes)',
    ({ a, b, expected }) => {
      expect(alpmRpmvercmp(a, b)).toBe(expected);
      expect(alpmRpmvercmp(b, a)).toBe(-expected || 0);
    },
  );
});

describe('ecosystems/alpm/version: properties', () => {
  it('compare is antisymmetric and reflexive', () => {
    fc.assert(
      fc.property(validVersion, validVersion, (a, b) => {
        expect(alpm.compare(a, b)).toBe(-alpm.compare(b, a) || 0);
        expect(alpm.compare(a, a)).toBe(0);
      }),
      { numRuns: 3000 },
    );
  });

  it('compare is transitive on tidy versions (single separators, digit first, with pkgrel)', () => {
    // pacman's order is not transitive in general, and neither is ours, since it is the same:
    // - a missing pkgrel equals every pkgrel: 1.0-1 = 1.0 = 1.0-2, yet 1.0-1 < 1.0-2;
    // - separator runs of different lengths: vercmp says .a > 1000. > . > .a and
    //   9..a0 > 9.0. > 9. > 9..a0 (see the table above).
    const segment = fc.oneof(digits, letters);
    const tidy = fc
      .tuple(
        digits,
        fc.array(fc.tuple(fc.constantFrom('.', '_', '+', '~', ''), segment), { maxLength: 5 }),
        pkgrel,
      )
      .map(([d, rest, r]) => `${d}${rest.map(([sep, seg]) => sep + seg).join('')}-${r}`);
    fc.assert(
      fc.property(tidy, tidy, tidy, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(alpm.compare) as [string, string, string];
        expect(alpm.compare(x, y)).toBeLessThanOrEqual(0);
        expect(alpm.compare(y, z)).toBeLessThanOrEqual(0);
        expect(alpm.compare(x, z)).toBeLessThanOrEqual(0);
      }),
      { numRuns: 3000 },
    );
  });

  it('numeric segments compare as integers of any length, leading zeros ignored', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 40n }),
        fc.bigInt({ min: 0n, max: 10n ** 40n }),
        fc.nat(3),
        (x, y, z) => {
          const expected = x < y ? -1 : x > y ? 1 : 0;
          expect(alpmRpmvercmp(`${'0'.repeat(z)}${x}`, `${y}`)).toBe(expected);
          expect(alpm.compare(`1.${x}-1`, `1.${'0'.repeat(z)}${y}-1`)).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('strict and lenient comparisons agree on valid versions; checkVersion never throws', () => {
    fc.assert(
      fc.property(validVersion, validVersion, fc.string({ unit: 'binary', maxLength: 12 }), (a, b, s) => {
        expect(compareAlpmVersionsLenient(a, b)).toBe(alpm.compare(a, b));
        expect(alpm.checkVersion(s) === null).toBe(alpm.parseVersion(s) !== null);
      }),
      { numRuns: 1000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Differential test against pacman's own vercmp binary, and makepkg's own validity check
// (check_fullpkgver from libmakepkg), run by a few bash loops in parallel.

const hasVercmp = existsSync(VERCMP);
const hasLint = existsSync(FULLPKGVER_LINT);

/** Reads NUL-separated pairs, prints "<vercmp> <makepkg check of a> <of b>" per pair (0 = valid). */
const ORACLE_SCRIPT = `
export LC_ALL=C
shopt -s extglob
if [[ -r ${FULLPKGVER_LINT} ]]; then
  LIBRARY=/usr/share/makepkg
  source ${FULLPKGVER_LINT}
  error() { :; }
else
  check_fullpkgver() { return 2; }
fi
while IFS= read -r -d '' a && IFS= read -r -d '' b; do
  r=$(${VERCMP} "$a" "$b")
  check_fullpkgver "$a"; va=$?
  check_fullpkgver "$b"; vb=$?
  printf '%s %s %s\\n' "$r" "$va" "$vb"
done
`;

function runOracle(input: [string, string][]): Promise<[number, number, number][]> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', ORACLE_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (status) => {
      const lines = out.split('\n').filter((l) => l !== '');
      if (status !== 0 || lines.length !== input.length) {
        reject(
          new Error(`vercmp loop failed (status ${status}, ${lines.length}/${input.length} answers): ${err}`),
        );
        return;
      }
      resolve(lines.map((l) => l.split(' ').map(Number) as [number, number, number]));
    });
    child.stdin.end(input.map(([a, b]) => `${a}\0${b}\0`).join(''));
  });
}

describe.skipIf(!hasVercmp)(
  hasVercmp
    ? 'ecosystems/alpm/version: agrees with pacman vercmp and makepkg'
    : `ecosystems/alpm/version: SKIPPED differential test, ${VERCMP} is absent (apt-get install pacman-package-manager)`,
  () => {
    it('on 2400 generated pairs', async () => {
      const seed = Date.now() ^ (Math.random() * 0x7fffffff);
      const sample = fc.sample(pairs, { numRuns: 2400, seed });
      const chunks = [0, 1, 2, 3].map((k) => sample.filter((_, i) => i % 4 === k));
      const answers = await Promise.all(chunks.map(runOracle));

      const failures: string[] = [];
      let strict = 0;
      for (const [k, chunk] of chunks.entries()) {
        for (const [i, [a, b]] of chunk.entries()) {
          const [expected, validA, validB] = answers[k]![i]!;
          const where = `${JSON.stringify(a)} vs ${JSON.stringify(b)} (seed ${seed})`;
          if (compareAlpmVersionsLenient(a, b) !== expected)
            failures.push(`lenient ${where}: vercmp says ${expected}`);
          if (hasLint) {
            for (const [s, valid] of [
              [a, validA],
              [b, validB],
            ] as const) {
              if ((alpm.checkVersion(s) === null) !== (valid === 0)) {
                failures.push(
                  `validity of ${JSON.stringify(s)}: makepkg says ${valid === 0 ? 'valid' : 'invalid'}`,
                );
              }
            }
          }
          if (alpm.checkVersion(a) === null && alpm.checkVersion(b) === null) {
            strict++;
            if (alpm.compare(a, b) !== expected) failures.push(`compare ${where}: vercmp says ${expected}`);
          }
        }
      }

      expect(failures.slice(0, 20)).toEqual([]);
      expect(strict).toBeGreaterThan(850);
    });
  },
);
