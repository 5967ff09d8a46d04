// `npm run bench -- vercmp [--pairs N] [--seed S] [--rounds R]` (after `npm run build`).
//
// Version comparison throughput, ours against the native comparators, on the same pairs:
//  (a) in process: deb and rpm `compare` on seeded pairs of real version strings;
//  (b) in process: python3-apt `apt_pkg.version_compare` on the deb pairs and python3-rpm
//      `rpm.labelCompare` on the rpm pairs, in /usr/bin/python3, timing only the loop;
//  (c) end to end: `patchwarden vercmp --ecosystem deb --batch < pairs.tsv > /dev/null` against a
//      python script doing the same with apt_pkg, both timed as whole processes.
// Prints one JSON object. Ratios are ours / theirs in pairs per second, so > 1 means faster.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getEcosystem } from '@patchwarden/core';

const root = fileURLToPath(new URL('..', import.meta.url));
const dataDir = join(root, '../shared/data');
const cli = join(root, 'packages/cli/bin/patchwarden.js');
const python = '/usr/bin/python3';

// Used only when neither ../shared/data nor /var/lib/dpkg/status is there.
const BUILT_IN = {
  deb: [
    '2.36-9+deb12u10',
    '2.36-9+deb12u4',
    '1:2.38.1-5+deb12u3',
    '2.38.1-5+b1',
    '3.0.15-1~deb12u1',
    '3.0.11-1~deb12u2',
    '1:9.18.33-1~deb12u2',
    '1:9.18.28-1~deb12u2',
    '5.2.15-2+b8',
    '5.2.15-2',
    '252.36-1~deb12u1',
    '252.33-1~deb12u1',
    '7.88.1-10+deb12u12',
    '7.88.1-10+deb12u8',
    '2:9.0.1378-2+deb12u2',
    '1:1.2.13.dfsg-1',
    '12.2.0-14+deb12u1',
    '1.0.8-5+b1',
    '2025b-0+deb12u1',
    '6.1.140-1',
    '6.1.129-1',
    '4:12.2.0-3',
    '1.203',
    '3.134',
    '1.21.22',
    '2.11.2-2',
    '1:4.13+dfsg1-1+b1',
    '0.11.0-1+deb12u3',
  ],
  rpm: [
    '5.14.0-611.54.6.el9_7',
    '5.14.0-570.12.1.el9_6',
    '1:2.06-27.el9_0.7.alma',
    '1:2.06-94.el9_6.alma.1',
    '3.0.7-27.el9',
    '3.2.2-6.el9_5.1',
    '1:3.0.7-25.el9_3',
    '252-51.el9_6.1',
    '252-46.el9_5.3',
    '7.76.1-31.el9_6.1',
    '7.76.1-26.el9_3.3',
    '2:8.2.2637-21.el9',
    '2:8.2.2637-20.el9_1',
    '4.16.1.3-34.el9.0.2',
    '0.9.1~rc1-1.el9',
    '0.9.1-1.el9',
    '1.2^git20240101-3.el9',
    '102.15.0-1.el9_2.alma',
    '1:1.1.1k-12.el8_9',
  ],
};

function parseArgs(args) {
  const options = { pairs: 1_000_000, seed: 20250520, rounds: 3 };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split('=', 2);
    const value = inline ?? args[++i];
    const key = flag.replace(/^--/, '');
    if (!(key in options) || !/^\d+$/.test(value ?? '')) {
      throw new Error(`usage: npm run bench -- vercmp [--pairs N] [--seed S] [--rounds R]; bad ${args[i]}`);
    }
    options[key] = Number(value);
  }
  return options;
}

/** mulberry32: a small seeded generator, so that every run compares the same pairs. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function readIfPresent(path) {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

function fixtureVersions(text) {
  const versions = [];
  for (const line of text.split('\n')) {
    const match = /^(\S+) [<=>] (\S+)$/.exec(line.trim());
    if (match) versions.push(match[1], match[2]);
  }
  return versions;
}

function debVersions() {
  const versions = fixtureVersions(
    readIfPresent(join(dataDir, 'version-fixtures/debian-versions.txt')) +
      readIfPresent(join(dataDir, 'version-fixtures/debian-versions-generated.txt')),
  );
  for (const path of ['/var/lib/dpkg/status', join(dataDir, 'inventories/debian12-dpkg-status')]) {
    for (const match of readIfPresent(path).matchAll(/^Version: (\S+)$/gm)) versions.push(match[1]);
  }
  return { versions, source: versions.length > 0 ? 'version-fixtures + dpkg status files' : 'built-in list' };
}

function rpmVersions() {
  const versions = fixtureVersions(readIfPresent(join(dataDir, 'version-fixtures/redhat-versions.txt')));
  const alma = readIfPresent(join(dataDir, 'osv/almalinux/almalinux9.ndjson'));
  for (const match of alma.matchAll(/"fixed":\s*"([^"]+)"/g)) versions.push(match[1]);
  return {
    versions,
    source: versions.length > 0 ? 'redhat-versions.txt + AlmaLinux 9 OSV fixed versions' : 'built-in list',
  };
}

/**
 * `count` pairs from the valid, distinct versions: 45% two random versions, 45% near neighbours in
 * sorted order (an installed and a fixed version of one package share a long prefix), 10% equal.
 */
function makePairs(ecosystem, found, count, seed) {
  const pool = [...new Set(found.versions.length > 0 ? found.versions : BUILT_IN[ecosystem.id])].filter(
    (v) => ecosystem.checkVersion(v) === null,
  );
  pool.sort((x, y) => ecosystem.compare(x, y));
  const next = random(seed);
  const a = new Array(count);
  const b = new Array(count);
  for (let i = 0; i < count; i++) {
    const kind = next();
    const x = Math.floor(next() * pool.length);
    const y =
      kind < 0.45
        ? Math.floor(next() * pool.length)
        : kind < 0.9
          ? Math.min(pool.length - 1, x + 1 + Math.floor(next() * 3))
          : x;
    // Copies, so that `a === b` never short-cuts and both sides read flat, unshared strings.
    const swap = next() < 0.5;
    a[i] = (swap ? pool[y] : pool[x]).split('').join('');
    b[i] = (swap ? pool[x] : pool[y]).split('').join('');
  }
  return { a, b, distinct: pool.length, source: found.source };
}

/**
 * The floor under any validating comparator in JavaScript: each pair's strings read once, character
 * by character, with a table lookup (what rejecting embedded blanks and illegal characters, as dpkg
 * does, needs at the least) and nothing else: no order is computed. Best of `rounds`, pairs per second.
 */
function timeReadOnly({ a, b }, rounds) {
  const table = new Uint8Array(65536);
  const n = a.length;
  let best = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let round = 0; round <= rounds; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const x = a[i];
      const y = b[i];
      for (let j = 0; j < x.length; j++) sink |= table[x.charCodeAt(j)];
      for (let j = 0; j < y.length; j++) sink |= table[y.charCodeAt(j)];
    }
    // Round 0 only warms the JIT up.
    if (round > 0) best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return { perSecond: Math.round(n / best), sink };
}

/** Position-weighted sum of result signs, computed the same way in the python scripts. */
function checksum(results) {
  let sum = 0;
  for (let i = 0; i < results.length; i++) sum += Math.sign(results[i]) * ((i % 1009) + 1);
  return sum;
}

function timeInProcess(ecosystem, { a, b }, rounds) {
  const compare = ecosystem.compare;
  const n = a.length;
  let sink = 0;
  for (let i = 0; i < Math.min(n, 300_000); i++) sink ^= compare(a[i], b[i]);
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < rounds; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink ^= compare(a[i], b[i]);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  const results = new Int8Array(n);
  for (let i = 0; i < n; i++) results[i] = Math.sign(compare(a[i], b[i]));
  return { seconds: best, perSecond: Math.round(n / best), checksum: checksum(results), sink };
}

const PY_IN_PROCESS = String.raw`
import json, sys, time
mode, path, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
A, B = [], []
with open(path, encoding='utf-8') as f:
    for line in f:
        a, b = line.rstrip('\n').split('\t')
        A.append(a)
        B.append(b)
if mode == 'deb':
    import apt_pkg
    apt_pkg.init_system()
    cmp, X, Y, version = apt_pkg.version_compare, A, B, apt_pkg.VERSION
else:
    import rpm
    def evr(s):
        i = 0
        while i < len(s) and s[i].isdigit():
            i += 1
        epoch = s[:i] if i < len(s) and s[i] == ':' else None
        rest = s[i + 1:] if epoch is not None else s
        dash = rest.rfind('-')
        return (epoch, rest, None) if dash < 0 else (epoch, rest[:dash], rest[dash + 1:])
    cmp, X, Y, version = rpm.labelCompare, [evr(a) for a in A], [evr(b) for b in B], rpm.__version__
for x, y in zip(X[:300000], Y[:300000]):
    cmp(x, y)
best = float('inf')
for _ in range(rounds):
    start = time.perf_counter()
    for x, y in zip(X, Y):
        cmp(x, y)
    best = min(best, time.perf_counter() - start)
total = 0
for i, (x, y) in enumerate(zip(X, Y)):
    r = cmp(x, y)
    total += ((r > 0) - (r < 0)) * (i % 1009 + 1)
print(json.dumps({'seconds': best, 'perSecond': round(len(X) / best), 'checksum': total,
                  'version': version, 'python': sys.version.split()[0]}))
`;

const PY_BATCH = String.raw`
import sys, apt_pkg
apt_pkg.init_system()
compare = apt_pkg.version_compare
out = []
for line in sys.stdin:
    a, b = line.rstrip('\n').split('\t')
    r = compare(a, b)
    out.append('-1' if r < 0 else '1' if r > 0 else '0')
sys.stdout.write('\n'.join(out))
sys.stdout.write('\n')
`;

function hasPythonModule(module) {
  return (
    existsSync(python) && spawnSync(python, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0
  );
}

function runPythonInProcess(mode, pairsFile, rounds) {
  const result = spawnSync(python, ['-c', PY_IN_PROCESS, mode, pairsFile, String(rounds)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (result.status !== 0) throw new Error(`python3 ${mode} loop failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** Wall time of one process with stdin from `inputFile` and stdout to `outputFile` (or discarded). */
function timeProcess(command, args, inputFile, outputFile) {
  return new Promise((done, fail) => {
    const input = openSync(inputFile, 'r');
    const output = outputFile ? openSync(outputFile, 'w') : 'ignore';
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: [input, output, 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', fail);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      closeSync(input);
      if (typeof output === 'number') closeSync(output);
      if (code !== 0) fail(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(0, 500)}`));
      else done(seconds);
    });
  });
}

async function bestOf(rounds, measure) {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < rounds; i++) best = Math.min(best, await measure());
  return best;
}

function ratio(ours, theirs) {
  return theirs ? Math.round((ours / theirs) * 100) / 100 : null;
}

export async function run(args) {
  const options = parseArgs(args);
  const deb = getEcosystem('deb');
  const rpm = getEcosystem('rpm');
  if (!deb || !rpm)
    throw new Error('the deb and rpm ecosystems are not in the registry; run `npm run build`');
  const dir = mkdtempSync(join(tmpdir(), 'patchwarden-bench-vercmp-'));
  const hasAptPkg = hasPythonModule('apt_pkg');
  const hasRpm = hasPythonModule('rpm');

  try {
    const debPairs = makePairs(deb, debVersions(), options.pairs, options.seed);
    const rpmPairs = makePairs(rpm, rpmVersions(), options.pairs, options.seed + 1);
    const debFile = join(dir, 'deb-pairs.tsv');
    const rpmFile = join(dir, 'rpm-pairs.tsv');
    writeFileSync(debFile, debPairs.a.map((a, i) => `${a}\t${debPairs.b[i]}\n`).join(''));
    writeFileSync(rpmFile, rpmPairs.a.map((a, i) => `${a}\t${rpmPairs.b[i]}\n`).join(''));

    const debOurs = timeInProcess(deb, debPairs, options.rounds);
    const debReadOnly = timeReadOnly(debPairs, options.rounds);
    const rpmOurs = timeInProcess(rpm, rpmPairs, options.rounds);
    const debApt = hasAptPkg ? runPythonInProcess('deb', debFile, options.rounds) : null;
    const rpmNative = hasRpm ? runPythonInProcess('rpm', rpmFile, options.rounds) : null;

    let endToEnd = { skipped: `${cli} is missing; run npm run build` };
    if (existsSync(cli)) {
      try {
        endToEnd = await timeEndToEnd(debFile, options, hasAptPkg, dir);
      } catch (error) {
        endToEnd = { error: error instanceof Error ? error.message : String(error) };
      }
    }

    const result = {
      bench: 'vercmp',
      pairs: options.pairs,
      seed: options.seed,
      rounds: `best of ${options.rounds}`,
      node: process.version,
      // Other work on the machine moves every figure; the ratios, measured back to back, less so.
      machine: { cpu: cpus()[0]?.model ?? null, cpus: cpus().length, loadAverage1m: loadavg()[0] },
      python: debApt?.python ?? rpmNative?.python ?? null,
      deb: {
        versions: { distinct: debPairs.distinct, from: debPairs.source },
        inProcess: {
          oursPerSecond: debOurs.perSecond,
          aptPkgPerSecond: debApt?.perSecond ?? null,
          ratio: ratio(debOurs.perSecond, debApt?.perSecond),
          isOrderIdentical: debApt ? debApt.checksum === debOurs.checksum : null,
          // Reading both strings and nothing else (see timeReadOnly): the most any validating
          // comparator could reach here, and its ratio to apt_pkg.
          readOnlyFloorPerSecond: debReadOnly.perSecond,
          readOnlyFloorRatio: ratio(debReadOnly.perSecond, debApt?.perSecond),
          aptPkg: debApt
            ? `python3-apt ${debApt.version}`
            : 'skipped: /usr/bin/python3 cannot import apt_pkg',
        },
        endToEnd,
      },
      rpm: {
        versions: { distinct: rpmPairs.distinct, from: rpmPairs.source },
        inProcess: {
          oursPerSecond: rpmOurs.perSecond,
          rpmLabelComparePerSecond: rpmNative?.perSecond ?? null,
          ratio: ratio(rpmOurs.perSecond, rpmNative?.perSecond),
          isOrderIdentical: rpmNative ? rpmNative.checksum === rpmOurs.checksum : null,
          rpm: rpmNative ? `python3-rpm ${rpmNative.version}` : 'skipped: /usr/bin/python3 cannot import rpm',
        },
      },
      goals: {
        debInProcessAtLeast1_5xAptPkg: debApt ? debOurs.perSecond >= 1.5 * debApt.perSecond : null,
        debBatchCliAtLeastAptPkgScript:
          typeof endToEnd.ratio === 'number' ? endToEnd.ratio >= 1 && endToEnd.isOutputIdentical : null,
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function timeEndToEnd(pairsFile, options, hasAptPkg, dir) {
  const cliArgs = [cli, 'vercmp', '--ecosystem', 'deb', '--batch'];
  const oursSeconds = await bestOf(options.rounds, () =>
    timeProcess(process.execPath, cliArgs, pairsFile, null),
  );
  let aptSeconds = null;
  let isOutputIdentical = null;
  if (hasAptPkg) {
    aptSeconds = await bestOf(options.rounds, () => timeProcess(python, ['-c', PY_BATCH], pairsFile, null));
    await timeProcess(process.execPath, cliArgs, pairsFile, join(dir, 'ours.out'));
    await timeProcess(python, ['-c', PY_BATCH], pairsFile, join(dir, 'apt.out'));
    isOutputIdentical =
      readFileSync(join(dir, 'ours.out'), 'utf8') === readFileSync(join(dir, 'apt.out'), 'utf8');
  }
  return {
    command: 'patchwarden vercmp --ecosystem deb --batch < pairs.tsv > /dev/null',
    oursSeconds: round3(oursSeconds),
    aptPkgScriptSeconds: aptSeconds === null ? null : round3(aptSeconds),
    oursPerSecond: Math.round(options.pairs / oursSeconds),
    aptPkgScriptPerSecond: aptSeconds === null ? null : Math.round(options.pairs / aptSeconds),
    ratio: aptSeconds === null ? null : ratio(aptSeconds, oursSeconds),
    isOutputIdentical,
  };
}

function round3(x) {
  return Math.round(x * 1000) / 1000;
}
