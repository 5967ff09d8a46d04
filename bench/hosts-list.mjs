// `npm run bench -- hosts-list [--hosts N] [--seed S] [--repeat R]` (after `npm run build`).
//
// The operator's fleet queries at scale (packages/store/src/repositories/fleet.ts): seeds N hosts
// (default 100,000) into a fresh SQLite database, and into a fresh PostgreSQL database when
// PATCHWARDEN_TEST_POSTGRES_URL is set, then times:
//  - the first page (50) for every sort and direction;
//  - a deep page: the page after host 90% of the way through, reached by its cursor;
//  - a full walk of every page at the largest page size (500), with per-page mean and max;
//  - first pages with each filter (label, group scope, OS, package, advisory, CVE, compliance,
//    severity, KEV), sorted by name and by risk;
//  - the findings list, the patch-centric view and the fleet summary.
// Hosts carry rollup columns (open findings, KEV, worst severity, risk, earliest due date) as the
// findings writer keeps them; ~30% of hosts have 1–6 open findings over 200 advisories; 40 package
// sets of 400 packages, with a few per-host overrides. Each query runs `--repeat` times (default 5)
// after one warm-up; the median is reported in milliseconds. Prints one JSON object.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  getFleetSummary,
  migrateToLatest,
  openStore,
  queryFindings,
  queryHosts,
  queryPatches,
} from '@patchwarden/store';
import { sql } from 'kysely';
import pg from 'pg';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const GROUPS = 20;
const SETS = 40;
const PACKAGES_PER_SET = 400;
const ADVISORIES = 200;
const ROWS_PER_INSERT = 500;

export async function run(args) {
  const options = parseOptions(args);
  const results = {
    hosts: options.hosts,
    seed: options.seed,
    repeat: options.repeat,
    cpus: cpus().length,
    loadavg: loadavg(),
    databases: {},
  };
  const sqliteDir = await mkdtemp(join(tmpdir(), 'patchwarden-bench-hosts-'));
  try {
    const store = await openStore({ dataDir: sqliteDir });
    results.databases.sqlite = await benchStore(store, options);
    await store.close();
  } finally {
    await rm(sqliteDir, { recursive: true, force: true });
  }
  const pgUrl = process.env.PATCHWARDEN_TEST_POSTGRES_URL;
  if (pgUrl) {
    const database = `pw_bench_${Date.now().toString(36)}`;
    await adminQuery(pgUrl, `create database ${database}`);
    try {
      const url = new URL(pgUrl);
      url.pathname = `/${database}`;
      const store = await openStore({ url: url.toString() });
      results.databases.postgres = await benchStore(store, options);
      await store.close();
    } finally {
      await adminQuery(pgUrl, `drop database if exists ${database} with (force)`);
    }
  } else {
    results.databases.postgres = { skipped: 'PATCHWARDEN_TEST_POSTGRES_URL is not set' };
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

async function benchStore(store, options) {
  await migrateToLatest(store.db);
  const seedStart = performance.now();
  const seeded = await seed(store, options);
  // Fresh statistics and visibility map, as autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite) keep them.
  await (store.dialect === 'postgres' ? sql`vacuum analyze` : sql`analyze`).execute(store.db);
  const seedSeconds = (performance.now() - seedStart) / 1000;
  const { db, dialect } = store;
  const base = { scope: 'all', now: NOW };
  const time = (fn) => timeMedian(fn, options.repeat);

  const firstPage = {};
  for (const sort of ['name', 'last_seen', 'open_findings', 'risk']) {
    for (const order of ['asc', 'desc']) {
      firstPage[`${sort}_${order}`] = await time(() => queryHosts(db, dialect, { ...base, sort, order }));
    }
  }

  // Full walk at the largest page size; remember the cursor 90% of the way through.
  const walkStart = performance.now();
  const pageTimes = [];
  let cursor = null;
  let deepCursor = null;
  let walked = 0;
  do {
    const t0 = performance.now();
    const page = await queryHosts(db, dialect, { ...base, sort: 'risk', limit: 500, cursor });
    pageTimes.push(performance.now() - t0);
    walked += page.items.length;
    cursor = page.nextCursor;
    if (deepCursor === null && walked >= options.hosts * 0.9) deepCursor = cursor;
  } while (cursor !== null);
  const walk = {
    sort: 'risk desc',
    pageSize: 500,
    hosts: walked,
    pages: pageTimes.length,
    totalMs: round(performance.now() - walkStart),
    meanPageMs: round(pageTimes.reduce((a, b) => a + b, 0) / pageTimes.length),
    maxPageMs: round(Math.max(...pageTimes)),
  };
  const nameCursor = await cursorAt(db, dialect, base, 'name', options.hosts * 0.9);
  const deepPage = {
    risk_desc_at_90pct: await time(() =>
      queryHosts(db, dialect, { ...base, sort: 'risk', cursor: deepCursor }),
    ),
    name_asc_at_90pct: await time(() =>
      queryHosts(db, dialect, { ...base, sort: 'name', cursor: nameCursor }),
    ),
  };

  const filters = {
    'label env=prod': { labels: { env: 'prod' } },
    'label team=t7 (rare)': { labels: { team: 't7', env: 'dev' } },
    'scope: 1 group of 20': { scope: ['g-3'] },
    'scope: 5 groups': { scope: ['g-1', 'g-2', 'g-3', 'g-4', 'g-5'] },
    'os debian 12': { osDistro: 'debian', osVersion: '12' },
    'package (in 1 of 40 sets)': { packageName: seeded.rarePackage },
    'package (override only)': { packageName: 'hotfix-agent' },
    advisory: { advisoryId: 'bench:ADV-7' },
    cve: { cve: 'CVE-2026-10007' },
    noncompliant: { compliance: 'noncompliant' },
    'minSeverity critical': { minSeverity: 'critical' },
    kev: { isKevOnly: true },
  };
  const filtered = {};
  for (const [name, filter] of Object.entries(filters)) {
    const byName = await time(() => queryHosts(db, dialect, { ...base, ...filter, sort: 'name' }));
    const byRisk = await time(() => queryHosts(db, dialect, { ...base, ...filter, sort: 'risk' }));
    const count = (await queryHosts(db, dialect, { ...base, ...filter, sort: 'name', limit: 500 })).items
      .length;
    filtered[name] = { byNameMs: byName, byRiskMs: byRisk, firstPageRows: count };
  }

  const other = {
    'findings first page (risk)': await time(() => queryFindings(db, { ...base })),
    'findings first page (due, scope 1 group)': await time(() =>
      queryFindings(db, { ...base, scope: ['g-3'], sort: 'due' }),
    ),
    'findings of one host': await time(() =>
      queryFindings(db, { ...base, hostId: seeded.someHostWithFindings }),
    ),
    'patches by hosts': await time(() => queryPatches(db, dialect, { scope: 'all' })),
    'patches by cves, scope 1 group': await time(() =>
      queryPatches(db, dialect, { scope: ['g-3'], sort: 'cves' }),
    ),
    'summary (all)': await time(() => getFleetSummary(db, { ...base, staleAfterHours: 24 })),
    'summary (1 group)': await time(() =>
      getFleetSummary(db, { ...base, scope: ['g-3'], staleAfterHours: 24 }),
    ),
  };

  return {
    seedSeconds: round(seedSeconds),
    findings: seeded.findings,
    firstPage,
    deepPage,
    walk,
    filtered,
    other,
  };
}

async function cursorAt(db, dialect, base, sort, position) {
  let cursor = null;
  let seen = 0;
  while (seen < position) {
    const page = await queryHosts(db, dialect, { ...base, sort, limit: 500, cursor });
    seen += page.items.length;
    cursor = page.nextCursor;
    if (cursor === null) break;
  }
  return cursor;
}

export async function seed(store, options) {
  const rng = mulberry32(options.seed);
  const { db } = store;
  const at = NOW.toISOString();
  await db
    .insertInto('host_groups')
    .values(Array.from({ length: GROUPS }, (_, i) => ({ id: `g-${i}`, name: `group-${i}`, created_at: at })))
    .execute();
  // Package sets: a shared base plus a per-set tail, so some names are in every set and some in one.
  for (let s = 0; s < SETS; s += 1) {
    const id = `set-${String(s).padStart(3, '0')}`;
    await db
      .insertInto('package_sets')
      .values({ id, package_count: PACKAGES_PER_SET, created_at: at })
      .execute();
    const members = Array.from({ length: PACKAGES_PER_SET }, (_, p) => ({
      package_set_id: id,
      position: p,
      ecosystem: s % 4 === 3 ? 'rpm' : 'deb',
      name: p < 300 ? `pkg-${p}` : `pkg-s${s}-${p}`,
      architecture: 'amd64',
      version: `1.${(p + s) % 7}.0-1`,
      source_name: null,
      source_version: null,
    }));
    await insertChunks(db, 'package_set_members', members);
  }
  await db
    .insertInto('advisories')
    .values(
      Array.from({ length: ADVISORIES }, (_, a) => ({
        id: `bench:ADV-${a}`,
        source: 'bench',
        external_id: `ADV-${a}`,
        severity: 'high',
        aliases: '[]',
        content_hash: `h${a}`,
      })),
    )
    .execute();
  await insertChunks(
    db,
    'kev_entries',
    Array.from({ length: 20 }, (_, k) => ({
      cve_id: `CVE-2026-${10000 + k * 10}`,
      record: '{}',
      content_hash: `k${k}`,
    })),
  );
  const severities = ['critical', 'high', 'medium', 'low', 'negligible'];
  const distros = [
    ['debian', '12', 'debian'],
    ['debian', '11', 'debian'],
    ['ubuntu', '22.04', 'debian'],
    ['rhel', '9', 'rhel'],
  ];
  const envs = ['prod', 'staging', 'dev'];
  let findings = 0;
  let someHostWithFindings = null;
  const hosts = [];
  const findingRows = [];
  const overrides = [];
  const flush = async () => {
    await db.transaction().execute(async (trx) => {
      await insertChunks(trx, 'hosts', hosts.splice(0));
      await insertChunks(trx, 'findings', findingRows.splice(0));
      await insertChunks(trx, 'host_package_overrides', overrides.splice(0));
    });
  };
  for (let h = 0; h < options.hosts; h += 1) {
    const id = `host-${h.toString(36).padStart(5, '0')}-${Math.floor(rng() * 1e9).toString(36)}`;
    const [distro, version, family] = distros[h % distros.length];
    const open = rng() < 0.3 ? 1 + Math.floor(rng() * 6) : 0;
    let kev = 0;
    let worst = null;
    let maxRisk = null;
    let minDue = null;
    const chosen = new Set();
    while (chosen.size < open) chosen.add(Math.floor(rng() * ADVISORIES));
    let f = 0;
    for (const a of chosen) {
      f += 1;
      const severity = severities[a % severities.length];
      const risk = Math.round(rng() * 1000) / 10;
      const due = new Date(NOW.getTime() + (rng() - 0.3) * 60 * 86_400_000).toISOString();
      const isKev = a % 10 === 0 ? 1 : 0;
      findingRows.push({
        id: `${id}-f${f}`,
        host_id: id,
        advisory_id: `bench:ADV-${a}`,
        package_name: `pkg-${a % 300}`,
        installed_version: '1.0.0-1',
        fixed_version: `1.${a % 5}.9-1`,
        severity,
        risk_score: risk,
        status: 'open',
        opened_at: at,
        due_at: due,
        ecosystem: 'deb',
        fix_state: 'fix-available',
        cves: JSON.stringify([`CVE-2026-${10000 + a}`, `CVE-2026-${20000 + a}`]),
        is_kev: isKev,
        evidence: '{}',
      });
      kev += isKev;
      if (worst === null || severities.indexOf(severity) < severities.indexOf(worst)) worst = severity;
      maxRisk = maxRisk === null ? risk : Math.max(maxRisk, risk);
      minDue = minDue === null || due < minDue ? due : minDue;
      findings += 1;
    }
    if (open > 0 && someHostWithFindings === null) someHostWithFindings = id;
    hosts.push({
      id,
      name: `host-${String(Math.floor(rng() * options.hosts * 10)).padStart(7, '0')}`,
      os_family: family,
      os_distro: distro,
      os_version: version,
      os_version_id: version,
      os_pretty_name: `${distro} ${version}`,
      os_ecosystem: family === 'rhel' ? 'rpm' : 'deb',
      labels: JSON.stringify({ env: envs[h % 3], team: `t${h % 23}` }),
      group_id: `g-${h % GROUPS}`,
      criticality: 'medium',
      created_at: at,
      last_seen_at: rng() < 0.02 ? null : new Date(NOW.getTime() - rng() * 7 * 86_400_000).toISOString(),
      package_set_id: `set-${String(h % SETS).padStart(3, '0')}`,
      open_findings: open,
      kev_findings: kev,
      worst_severity: worst,
      max_risk_score: maxRisk,
      earliest_due_at: minDue,
      reboot_required: rng() < 0.1 ? 1 : 0,
    });
    if (h % 500 === 0) {
      overrides.push({
        host_id: id,
        ecosystem: 'deb',
        name: 'hotfix-agent',
        architecture: 'amd64',
        version: '1.0',
        source_name: null,
        source_version: null,
      });
    }
    if (hosts.length >= 5000) await flush();
  }
  await flush();
  return { findings, someHostWithFindings, rarePackage: 'pkg-s7-350' };
}

async function insertChunks(db, table, rows) {
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    await db
      .insertInto(table)
      .values(rows.slice(i, i + ROWS_PER_INSERT))
      .execute();
  }
}

async function timeMedian(fn, repeat) {
  await fn();
  const times = [];
  for (let i = 0; i < repeat; i += 1) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return round(times[Math.floor(times.length / 2)]);
}

async function adminQuery(url, text) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

function round(ms) {
  return Math.round(ms * 100) / 100;
}

function parseOptions(args) {
  const options = { hosts: 100_000, seed: 1, repeat: 5 };
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]?.replace(/^--/, '');
    const value = Number(args[i + 1]);
    if (!(name in options) || !Number.isFinite(value)) {
      process.stderr.write('usage: npm run bench -- hosts-list [--hosts N] [--seed S] [--repeat R]\n');
      process.exit(2);
    }
    options[name] = value;
  }
  return options;
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
