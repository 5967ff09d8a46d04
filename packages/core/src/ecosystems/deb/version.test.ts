import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidVersionError } from '../../errors.js';
import { deb } from './index.js';
import {
  checkDebVersion,
  compareDebVersionRanges,
  compareDebVersions,
  compareDebVersionsByScan,
  parseDebVersion,
} from './version.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../..');
const dataDir = resolve(repoRoot, '../shared/data');
const fixturesDir = resolve(dataDir, 'version-fixtures');
const SEED = Number(process.env.PATCHWARDEN_TEST_SEED ?? Date.now() % 2 ** 31);

const hasDpkg = spawnSync('dpkg', ['--version'], { stdio: 'ignore' }).status === 0;
const hasAptPkg = spawnSync('/usr/bin/python3', ['-c', 'import apt_pkg'], { stdio: 'ignore' }).status === 0;

/** The test title, with why it is skipped appended when `isRunnable` is false. */
function titled(isRunnable: boolean, title: string, whySkipped: string): string {
  return isRunnable ? title : `${title} — skipped: ${whySkipped}`;
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

describe('ecosystems/deb/version: compare', () => {
  it.each`
    a                               | b                            | expected
    ${'1.0'}                        | ${'1.0'}                     | ${0}
    ${'1:1.0-1'}                    | ${'2.0-1'}                   | ${1}
    ${'1.0~rc1-1'}                  | ${'1.0-1'}                   | ${-1}
    ${'1.0~'}                       | ${'1.0'}                     | ${-1}
    ${'1.0~~'}                      | ${'1.0~'}                    | ${-1}
    ${'1.0~~a'}                     | ${'1.0~'}                    | ${-1}
    ${'1.0~'}                       | ${'1.0~a'}                   | ${-1}
    ${'1.0'}                        | ${'1.0a'}                    | ${-1}
    ${'1.0a'}                       | ${'1.0+'}                    | ${-1}
    ${'1.0a'}                       | ${'1.0.'}                    | ${-1}
    ${'1.0+'}                       | ${'1.0.'}                    | ${-1}
    ${'1:1.0:'}                     | ${'1:1.0.'}                  | ${1}
    ${'1.0A'}                       | ${'1.0a'}                    | ${-1}
    ${'1.0Z'}                       | ${'1.0a'}                    | ${-1}
    ${'1.0z'}                       | ${'1.0+'}                    | ${-1}
    ${'1.9'}                        | ${'1.10'}                    | ${-1}
    ${'1.09'}                       | ${'1.9'}                     | ${0}
    ${'1.009'}                      | ${'1.10'}                    | ${-1}
    ${'1.0'}                        | ${'1.0-0'}                   | ${0}
    ${'1.0'}                        | ${'1.0-00'}                  | ${0}
    ${'1.0'}                        | ${'0:1.0'}                   | ${0}
    ${'1.0'}                        | ${'00:1.0'}                  | ${0}
    ${'1.0'}                        | ${' 1.0\t'}                  | ${0}
    ${'9.9'}                        | ${'1:0.1'}                   | ${-1}
    ${'2147483647:1'}               | ${'2147483646:9'}            | ${1}
    ${'1.0-1'}                      | ${'1.0-1.1'}                 | ${-1}
    ${'1.0-1~bpo1'}                 | ${'1.0-1'}                   | ${-1}
    ${'1.2.3-1~deb12u1'}            | ${'1.2.3-1'}                 | ${-1}
    ${'1.2.3-1'}                    | ${'1.2.3-1+deb12u1'}         | ${-1}
    ${'2.7.4-13ubuntu1'}            | ${'2.7.4-13+deb9u1'}         | ${-1}
    ${'1.0-a-b'}                    | ${'1.0-a-c'}                 | ${-1}
    ${'1.0-1'}                      | ${'1.0.1'}                   | ${-1}
    ${'1:2:3'}                      | ${'1:2.3'}                   | ${1}
    ${'9007199254740993'}           | ${'9007199254740992'}        | ${1}
    ${'1.18446744073709551616'}     | ${'1.18446744073709551615'}  | ${1}
    ${'1.000018446744073709551615'} | ${'1.18446744073709551615'}  | ${0}
    ${'1.99999999999999999999'}     | ${'1.100000000000000000000'} | ${-1}
    ${'0.0.0-0'}                    | ${'0:0.0.0-a'}               | ${-1}
    ${'2:0.0.44-1'}                 | ${'2:0.0.44-nobin'}          | ${-1}
    ${'3.0.11-1~deb12u2'}           | ${'3.0.11-1~deb12u2+b1'}     | ${-1}
    ${'1:9.18.33-1~deb12u2'}        | ${'1:9.18.28-1~deb12u2'}     | ${1}
    ${'2.38.1-5+b1'}                | ${'2.38.1-5+deb12u1'}        | ${-1}
    ${'1.0+dfsg-1'}                 | ${'1.0-1'}                   | ${1}
    ${'1.0~rc1+dfsg-1'}             | ${'1.0~rc1-1'}               | ${1}
    ${'5.10.0-8-amd64'}             | ${'5.10.0-10-amd64'}         | ${-1}
  `('compare($a, $b) is $expected', ({ a, b, expected }) => {
    expect(sign(deb.compare(a, b))).toBe(expected);
    expect(sign(deb.compare(b, a))).toBe(0 - expected);
  });
});

describe('ecosystems/deb/version: validation', () => {
  it.each`
    input                        | rule
    ${''}                        | ${'empty'}
    ${' \t '}                    | ${'empty'}
    ${'1 .0'}                    | ${'embedded-space'}
    ${'1.0 -1'}                  | ${'embedded-space'}
    ${':1.0'}                    | ${'epoch-empty'}
    ${'a:1.0'}                   | ${'epoch-empty'}
    ${'+:1.0'}                   | ${'epoch-empty'}
    ${'1a:1.0'}                  | ${'epoch-not-numeric'}
    ${'1.0:2'}                   | ${'epoch-not-numeric'}
    ${'1.0-1:2'}                 | ${'epoch-not-numeric'}
    ${'-1:1.0'}                  | ${'epoch-negative'}
    ${'-99999999999999999999:1'} | ${'epoch-negative'}
    ${'2147483648:1.0'}          | ${'epoch-too-big'}
    ${'99999999999999999999:1'}  | ${'epoch-too-big'}
    ${'1:'}                      | ${'nothing-after-colon'}
    ${'1: '}                     | ${'upstream-empty'}
    ${'1.0-'}                    | ${'revision-empty'}
    ${'1:-'}                     | ${'revision-empty'}
    ${'-1'}                      | ${'upstream-empty'}
    ${'1:-1'}                    | ${'upstream-empty'}
    ${'a1.0'}                    | ${'upstream-not-digit'}
    ${'1:~1'}                    | ${'upstream-not-digit'}
    ${'<unknown>'}               | ${'upstream-not-digit'}
    ${'1.0_1'}                   | ${'illegal-character'}
    ${'1.0\n'}                   | ${'illegal-character'}
    ${'1.0é'}                    | ${'illegal-character'}
    ${'1.0-1_1'}                 | ${'illegal-character'}
    ${'1.0-1:1'}                 | ${'epoch-not-numeric'}
    ${'1:1.0-1:1'}               | ${'illegal-character'}
    ${'1:1.0-a\u0000'}           | ${'illegal-character'}
  `('$input breaks $rule', ({ input, rule }) => {
    const error = checkDebVersion(input);

    expect(error).toBeInstanceOf(InvalidVersionError);
    expect(error?.rule).toBe(rule);
    expect(error?.input).toBe(input);
    expect(deb.parseVersion(input)).toBeNull();
    expect(() => compareDebVersions(input, '1.0')).toThrow(InvalidVersionError);
    expect(() => compareDebVersions('1.0', input)).toThrow(InvalidVersionError);
    expect(() => compareDebVersions(input, input)).toThrow(InvalidVersionError);
  });

  it('names the illegal character and where it is', () => {
    expect(checkDebVersion('1.0-a_b')?.message).toBe(
      'deb version "1.0-a_b" is invalid: invalid character in revision number ("_" at offset 5) (illegal-character)',
    );
  });

  it.each`
    input                   | epoch         | upstream     | revision
    ${'1.0'}                | ${0}          | ${'1.0'}     | ${''}
    ${'1:2.30-4+deb12u1'}   | ${1}          | ${'2.30'}    | ${'4+deb12u1'}
    ${'1.0-a-b'}            | ${0}          | ${'1.0-a'}   | ${'b'}
    ${'2:1:2-3'}            | ${2}          | ${'1:2'}     | ${'3'}
    ${'007:1'}              | ${7}          | ${'1'}       | ${''}
    ${'+5:1'}               | ${5}          | ${'1'}       | ${''}
    ${'-0:1'}               | ${0}          | ${'1'}       | ${''}
    ${'\r\v1:1'}            | ${1}          | ${'1'}       | ${''}
    ${' 2147483647:1.0-1 '} | ${2147483647} | ${'1.0'}     | ${'1'}
    ${'1.0~rc1'}            | ${0}          | ${'1.0~rc1'} | ${''}
    ${'0.0.0-00'}           | ${0}          | ${'0.0.0'}   | ${'00'}
  `('parseDebVersion($input)', ({ input, epoch, upstream, revision }) => {
    expect(parseDebVersion(input)).toEqual({ epoch, upstream, revision });
    expect(deb.parseVersion(input)).toEqual({ epoch, upstream, revision });
    expect(deb.checkVersion(input)).toBeNull();
  });

  it('parseDebVersion throws on an invalid version', () => {
    expect(() => parseDebVersion('1.0-')).toThrow(InvalidVersionError);
  });
});

function readFixture(name: string): { a: string; op: string; b: string; line: number }[] {
  const rows: { a: string; op: string; b: string; line: number }[] = [];
  const lines = readFileSync(resolve(fixturesDir, name), 'utf8').split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const match = /^(\S+) ([<=>]) (\S+)$/.exec(line.trim());
    if (match === null) throw new Error(`${name}:${i + 1}: cannot read ${JSON.stringify(line)}`);
    rows.push({ a: match[1]!, op: match[2]!, b: match[3]!, line: i + 1 });
  }
  return rows;
}

describe.each(['debian-versions.txt', 'debian-versions-generated.txt'])(
  'ecosystems/deb/version: shared fixture %s',
  (name) => {
    const isPresent = existsSync(resolve(fixturesDir, name));
    const title = titled(
      isPresent,
      'orders every pair as the fixture says',
      `${name} is not in ../shared/data`,
    );
    it.skipIf(!isPresent)(title, () => {
      const rows = readFixture(name);
      const expected = { '<': -1, '=': 0, '>': 1 } as Record<string, number>;

      const wrong = rows.filter(({ a, op, b }) => sign(deb.compare(a, b)) !== expected[op]);

      expect(rows.length).toBeGreaterThan(20);
      expect(wrong).toEqual([]);
    });
  },
);

// --- Generators biased toward what trips comparators up --------------------------------------

const digits = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 20 }).map(String) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 99999 }).map(String) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('0', '00', '000'), fc.nat(99)).map(([z, n]) => z + n) },
  { weight: 2, arbitrary: fc.bigInt({ min: 2n ** 53n - 3n, max: 2n ** 70n }).map(String) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('0', '1', '9'), minLength: 16, maxLength: 30 }) },
);
const letters = fc.string({
  unit: fc.constantFrom('a', 'b', 'z', 'A', 'Z', 'r', 'c'),
  minLength: 1,
  maxLength: 3,
});
const upstreamToken = fc.oneof(
  { weight: 4, arbitrary: digits },
  { weight: 3, arbitrary: letters },
  { weight: 4, arbitrary: fc.constantFrom('.', '+', '~', '-', ':', '~~', '.~', '+~', '.0') },
);
const revisionToken = fc.oneof(
  { weight: 4, arbitrary: digits },
  { weight: 3, arbitrary: letters },
  { weight: 3, arbitrary: fc.constantFrom('.', '+', '~', '~~', 'deb12u', 'ubuntu', '+b') },
);
const epochText = fc.oneof(
  { weight: 6, arbitrary: fc.constant('') },
  { weight: 3, arbitrary: fc.constantFrom('0:', '1:', '2:', '00:', '01:', '10:') },
  { weight: 1, arbitrary: fc.constantFrom('2147483647:', '2147483646:', '0002147483647:') },
);
const versionText = fc
  .tuple(
    epochText,
    digits,
    fc.array(upstreamToken, { maxLength: 6 }),
    fc.option(fc.array(revisionToken, { minLength: 1, maxLength: 4 }), { nil: undefined }),
  )
  .map(([epoch, head, tokens, revision]) => {
    const text = epoch + head + tokens.join('') + (revision === undefined ? '' : `-${revision.join('')}`);
    // A colon in the upstream version needs an epoch before it.
    return epoch === '' ? text.replaceAll(':', '.') : text;
  });
const mutation = fc.constantFrom(
  (v: string) => v,
  (v: string) => `${v}~`,
  (v: string) => `${v}~~`,
  (v: string) => `${v}a`,
  (v: string) => `${v}.0`,
  (v: string) => `${v}0`,
  (v: string) => `${v}+`,
  (v: string) => `${v}-0`,
  (v: string) => `0:${v}`,
  (v: string) => v.replace(/\d+/, (d) => `00${d}`),
  (v: string) => v.replace(/\d+$/, (d) => String(BigInt(d) + 1n)),
  (v: string) => v.replace(/~/, ''),
  (v: string) => v.slice(0, -1),
);

function realVersions(): string[] {
  const files = [
    '/var/lib/dpkg/status',
    resolve(dataDir, 'inventories/debian12-dpkg-status'),
    resolve(fixturesDir, 'debian-versions-generated.txt'),
  ];
  const versions = new Set<string>();
  for (const file of files.filter((f) => existsSync(f))) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/^Version: (\S+)$|^(\S+) [<=>] (\S+)$/gm)) {
      for (const v of [match[1], match[2], match[3]]) if (v !== undefined) versions.add(v);
    }
  }
  return [...versions].filter((v) => checkDebVersion(v) === null);
}

const real = realVersions();
const someVersion = real.length > 0 ? fc.oneof(versionText, fc.constantFrom(...real)) : versionText;
const versionPair = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(someVersion, someVersion) },
  { weight: 4, arbitrary: fc.tuple(someVersion, mutation).map(([v, f]): [string, string] => [v, f(v)]) },
  {
    weight: 2,
    arbitrary: fc.tuple(someVersion, mutation, mutation).map(([v, f, g]): [string, string] => [f(v), g(v)]),
  },
);

/** `count` pairs that both sides accept, drawn with the run's seed. */
function samplePairs(count: number, seed: number): [string, string][] {
  const pairs = fc.sample(versionPair, { numRuns: count * 2, seed });
  return pairs.filter(([a, b]) => checkDebVersion(a) === null && checkDebVersion(b) === null).slice(0, count);
}

/** The sign of what `f` returns, or what it throws: the input and rule of an InvalidVersionError. */
function outcome(f: () => number): number | string {
  try {
    return sign(f());
  } catch (error) {
    return error instanceof InvalidVersionError
      ? `${error.input} ${error.rule} ${error.message}`
      : String(error);
  }
}

/** A plain reading of deb-version(7), with BigInt for digit runs: an independent oracle. */
function modelCompare(a: string, b: string): number {
  const split = (v: string) => {
    const t = v.trim();
    const colon = t.indexOf(':');
    const epoch = colon < 0 ? 0n : BigInt(t.slice(0, colon));
    const rest = t.slice(colon + 1);
    const hyphen = rest.lastIndexOf('-');
    return hyphen < 0
      ? { epoch, up: rest, rev: '' }
      : { epoch, up: rest.slice(0, hyphen), rev: rest.slice(hyphen + 1) };
  };
  const weight = (c: string | undefined) =>
    c === undefined ? 0 : c === '~' ? -1 : /[A-Za-z]/.test(c) ? c.charCodeAt(0) : c.charCodeAt(0) + 256;
  const part = (x: string, y: string): number => {
    const xs: string[] = x.match(/\D+|\d+/g) ?? [];
    const ys: string[] = y.match(/\D+|\d+/g) ?? [];
    // Make both start with a (possibly empty) non-digit run, so that runs line up.
    if (/^\d/.test(x)) xs.unshift('');
    if (/^\d/.test(y)) ys.unshift('');
    for (let i = 0; i < Math.max(xs.length, ys.length); i++) {
      const p = xs[i] ?? '';
      const q = ys[i] ?? '';
      if (i % 2 === 0) {
        for (let j = 0; j < Math.max(p.length, q.length); j++) {
          const d = weight(p[j]) - weight(q[j]);
          if (d !== 0) return sign(d);
        }
      } else {
        const d = BigInt(p || '0') - BigInt(q || '0');
        if (d !== 0n) return d < 0n ? -1 : 1;
      }
    }
    return 0;
  };
  const x = split(a);
  const y = split(b);
  if (x.epoch !== y.epoch) return x.epoch < y.epoch ? -1 : 1;
  return part(x.up, y.up) || part(x.rev, y.rev);
}

describe('ecosystems/deb/version: properties', () => {
  it('agrees with an independent BigInt model of deb-version(7)', () => {
    fc.assert(
      fc.property(versionPair, ([a, b]) => {
        fc.pre(checkDebVersion(a) === null && checkDebVersion(b) === null);
        expect(sign(compareDebVersions(a, b))).toBe(modelCompare(a, b));
      }),
      { numRuns: 5000, seed: SEED },
    );
  });

  it('gives the same answer, or the same error, on its fast path and by plain scanning', () => {
    const noisy = fc.oneof(
      someVersion,
      fc
        .tuple(
          someVersion,
          fc.constantFrom(' ', '\t', '_', ':', '-', 'é', '\n', '+', '01:', '-1:', '12345678901:'),
          fc.nat(),
        )
        .map(([v, x, at]) => {
          const k = at % (v.length + 1);
          return v.slice(0, k) + x + v.slice(k);
        }),
    );
    fc.assert(
      fc.property(noisy, noisy, (a, b) => {
        expect(outcome(() => compareDebVersions(a, b))).toBe(outcome(() => compareDebVersionsByScan(a, b)));
      }),
      { numRuns: 20000, seed: SEED },
    );
  });

  it('gives the same answer, or the same error, on its fast path and by plain scanning for versions that share a prefix', () => {
    // The fast path starts comparing where the two strings part: these pairs part anywhere, in the
    // epoch, the upstream or the revision, before or after the last hyphen of either.
    const edit = fc.oneof(
      fc.constantFrom(
        '0',
        '9',
        '00',
        '~',
        '+',
        '.',
        'a',
        'Z',
        '-',
        '-0',
        ':',
        '0:',
        '1:',
        '01:',
        ' ',
        '_',
        'é',
      ),
      fc.constant(''),
    );
    const near = fc
      .tuple(someVersion, fc.nat(), fc.nat(), edit, edit)
      .map(([v, at, cut, x, y]): [string, string] => {
        const k = at % (v.length + 1);
        const tail = v.slice(k);
        const keep = cut % (tail.length + 1);
        return [v.slice(0, k) + x + tail, v.slice(0, k) + y + tail.slice(keep)];
      });
    const pair = fc.oneof(
      near,
      versionPair,
      fc
        .tuple(someVersion, fc.constantFrom('0:', '00:', '1:', '01:'))
        .map(([v, e]): [string, string] => [v, e + v]),
    );
    fc.assert(
      fc.property(pair, ([a, b]) => {
        expect(outcome(() => compareDebVersions(a, b))).toBe(outcome(() => compareDebVersionsByScan(a, b)));
        expect(outcome(() => compareDebVersions(b, a))).toBe(outcome(() => compareDebVersionsByScan(b, a)));
      }),
      { numRuns: 20000, seed: SEED },
    );
  });

  it('compares ranges of strings as it compares the strings they hold, errors included', () => {
    const pad = fc.string({
      unit: fc.constantFrom('1', '.', '-', ':', '~', 'a', ' ', '\t', 'é'),
      maxLength: 4,
    });
    const noisy = fc.oneof(
      versionPair,
      fc
        .tuple(versionPair, fc.constantFrom('a', '~', ' ', ':', '-', 'é', '0:'))
        .map(([[a, b], x]): [string, string] => [a, x + b]),
      fc.tuple(someVersion, fc.constantFrom('', ' ', '-', ':', '_', 'é', '1.0-')),
    );
    fc.assert(
      fc.property(noisy, pad, pad, pad, pad, ([a, b], p, q, r, t) => {
        const text = `${p}${a}${q}${b}${r}`;
        const other = `${t}${b}`;
        const expected = outcome(() => compareDebVersions(a, b));
        // Both in one string, as a batch holds them; and in two strings.
        const inOne = outcome(() =>
          compareDebVersionRanges(
            text,
            p.length,
            p.length + a.length,
            text,
            p.length + a.length + q.length,
            text.length - r.length,
          ),
        );
        const inTwo = outcome(() =>
          compareDebVersionRanges(text, p.length, p.length + a.length, other, t.length, other.length),
        );
        expect(inOne).toBe(expected);
        expect(inTwo).toBe(expected);
      }),
      { numRuns: 5000, seed: SEED },
    );
    expect(() => compareDebVersionRanges('x1.0-a_by', 1, 8, '1.0', 0, 3)).toThrow(
      'deb version "1.0-a_b" is invalid: invalid character in revision number ("_" at offset 5) (illegal-character)',
    );
  });

  it.each`
    aStart | aEnd   | bStart | bEnd
    ${-1}  | ${3}   | ${0}   | ${3}
    ${2}   | ${1}   | ${0}   | ${3}
    ${0}   | ${4}   | ${0}   | ${3}
    ${0}   | ${3}   | ${0}   | ${4}
    ${0}   | ${3}   | ${3}   | ${2}
    ${NaN} | ${3}   | ${0}   | ${3}
    ${0}   | ${NaN} | ${0}   | ${3}
  `(
    'rejects the range [$aStart, $aEnd) or [$bStart, $bEnd) of "1.0" with a RangeError',
    ({ aStart, aEnd, bStart, bEnd }) => {
      expect(() => compareDebVersionRanges('1.0', aStart, aEnd, '1.0', bStart, bEnd)).toThrow(RangeError);
    },
  );

  it('is antisymmetric and reflexive', () => {
    fc.assert(
      fc.property(versionPair, ([a, b]) => {
        fc.pre(checkDebVersion(a) === null && checkDebVersion(b) === null);
        expect(sign(compareDebVersions(a, b))).toBe(0 - sign(compareDebVersions(b, a)));
        expect(compareDebVersions(a, a)).toBe(0);
        expect(compareDebVersions(a, ` ${a}\t`)).toBe(0);
      }),
      { numRuns: 3000, seed: SEED },
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(fc.array(someVersion, { minLength: 3, maxLength: 12 }), (versions) => {
        const valid = versions.filter((v) => checkDebVersion(v) === null);
        const sorted = [...valid].sort(compareDebVersions);
        for (let i = 0; i < sorted.length; i++) {
          for (let j = i + 1; j < sorted.length; j++) {
            expect(compareDebVersions(sorted[i]!, sorted[j]!)).toBeLessThanOrEqual(0);
          }
        }
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  it('orders digit runs numerically at any length, ignoring leading zeros', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 40n }),
        fc.bigInt({ min: 0n, max: 10n ** 40n }),
        fc.nat(3),
        (x, y, zeros) => {
          const expected = x < y ? -1 : x > y ? 1 : 0;
          expect(compareDebVersions(`1.${'0'.repeat(zeros)}${x}`, `1.${y}`)).toBe(expected);
          const epoch = x % 2147483648n;
          expect(compareDebVersions(`${epoch}:1`, '2147483647:1')).toBe(epoch < 2147483647n ? -1 : 0);
        },
      ),
      { numRuns: 2000, seed: SEED },
    );
  });

  it('treats a missing epoch as 0 and a missing revision as 0', () => {
    fc.assert(
      fc.property(versionText, (v) => {
        fc.pre(checkDebVersion(v) === null && !v.includes(':') && !v.includes('-'));
        expect(compareDebVersions(v, `0:${v}`)).toBe(0);
        expect(compareDebVersions(v, `${v}-0`)).toBe(0);
        expect(compareDebVersions(v, `${v}~`)).toBe(1);
      }),
      { numRuns: 2000, seed: SEED },
    );
  });
});

// --- Differential tests against the real tools ------------------------------------------------

/** Runs `script` in bash over `items` (NUL-separated on stdin) in parallel chunks; joins stdout. */
async function runBashChunks(script: string, items: string[][]): Promise<string[]> {
  const jobs = Math.max(2, Math.min(8, availableParallelism()));
  const size = Math.ceil(items.length / jobs);
  const chunks: string[][][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  const outputs = await Promise.all(
    chunks.map(
      (chunk) =>
        new Promise<string>((done, fail) => {
          const child = spawn('bash', ['-c', script], { env: { ...process.env, LC_ALL: 'C' } });
          let out = '';
          child.stdout.setEncoding('utf8').on('data', (d: string) => {
            out += d;
          });
          child.stderr.setEncoding('utf8').on('data', (d: string) => {
            out += d;
          });
          child.on('error', fail);
          child.on('close', () => done(out));
          child.stdin.end(chunk.map((fields) => fields.map((f) => `${f}\0`).join('')).join(''));
        }),
    ),
  );
  return outputs;
}

const DPKG_COMPARE = `
while IFS= read -r -d '' a && IFS= read -r -d '' b; do
  if dpkg --compare-versions -- "$a" lt "$b"; then r=-1
  elif dpkg --compare-versions -- "$a" eq "$b"; then r=0
  else r=1; fi
  printf '%s\\n' "$r"
done`;

const DPKG_CHECK = `
while IFS= read -r -d '' s; do
  dpkg --compare-versions -- "$s" eq "$s" 2>&1
  printf '\\037%d\\036' "$?"
done`;

const DPKG_MESSAGES: Record<string, string> = {
  'version string is empty': 'empty',
  'version string has embedded spaces': 'embedded-space',
  'epoch in version is empty': 'epoch-empty',
  'epoch in version is not number': 'epoch-not-numeric',
  'epoch in version is negative': 'epoch-negative',
  'epoch in version is too big': 'epoch-too-big',
  'nothing after colon in version number': 'nothing-after-colon',
  'revision number is empty': 'revision-empty',
  'version number is empty': 'upstream-empty',
  'version number does not start with digit': 'upstream-not-digit',
  'invalid character in version number': 'illegal-character',
  'invalid character in revision number': 'illegal-character',
};
const DPKG_WARNS_ONLY = new Set(['upstream-not-digit', 'illegal-character']);

describe.skipIf(!hasDpkg)(
  titled(hasDpkg, 'ecosystems/deb/version: against dpkg --compare-versions', 'no dpkg'),
  () => {
    it('orders 2500 generated pairs as dpkg does', async () => {
      const pairs = samplePairs(2500, SEED);

      const output = (await runBashChunks(DPKG_COMPARE, pairs)).join('');

      const results = output.trim().split('\n');
      expect(results).toHaveLength(pairs.length);
      const wrong = pairs
        .map(([a, b], i) => ({ a, b, dpkg: Number(results[i]), ours: sign(compareDebVersions(a, b)) }))
        .filter((r) => r.dpkg !== r.ours);
      expect(wrong.slice(0, 10), `seed ${SEED}: ${wrong.length} of ${pairs.length} differ`).toEqual([]);
    });

    it('accepts, warns about and rejects the same strings as dpkg, for the same reason', async () => {
      const alphabet = [
        ...'0123456789019.:-+~ ',
        'a',
        'Z',
        '\t',
        '\n',
        '\r',
        '\v',
        '_',
        '!',
        '/',
        'é',
        '00',
        '2147483648',
        '99999999999999999999',
      ];
      const strings = fc
        .sample(
          fc.oneof(
            fc.string({ unit: fc.constantFrom(...alphabet), minLength: 1, maxLength: 10 }),
            fc
              .tuple(fc.constantFrom('-0:', '+1:', '-1:', '2147483647:', '\v1:', ' -', ''), versionText)
              .map(([p, v]) => p + v),
          ),
          { numRuns: 1200, seed: SEED },
        )
        .filter((s) => s !== '' && s !== '<unknown>');

      const output = (
        await runBashChunks(
          DPKG_CHECK,
          strings.map((s) => [s]),
        )
      ).join('');

      const records = output.split('\x1e').slice(0, -1);
      expect(records).toHaveLength(strings.length);
      const wrong = [];
      for (const [i, record] of records.entries()) {
        const input = strings[i]!;
        const sep = record.lastIndexOf('\x1f');
        const messages = record.slice(0, sep);
        const exitCode = Number(record.slice(sep + 1));
        const found = /has bad syntax: ([^\n]*)\n/.exec(
          messages.slice(messages.lastIndexOf('has bad syntax: ')),
        );
        const dpkgRule = found === null ? null : (DPKG_MESSAGES[found[1]!] ?? `unknown: ${found[1]}`);
        const dpkgKind = exitCode === 2 ? 'error' : dpkgRule === null ? 'ok' : 'warning';
        const ours = checkDebVersion(input)?.rule ?? null;
        const ourKind = ours === null ? 'ok' : DPKG_WARNS_ONLY.has(ours) ? 'warning' : 'error';
        if (ours !== dpkgRule || ourKind !== dpkgKind)
          wrong.push({ input, ours, dpkgRule, dpkgKind, exitCode });
      }
      expect(wrong.slice(0, 10), `seed ${SEED}: ${wrong.length} of ${strings.length} differ`).toEqual([]);
    });
  },
);

const APT_PKG_LOOP = `
import sys, apt_pkg
apt_pkg.init_system()
out = []
for line in sys.stdin.read().split('\\n'):
    if line:
        a, b = line.split('\\t')
        r = apt_pkg.version_compare(a, b)
        out.append('-1' if r < 0 else '1' if r > 0 else '0')
sys.stdout.write('\\n'.join(out) + '\\n')
`;

describe.skipIf(!hasAptPkg)(
  titled(
    hasAptPkg,
    'ecosystems/deb/version: against python3-apt apt_pkg.version_compare',
    '/usr/bin/python3 cannot import apt_pkg (python3-apt)',
  ),
  () => {
    it('orders 20000 generated and real pairs as apt_pkg does', async () => {
      const pairs = samplePairs(20000, SEED + 1).map(([a, b]): [string, string] => [a.trim(), b.trim()]);

      const output = await new Promise<string>((done, fail) => {
        const child = spawn('/usr/bin/python3', ['-c', APT_PKG_LOOP]);
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d;
        });
        child.stderr.pipe(process.stderr);
        child.on('error', fail);
        child.on('close', (code) => (code === 0 ? done(out) : fail(new Error(`python3 exited ${code}`))));
        child.stdin.end(pairs.map(([a, b]) => `${a}\t${b}\n`).join(''));
      });

      const results = output.trim().split('\n');
      expect(results).toHaveLength(pairs.length);
      const wrong = pairs
        .map(([a, b], i) => ({ a, b, apt: Number(results[i]), ours: sign(compareDebVersions(a, b)) }))
        .filter((r) => r.apt !== r.ours);
      expect(wrong.slice(0, 10), `seed ${SEED}: ${wrong.length} of ${pairs.length} differ`).toEqual([]);
    });
  },
);
