import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidVersionError } from '../../errors.js';
import { rpm } from './index.js';
import { compareRpmVersionsLenient, parseRpmEvr, rpmvercmp } from './version.js';

const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));
const FIXTURES = resolve(REPO_ROOT, '../shared/data/version-fixtures/redhat-versions.txt');
const PYTHON = '/usr/bin/python3';

// ---------------------------------------------------------------------------------------------
// Generators, biased toward what breaks comparators: `~ ^ . _ + : -`, letter/digit switches,
// leading zeros and digit runs far beyond 2^53.

const digits = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('0', '1', '2', '9', '10', '00', '01', '007', '99', '100') },
  { weight: 3, arbitrary: fc.stringMatching(/^[0-9]{1,4}$/) },
  { weight: 2, arbitrary: fc.stringMatching(/^0{0,3}[1-9][0-9]{15,30}$/) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '9007199254740992',
      '9007199254740993',
      '18446744073709551615',
      '18446744073709551616',
      '0000000000000000000009007199254740993',
    ),
  },
);
const letters = fc.oneof(
  fc.constantFrom(
    'a',
    'b',
    'z',
    'A',
    'Z',
    'rc',
    'alpha',
    'beta',
    'pre',
    'git',
    'el',
    'fc',
    'p',
    'module',
    'post',
  ),
  fc.stringMatching(/^[a-zA-Z]{1,3}$/),
);
/** Characters rpmbuild allows inside Version and Release besides alnum. */
const verrelSeparator = fc.constantFrom('.', '.', '.', '_', '+', '~', '^', '~', '^', '%', '{', '}');
/** Anything rpmvercmp treats as a separator, and characters no valid EVR contains. */
const anySeparator = fc.constantFrom(
  '.',
  '_',
  '+',
  '~',
  '^',
  '-',
  ':',
  '/',
  '#',
  ' ',
  '..',
  '~~',
  '^^',
  '~^',
  'α',
  '€',
);

function joined(parts: fc.Arbitrary<string>, maxLength: number): fc.Arbitrary<string> {
  return fc.array(parts, { minLength: 1, maxLength }).map((xs) => xs.join(''));
}

/** A version or release rpmbuild would accept: no `..`, not empty. */
const verrel = joined(fc.oneof(digits, letters, verrelSeparator), 8).map((s) => s.replace(/\.{2,}/g, '.'));
const epoch = fc.oneof(
  fc.constantFrom('0', '1', '2', '00', '01', '10', '4294967295'),
  fc.integer({ min: 0, max: 0xffffffff }).map(String),
);
const validEvr = fc
  .tuple(fc.option(epoch, { freq: 3 }), verrel, fc.option(verrel, { freq: 4 }))
  .map(([e, v, r]) => `${e === null ? '' : `${e}:`}${v}${r === null ? '' : `-${r}`}`);
/** Any string of the tricky pieces, valid or not. */
const rawEvr = joined(fc.oneof(digits, letters, anySeparator), 10);

/** Pairs that share a prefix, so the comparison has to go deep. */
function sharedPrefixPairs(
  arb: fc.Arbitrary<string>,
  tail: fc.Arbitrary<string>,
): fc.Arbitrary<[string, string]> {
  return fc.tuple(arb, tail, tail).map(([p, x, y]) => [p + x, p + y] as [string, string]);
}

/** Pairs that rpm should find equal or nearly so: leading zeros added, separators swapped. */
const nearlyEqualPairs = validEvr.chain((a) =>
  fc
    .constantFrom(
      (s: string) => s.replace(/\d+/g, (m) => `0${m}`),
      (s: string) => s.replace(/\./g, '_'),
      (s: string) => s.replace(/\+/g, '.'),
      (s: string) => `${s}~`,
      (s: string) => `${s}^`,
      (s: string) => `${s}.0`,
      (s: string) => s.replace(/^(\d+):/, ''),
      (s: string) => (s.includes(':') ? s : `0:${s}`),
      (s: string) => s.replace(/-.*$/, ''),
    )
    .map((f) => [a, f(a)] as [string, string]),
);

const pairs = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: fc.tuple(validEvr, validEvr) },
      {
        weight: 4,
        arbitrary: sharedPrefixPairs(
          validEvr,
          fc.oneof(
            verrel,
            validEvr.map((s) => `-${s}`),
          ),
        ),
      },
      { weight: 2, arbitrary: nearlyEqualPairs },
      { weight: 2, arbitrary: fc.tuple(rawEvr, rawEvr) },
      { weight: 2, arbitrary: sharedPrefixPairs(rawEvr, rawEvr) },
    ),
    fc.boolean(),
  )
  .map(([[a, b], swap]) => (swap ? [b, a] : [a, b]) as [string, string]);

// ---------------------------------------------------------------------------------------------

describe('ecosystems/rpm/version: rpmvercmp', () => {
  it.each`
    a                                   | b                                  | expected
    ${'1.0'}                            | ${'1.0'}                           | ${0}
    ${'1.0'}                            | ${'2.0'}                           | ${-1}
    ${'2.0.1'}                          | ${'2.0'}                           | ${1}
    ${'2.0.1a'}                         | ${'2.0.1'}                         | ${1}
    ${'5.5p1'}                          | ${'5.5p10'}                        | ${-1}
    ${'10xyz'}                          | ${'10.1xyz'}                       | ${-1}
    ${'xyz.4'}                          | ${'8'}                             | ${-1}
    ${'6.0.rc1'}                        | ${'6.0'}                           | ${1}
    ${'1.0a'}                           | ${'1.0aa'}                         | ${-1}
    ${'10.0001'}                        | ${'10.1'}                          | ${0}
    ${'2_0'}                            | ${'2.0'}                           | ${0}
    ${'+'}                              | ${'_'}                             | ${0}
    ${'1.0'}                            | ${'1.0.'}                          | ${0}
    ${'1.0'}                            | ${'1..0'}                          | ${0}
    ${'1.0~rc1'}                        | ${'1.0'}                           | ${-1}
    ${'1.0~rc1'}                        | ${'1.0~rc2'}                       | ${-1}
    ${'1.0~rc1~git123'}                 | ${'1.0~rc1'}                       | ${-1}
    ${'1.0~rc1'}                        | ${'1.0arc1'}                       | ${-1}
    ${'1.0~'}                           | ${'1.0'}                           | ${-1}
    ${'~'}                              | ${''}                              | ${-1}
    ${'1.0^'}                           | ${'1.0'}                           | ${1}
    ${'1.0^git1'}                       | ${'1.01'}                          | ${-1}
    ${'1.0^20160101'}                   | ${'1.0.1'}                         | ${-1}
    ${'1.0^git1~pre'}                   | ${'1.0^git1'}                      | ${-1}
    ${'1.0~rc1^git1'}                   | ${'1.0~rc1'}                       | ${1}
    ${'1.0^'}                           | ${'1.0~'}                          | ${1}
    ${'1a'}                             | ${'1.a'}                           | ${0}
    ${'a'}                              | ${'1'}                             | ${-1}
    ${'1'}                              | ${'a'}                             | ${1}
    ${'A'}                              | ${'a'}                             | ${-1}
    ${'1.α'}                            | ${'1.β'}                           | ${0}
    ${'9007199254740993'}               | ${'9007199254740992'}              | ${1}
    ${'000000000000000001'}             | ${'1'}                             | ${0}
    ${'18446744073709551616'}           | ${'18446744073709551615'}          | ${1}
    ${'123456789012345678901234567890'} | ${'99999999999999999999999999999'} | ${1}
    ${'00'}                             | ${'0'}                             | ${0}
    ${''}                               | ${''}                              | ${0}
    ${''}                               | ${'.'}                             | ${0}
    ${'a'}                              | ${''}                              | ${1}
  `('rpmvercmp($a, $b) is $expected', ({ a, b, expected }) => {
    expect(rpmvercmp(a, b)).toBe(expected);
    expect(rpmvercmp(b, a)).toBe(-expected || 0);
  });
});

describe('ecosystems/rpm/version: EVR order (rpm.labelCompare)', () => {
  it.each`
    a                           | b                           | expected
    ${'1.0-1'}                  | ${'1.0-2'}                  | ${-1}
    ${'1:0.9-1'}                | ${'2.0-1'}                  | ${1}
    ${'0:1.0-1'}                | ${'1.0-1'}                  | ${0}
    ${'00:1.0-1'}               | ${'0:1.0-1'}                | ${0}
    ${'01:2'}                   | ${'1:2'}                    | ${0}
    ${'13:5'}                   | ${'004:2'}                  | ${1}
    ${'1.0'}                    | ${'1.0-1'}                  | ${-1}
    ${'1.0'}                    | ${'1.0-0'}                  | ${-1}
    ${'1.0-1'}                  | ${'1.0-1.'}                 | ${0}
    ${'1-123'}                  | ${'1-1.el7'}                | ${1}
    ${'1:2.06-27.el9_0.7.alma'} | ${'1:2.06-27.el9_0.7'}      | ${1}
    ${'0:3.10.0-229.el7'}       | ${'0:3.10.0-229.1.2.ael7b'} | ${-1}
    ${'5.14.0-611.54.6.el9_7'}  | ${'5.14.0-611.5.1.el9_7'}   | ${1}
    ${'1.0~rc1-1'}              | ${'1.0-0'}                  | ${-1}
    ${'1.0-1~'}                 | ${'1.0-1'}                  | ${-1}
    ${'1.0-1^x'}                | ${'1.0-1'}                  | ${1}
    ${'4294967295:1'}           | ${'4294967294:9'}           | ${1}
    ${'1.0-1%{dist}'}           | ${'1.0-1'}                  | ${1}
  `('compare($a, $b) is $expected', ({ a, b, expected }) => {
    expect(rpm.compare(a, b)).toBe(expected);
    expect(rpm.compare(b, a)).toBe(-expected || 0);
  });

  it.each`
    input              | rule
    ${''}              | ${'empty'}
    ${'a:1'}           | ${'epoch-not-numeric'}
    ${'1-2:3'}         | ${'epoch-not-numeric'}
    ${' 1:1'}          | ${'illegal-character'}
    ${':1'}            | ${'epoch-empty'}
    ${'4294967296:1'}  | ${'epoch-too-big'}
    ${'99999999999:1'} | ${'epoch-too-big'}
    ${'1:'}            | ${'version-empty'}
    ${'1:-1'}          | ${'version-empty'}
    ${'-1'}            | ${'version-empty'}
    ${'1.0-'}          | ${'release-empty'}
    ${'1:2:3'}         | ${'double-separator'}
    ${'1-2-3'}         | ${'double-separator'}
    ${'1..0'}          | ${'double-dot'}
    ${'1.0-1..el9'}    | ${'double-dot'}
    ${'1.0 '}          | ${'illegal-character'}
    ${'1.0/2'}         | ${'illegal-character'}
    ${'1,0'}           | ${'illegal-character'}
    ${'1.1.α'}         | ${'illegal-character'}
    ${'1.0\u0000'}     | ${'illegal-character'}
  `('$input is invalid ($rule)', ({ input, rule }) => {
    const error = rpm.checkVersion(input);

    expect(error).toBeInstanceOf(InvalidVersionError);
    expect(error?.rule).toBe(rule);
    expect(error?.input).toBe(input);
    expect(error?.message).toContain(JSON.stringify(input));
    expect(rpm.parseVersion(input)).toBeNull();
    expect(() => rpm.compare(input, '1.0')).toThrow(InvalidVersionError);
    expect(() => rpm.compare('1.0', input)).toThrow(InvalidVersionError);
    expect(() => parseRpmEvr(input)).toThrow(InvalidVersionError);
  });

  it.each`
    input                           | epoch         | version          | release
    ${'1.0'}                        | ${0}          | ${'1.0'}         | ${null}
    ${'1.0-1.el9'}                  | ${0}          | ${'1.0'}         | ${'1.el9'}
    ${'2:3.0.7-27.el9'}             | ${2}          | ${'3.0.7'}       | ${'27.el9'}
    ${'007:1'}                      | ${7}          | ${'1'}           | ${null}
    ${'4294967295:1.0~rc1^git-0.1'} | ${4294967295} | ${'1.0~rc1^git'} | ${'0.1'}
    ${'0:+-_'}                      | ${0}          | ${'+'}           | ${'_'}
  `('parseRpmEvr($input)', ({ input, epoch, version, release }) => {
    expect(parseRpmEvr(input)).toEqual({ epoch, version, release });
    expect(rpm.parseVersion(input)).toEqual({ epoch, version, release });
    expect(rpm.checkVersion(input)).toBeNull();
  });
});

describe.skipIf(!existsSync(FIXTURES))(
  `ecosystems/rpm/version: ${existsSync(FIXTURES) ? 'redhat-versions.txt' : `SKIPPED, ${FIXTURES} is absent`}`,
  () => {
    it('orders every line of the rpmvercmp fixture (strictly where valid, leniently where not)', () => {
      const lines = readFileSync(FIXTURES, 'utf8').split('\n');
      const failures: string[] = [];
      let strict = 0;
      let lenient = 0;
      for (const [index, line] of lines.entries()) {
        if (line.trim() === '' || line.startsWith('#')) continue;
        const [a, op, b, ...rest] = line.split(' ');
        if (a === undefined || b === undefined || rest.length > 0)
          throw new Error(`line ${index + 1}: ${line}`);
        const expected = op === '<' ? -1 : op === '>' ? 1 : op === '=' ? 0 : Number.NaN;
        let actual: number;
        if (rpm.checkVersion(a) === null && rpm.checkVersion(b) === null) {
          actual = rpm.compare(a, b);
          strict++;
        } else {
          actual = compareRpmVersionsLenient(a, b);
          lenient++;
        }
        if (actual !== expected) failures.push(`line ${index + 1}: ${line} (got ${actual})`);
      }

      expect(failures).toEqual([]);
      expect(strict).toBeGreaterThan(120);
      expect(lenient).toBeGreaterThan(0);
    });
  },
);

describe('ecosystems/rpm/version: properties', () => {
  it('compare is antisymmetric and reflexive', () => {
    fc.assert(
      fc.property(validEvr, validEvr, (a, b) => {
        expect(rpm.compare(a, b)).toBe(-rpm.compare(b, a) || 0);
        expect(rpm.compare(a, a)).toBe(0);
      }),
      { numRuns: 3000 },
    );
  });

  it('compare is transitive', () => {
    fc.assert(
      fc.property(validEvr, validEvr, validEvr, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(rpm.compare) as [string, string, string];
        expect(rpm.compare(x, y)).toBeLessThanOrEqual(0);
        expect(rpm.compare(y, z)).toBeLessThanOrEqual(0);
        expect(rpm.compare(x, z)).toBeLessThanOrEqual(0);
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
        (x, y, zeros) => {
          const expected = x < y ? -1 : x > y ? 1 : 0;
          expect(rpmvercmp(`${'0'.repeat(zeros)}${x}`, `${y}`)).toBe(expected);
          expect(rpm.compare(`1.${x}-1`, `1.${'0'.repeat(zeros)}${y}-1`)).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('the strict and the lenient comparison agree on valid EVRs; parseVersion round-trips', () => {
    fc.assert(
      fc.property(validEvr, validEvr, (a, b) => {
        expect(compareRpmVersionsLenient(a, b)).toBe(rpm.compare(a, b));
        const parsed = parseRpmEvr(a);
        const rebuilt = `${parsed.epoch}:${parsed.version}${parsed.release === null ? '' : `-${parsed.release}`}`;
        expect(rpm.compare(rebuilt, a)).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('checkVersion never throws and agrees with parseVersion', () => {
    fc.assert(
      fc.property(fc.oneof(rawEvr, validEvr, fc.string({ unit: 'binary', maxLength: 12 })), (s) => {
        const error = rpm.checkVersion(s);
        expect(error === null).toBe(rpm.parseVersion(s) !== null);
      }),
      { numRuns: 1000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Differential test against rpm itself, through python3-rpm (one process for every pair).

/**
 * For each JSON line [a, b]: labelCompare of the rpm.ver() splits (null when rpm rejects them),
 * rpmvercmp(a, b) (labelCompare of equal epochs and no releases; null for an empty string), and
 * both splits.
 */
const LABEL_COMPARE_SCRIPT = `
import json, sys, rpm
def split(s):
    if s == '':
        return None
    v = rpm.ver(s)
    return [v.e, v.v, v.r]
out = []
for line in sys.stdin:
    a, b = json.loads(line)
    sa, sb = split(a), split(b)
    try:
        label = rpm.labelCompare(tuple(sa), tuple(sb))
    except (TypeError, ValueError):  # '' has no split; labelCompare rejects an empty version
        label = None
    try:
        seg = rpm.labelCompare(('0', a, None), ('0', b, None))
    except ValueError:
        seg = None
    out.append(json.dumps([label, seg, sa, sb]))
sys.stdout.write('\\n'.join(out) + '\\n')
`;

const hasPythonRpm = spawnSync(PYTHON, ['-c', 'import rpm'], { stdio: 'ignore' }).status === 0;

type RpmSplit = [string | null, string, string | null];

function runLabelCompare(
  input: [string, string][],
): [number | null, number | null, RpmSplit | null, RpmSplit | null][] {
  const result = spawnSync(PYTHON, ['-c', LABEL_COMPARE_SCRIPT], {
    input: `${input.map((p) => JSON.stringify(p)).join('\n')}\n`,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`python3-rpm failed: ${result.stderr}`);
  return result.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe.skipIf(!hasPythonRpm)(
  hasPythonRpm
    ? 'ecosystems/rpm/version: agrees with python3-rpm (rpm.labelCompare, rpm.ver)'
    : `ecosystems/rpm/version: SKIPPED differential test, ${PYTHON} cannot import rpm (apt-get install python3-rpm)`,
  () => {
    it('on 6000 generated pairs, strict where valid and lenient everywhere', () => {
      const seed = Date.now() ^ (Math.random() * 0x7fffffff);
      const sample = fc.sample(pairs, { numRuns: 6000, seed });
      const answers = runLabelCompare(sample);
      const failures: string[] = [];
      let strict = 0;
      for (const [i, [a, b]] of sample.entries()) {
        const [label, seg, splitA] = answers[i]!;
        const where = `${JSON.stringify(a)} vs ${JSON.stringify(b)} (seed ${seed})`;
        if (seg !== null && rpmvercmp(a, b) !== seg) failures.push(`rpmvercmp ${where}: rpm says ${seg}`);
        if (label === null) continue;
        if (compareRpmVersionsLenient(a, b) !== label) failures.push(`lenient ${where}: rpm says ${label}`);
        const parsed = rpm.parseVersion(a);
        if (parsed !== null) {
          const rpmSplit = [splitA![0] ?? '0', splitA![1], splitA![2]];
          const ours = [String(parsed.epoch), parsed.version, parsed.release];
          if (Number(rpmSplit[0]) !== parsed.epoch || ours[1] !== rpmSplit[1] || ours[2] !== rpmSplit[2]) {
            failures.push(`split of ${JSON.stringify(a)}: rpm.ver gives ${JSON.stringify(splitA)}`);
          }
        }
        if (rpm.checkVersion(a) === null && rpm.checkVersion(b) === null) {
          strict++;
          if (rpm.compare(a, b) !== label) failures.push(`compare ${where}: rpm says ${label}`);
        }
      }

      expect(failures.slice(0, 20)).toEqual([]);
      expect(strict).toBeGreaterThan(2500);
    });

    it('on the comparison table above and fixture-style corner cases', () => {
      const corner: [string, string][] = [
        ['1.0', '1.0-'],
        ['1-', '1'],
        ['a:1', 'b:1'],
        [':1', '0:1'],
        ['1:', '1:0'],
        ['-1', '0-1'],
        ['1.0^', '1.0~'],
        ['~', '^'],
        ['^', ''],
        ['1.0', '1.0^^'],
        ['1.0~~', '1.0~'],
        ['+2-:1', '+1-:1'],
        ['1.m+e2:1', '4.m+e1:1'],
      ];
      const answers = runLabelCompare(corner);

      for (const [i, [a, b]] of corner.entries()) {
        const [label, seg] = answers[i]!;
        if (seg !== null) expect(rpmvercmp(a, b), `${a} vs ${b}`).toBe(seg);
        if (label !== null) expect(compareRpmVersionsLenient(a, b), `${a} vs ${b}`).toBe(label);
      }
    });
  },
);

// ---------------------------------------------------------------------------------------------
// Validity against rpmbuild's own dependency parser: `Requires: foo = EVR` in a spec read by
// rpmspec. Our rules add the tag rules (non-empty epoch, version, release; epoch <= 2^32-1).

const execFileAsync = promisify(execFile);
const hasRpmspec = spawnSync('rpmspec', ['--version'], { stdio: 'ignore' }).status === 0;
const TAG_ONLY_RULES = new Set(['epoch-empty', 'version-empty', 'release-empty', 'epoch-too-big']);

describe.skipIf(!hasRpmspec)(
  hasRpmspec
    ? 'ecosystems/rpm/version: validity agrees with rpmspec'
    : 'ecosystems/rpm/version: SKIPPED validity test, rpmspec is not installed (apt-get install rpm)',
  () => {
    it('rejects what rpmbuild rejects in a versioned dependency, and accepts the rest bar the tag rules', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'pw-rpmspec-'));
      try {
        // No whitespace, ',' or '%' here: rpmspec would split or macro-expand them first.
        const noMacro = rawEvr.filter((s) => !/[\s,%]/.test(s));
        const inputs = [
          ...fc.sample(noMacro, { numRuns: 150, seed: 42 }),
          ...fc.sample(
            validEvr.filter((s) => !s.includes('%')),
            { numRuns: 50, seed: 7 },
          ),
          ...[
            'a:1',
            ':1',
            '1:',
            '-1',
            '1.0-',
            '1:2:3',
            '1-2-3',
            '1..0',
            '4294967296:1',
            '1.0_1~rc^g',
            '1.0/1',
          ],
        ];
        const env = { ...process.env, HOME: dir };
        const verdicts = await mapPool(inputs, 8, async (evr, i) => {
          const spec = join(dir, `t${i}.spec`);
          writeFileSync(
            spec,
            `Name: t\nVersion: 1\nRelease: 1\nSummary: t\nLicense: MIT\nRequires: foo = ${evr}\n%description\nt\n`,
          );
          try {
            await execFileAsync('rpmspec', ['-q', '--requires', spec], { env });
            return true;
          } catch {
            return false;
          }
        });

        const failures: string[] = [];
        for (const [i, evr] of inputs.entries()) {
          const error = rpm.checkVersion(evr);
          if (verdicts[i] === false && error === null)
            failures.push(`rpmspec rejects ${JSON.stringify(evr)}`);
          if (verdicts[i] === true && error !== null && !TAG_ONLY_RULES.has(error.rule)) {
            failures.push(`rpmspec accepts ${JSON.stringify(evr)}, we say ${error.rule}`);
          }
        }
        expect(failures).toEqual([]);
        expect(verdicts.filter((v) => v === false).length).toBeGreaterThan(20);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);

async function mapPool<T, R>(
  items: T[],
  width: number,
  f: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      results[i] = await f(items[i]!, i);
    }
  }
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}
