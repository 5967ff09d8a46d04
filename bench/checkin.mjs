// `npm run bench -- checkin [--db sqlite,postgres] [--hosts N] [--images N] [--concurrency C]
//                           [--delta-seconds S] [--full-seconds S] [--changes K] [--hot N] [--no-feeds]
//                           [--workers N] [--server-node-args "…"]` (after `npm run build`).
//
// Simulated agents against a real `patchwarden serve` on 127.0.0.1. The server runs as a child process
// (the built CLI, SQLite in a temp directory or a fresh PostgreSQL database from
// PATCHWARDEN_TEST_POSTGRES_URL); this process is the load generator. Hosts are built from the real
// Debian 12 dpkg status in ../shared/data (or this machine's) as `--images` images with a little
// per-host drift, ~1,500 packages each, and the server holds the real DSA and DLA lists and the KEV
// catalogue as feeds, so every check-in runs real detection.
//
// Phases, each for a fixed time with `--concurrency` agents in flight (every host is used by one
// agent at a time, with its own sequence numbers):
//   delta: a check-in that changes `--changes` packages (a version goes back and forth between the
//          real one and an older one, so findings open and close);
//   full:  a check-in with the whole inventory (~1,500 packages), a few versions changed.
// `--hot N`: an image's hosts change only N of its packages (the same N on every host of the image,
// as when a fleet takes the same updates); by default (0) any package, so every host drifts its own
// way and keeps outgrowing its override limit (a rebase, writing a 1,500-row set, every ~20 deltas).
// Reports sustained check-ins/s, latency p50/p90/p99/max, failures, the CPU the server used per
// check-in (from /proc/<pid>/stat; on PostgreSQL also the CPU of the database's backends), the load
// generator's own CPU, and the server's RSS (sampled every second) at the start, end and peak of each
// phase. `--workers N` (PostgreSQL only) serves with N `patchwarden serve` processes on one port under
// `node:cluster` (replicas: all state is in the database); CPU and RSS are then summed over them.
// `--server-node-args "--cpu-prof --cpu-prof-dir=D"` profiles the server. Prints one JSON object.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as core from '@patchwarden/core';
import pg from 'pg';

const BIN = fileURLToPath(new URL('../packages/cli/bin/patchwarden.js', import.meta.url));
const SHARED = fileURLToPath(new URL('../../shared/data/', import.meta.url));
const TOKEN = `pwt_${randomBytes(32).toString('base64url')}`;

export async function run(args) {
  const options = parseOptions(args);
  const rng = mulberry32(options.seed);
  const fleet = buildFleet(options, rng);
  const results = {
    benchmark: 'checkin',
    date: new Date().toISOString(),
    options,
    fleet: { hosts: fleet.length, packagesPerHost: Math.round(mean(fleet.map((h) => h.packages.length))) },
    loadAverage: readLoadAverage(),
    runs: [],
  };
  for (const db of options.db) {
    results.runs.push(await benchDatabase(db, options, fleet, rng));
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

async function benchDatabase(db, options, fleet, rng) {
  const server = await startServer(db, options);
  try {
    const api = (method, path, body, token = TOKEN) => call(server.url, method, path, body, token);
    const setup = {};
    if (options.feeds) {
      const started = performance.now();
      setup.feeds = [];
      for (const feed of feedFiles()) {
        const created = await api('POST', '/api/v1/feeds', feed);
        const synced = await api(
          'POST',
          `/api/v1/feeds/${created.body.id ?? created.body.feed?.id}/sync`,
          {},
        );
        setup.feeds.push({ name: feed.name, status: synced.status });
      }
      setup.feedSyncSeconds = round((performance.now() - started) / 1000, 2);
    }
    const secret = await api('POST', '/api/v1/enroll-secrets', { name: 'bench' });
    if (secret.status !== 201)
      throw new Error(`cannot create an enrolment secret: ${JSON.stringify(secret.body)}`);
    const enrollSecret = secret.body.secret;

    const enrolStarted = performance.now();
    await pool(fleet, Math.min(options.concurrency, 16), async (host) => {
      const reply = await call(server.url, 'POST', '/api/v1/agent/enroll', {
        enrollSecret,
        hostname: host.name,
        machineId: host.machineId,
        inventory: { seq: 0, osRelease: DEBIAN12_OS_RELEASE, packages: host.packages },
      });
      if (reply.status !== 201)
        throw new Error(`enrol failed: ${reply.status} ${JSON.stringify(reply.body)}`);
      host.nodeKey = reply.body.nodeKey;
      host.seq = 0;
    });
    setup.enrolSeconds = round((performance.now() - enrolStarted) / 1000, 2);
    setup.enrolPerSecond = round(fleet.length / setup.enrolSeconds, 1);

    const phases = {};
    phases.delta = await phase(server, fleet, options.concurrency, options.deltaSeconds, (host) => {
      const upsert = [];
      const picked = new Set();
      const pool = host.hot ?? null;
      const size = pool === null ? host.packages.length : pool.length;
      while (picked.size < Math.min(options.changes, size)) {
        const i = Math.floor(rng() * size);
        picked.add(pool === null ? i : pool[i]);
      }
      for (const index of picked) upsert.push(toggle(host, index));
      host.seq += 1;
      return { seq: host.seq, delta: { upsert, remove: [] } };
    });
    phases.full = await phase(server, fleet, options.concurrency, options.fullSeconds, (host) => {
      const pool = host.hot ?? null;
      for (let i = 0; i < options.changes; i += 1) {
        toggle(
          host,
          pool === null ? Math.floor(rng() * host.packages.length) : pool[Math.floor(rng() * pool.length)],
        );
      }
      host.seq += 1;
      return fullBody(host);
    });
    const metrics = (await call(server.url, 'GET', '/metrics')).text;
    return { db, setup, phases, serverCheckinCounters: metricLines(metrics, 'patchwarden_checkins_total') };
  } finally {
    await server.stop();
    // The server's own warnings and errors (it logs at `warn`), for the record.
    process.stderr.write(server.stderr());
  }
}

/** Flips one package between its real version and an older one; returns the package as sent. */
function toggle(host, index) {
  const pkg = host.packages[index];
  const original = host.originals[index];
  pkg.version = pkg.version === original ? `${original}~bench1` : original;
  host.json[index] = JSON.stringify(pkg);
  return pkg;
}

/** A full check-in's body, from the host's packages serialised one by one (kept up to date by `toggle`). */
function fullBody(host) {
  return `{"seq":${host.seq},"full":{"osRelease":${OS_RELEASE_JSON},"packages":[${host.json.join(',')}]}}`;
}

async function phase(server, fleet, concurrency, seconds, body) {
  const latencies = [];
  const failures = {};
  let sendFull = 0;
  const rss = [];
  const sampler = setInterval(() => rss.push(sum(server.pids, readRss)), 1000);
  rss.push(sum(server.pids, readRss));
  const cpuBefore = sum(server.pids, readCpuTicks);
  const dbCpuBefore = server.databaseTicks();
  const ownCpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const workers = [];
  for (let w = 0; w < concurrency; w += 1) {
    const hosts = fleet.filter((_, i) => i % concurrency === w);
    workers.push(
      (async () => {
        for (let i = 0; performance.now() < deadline && hosts.length > 0; i += 1) {
          const host = hosts[i % hosts.length];
          const t0 = performance.now();
          const reply = await call(server.url, 'POST', '/api/v1/agent/checkin', body(host), host.nodeKey);
          latencies.push(performance.now() - t0);
          if (reply.status !== 200) {
            const code = reply.body?.error?.code ?? String(reply.status);
            failures[code] = (failures[code] ?? 0) + 1;
            if (reply.status === 409) {
              host.seq = 0;
              await call(
                server.url,
                'POST',
                '/api/v1/agent/checkin',
                {
                  seq: 0,
                  full: { osRelease: DEBIAN12_OS_RELEASE, packages: host.packages },
                },
                host.nodeKey,
              );
            }
          } else if (reply.body.inventory === 'send-full') {
            sendFull += 1;
          }
        }
      })(),
    );
  }
  await Promise.all(workers);
  const elapsed = (performance.now() - started) / 1000;
  clearInterval(sampler);
  rss.push(sum(server.pids, readRss));
  const cpuSeconds = (sum(server.pids, readCpuTicks) - cpuBefore) / 100;
  const dbCpuSeconds = server.databaseTicks() === null ? null : (server.databaseTicks() - dbCpuBefore) / 100;
  const ownCpu = process.cpuUsage(ownCpuBefore);
  const ownCpuSeconds = (ownCpu.user + ownCpu.system) / 1e6;
  latencies.sort((a, b) => a - b);
  const count = latencies.length;
  return {
    seconds: round(elapsed, 1),
    checkins: count,
    perSecond: round(count / elapsed, 1),
    latencyMs: {
      p50: round(quantile(latencies, 0.5), 1),
      p90: round(quantile(latencies, 0.9), 1),
      p99: round(quantile(latencies, 0.99), 1),
      max: round(latencies[count - 1] ?? 0, 1),
    },
    failures,
    sendFull,
    serverCpuSecondsPerCheckin: round((cpuSeconds / Math.max(count, 1)) * 1000, 3) / 1000,
    serverCpuCores: round(cpuSeconds / elapsed, 2),
    loadGeneratorCpuCores: round(ownCpuSeconds / elapsed, 2),
    // PostgreSQL: the CPU of this database's backend processes (the server's connections), per check-in.
    databaseCpuSecondsPerCheckin:
      dbCpuSeconds === null ? null : round((dbCpuSeconds / Math.max(count, 1)) * 1000, 3) / 1000,
    databaseCpuCores: dbCpuSeconds === null ? null : round(dbCpuSeconds / elapsed, 2),
    serverProcesses: server.pids.length,
    serverRssMiB: {
      start: round(rss[0] / 1024, 1),
      end: round(rss[rss.length - 1] / 1024, 1),
      max: round(Math.max(...rss) / 1024, 1),
      samples: everyNth(rss, Math.ceil(rss.length / 60)).map((kib) => round(kib / 1024, 0)),
    },
  };
}

async function startServer(db, options) {
  const dataDir = await mkdtemp(join(tmpdir(), 'pw-bench-checkin-'));
  const env = {
    ...process.env,
    PATCHWARDEN_BOOTSTRAP_TOKEN: TOKEN,
    PATCHWARDEN_LOG_LEVEL: 'warn',
    PATCHWARDEN_BODY_LIMIT_BYTES: String(16 * 1024 * 1024),
  };
  let dropDatabase = async () => {};
  let databaseName = null;
  if (db === 'postgres') {
    const adminUrl = process.env.PATCHWARDEN_TEST_POSTGRES_URL;
    if (!adminUrl) throw new Error('--db postgres needs PATCHWARDEN_TEST_POSTGRES_URL');
    const name = `pw_bench_${randomBytes(5).toString('hex')}`;
    databaseName = name;
    await adminQuery(adminUrl, `create database ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    env.PATCHWARDEN_DATABASE_URL = url.toString();
    dropDatabase = () => adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
  }
  const workers = db === 'postgres' ? options.workers : 1;
  // Several workers: `node:cluster` with this file as the primary, each worker a `patchwarden serve`
  // on the same port (a real replica each: the store holds all state, so any worker takes any agent).
  const argv =
    workers > 1
      ? [fileURLToPath(import.meta.url), SERVE_CLUSTER, String(workers), String(await freePort()), dataDir]
      : [...options.serverNodeArgs, BIN, 'serve', '--port', '0', '--data-dir', dataDir];
  if (workers > 1) env.PATCHWARDEN_BENCH_NODE_ARGS = JSON.stringify(options.serverNodeArgs);
  const child = spawn(process.execPath, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const ready = await new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const match =
        workers > 1
          ? /cluster ready on (http:\/\/\S+) pids=([\d,]+)/.exec(stderr)
          : /serving on (http:\/\/[^\s]+)/.exec(stderr);
      if (match) {
        clearInterval(timer);
        resolve({ url: match[1], pids: workers > 1 ? match[2].split(',').map(Number) : [child.pid] });
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`server exited: ${stderr}`));
      }
    }, 50);
  });
  return {
    url: ready.url,
    /** The processes serving: the one server, or the cluster's primary and its workers. */
    pids: workers > 1 ? [child.pid, ...ready.pids] : ready.pids,
    workers,
    stderr: () => stderr,
    databaseTicks: () => (databaseName === null ? null : postgresBackendTicks(databaseName)),
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await dropDatabase();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const SERVE_CLUSTER = '--serve-cluster';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The cluster primary (`node bench/checkin.mjs --serve-cluster N PORT DATA_DIR`): starts one worker
 * first (it runs the migrations), then the other N-1, all `patchwarden serve` on PORT; prints
 * `cluster ready on URL pids=…` once all listen, and stops them on SIGTERM.
 */
async function serveCluster([count, port, dataDir]) {
  const cluster = (await import('node:cluster')).default;
  cluster.setupPrimary({
    exec: BIN,
    args: ['serve', '--port', port, '--data-dir', dataDir],
    execArgv: JSON.parse(process.env.PATCHWARDEN_BENCH_NODE_ARGS ?? '[]'),
    silent: false,
  });
  const listening = (worker) =>
    new Promise((resolve, reject) => {
      worker.once('listening', resolve);
      worker.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    });
  const workers = [cluster.fork()];
  await listening(workers[0]);
  for (let i = 1; i < Number(count); i += 1) workers.push(cluster.fork());
  await Promise.all(workers.slice(1).map(listening));
  process.stderr.write(
    `cluster ready on http://127.0.0.1:${port} pids=${workers.map((w) => w.process.pid).join(',')}\n`,
  );
  process.on('SIGTERM', async () => {
    const exits = workers.map((w) => (w.isDead() ? null : new Promise((resolve) => w.once('exit', resolve))));
    // Straight to each process (`worker.kill` would first wait for the IPC channel to disconnect).
    for (const w of workers) if (!w.isDead()) w.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
    }, 10_000).unref();
    await Promise.all(exits);
    process.exit(0);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === SERVE_CLUSTER) {
  await serveCluster(process.argv.slice(3));
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

/** One keep-alive connection per agent in flight: the load generator must cost little CPU itself. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/**
 * A request over `node:http` with keep-alive (cheaper per request than `fetch`). `body` is an object
 * (serialised here) or a string already serialised.
 */
function call(base, method, path, body, token) {
  const url = new URL(path, base);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  return new Promise((resolve, reject) => {
    const request = http.request(
      { agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed = null;
          try {
            parsed = text === '' ? null : JSON.parse(text);
          } catch {
            parsed = { raw: text.slice(0, 200) };
          }
          resolve({ status: response.statusCode, body: parsed, text });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

function feedFiles() {
  const feeds = [];
  for (const [name, path, kind] of [
    ['dsa', `${SHARED}debian-tracker/DSA-list`, 'debian-dsa-list'],
    ['dla', `${SHARED}debian-tracker/DLA-list`, 'debian-dsa-list'],
    ['kev', `${SHARED}kev/known_exploited_vulnerabilities.json`, 'kev'],
  ]) {
    if (existsSync(path)) feeds.push({ name, kind, location: path, scheduleSeconds: null });
  }
  if (feeds.length === 0) {
    const examples = fileURLToPath(new URL('../examples/feeds', import.meta.url));
    feeds.push({ name: 'examples', kind: 'auto', location: examples, scheduleSeconds: null });
  }
  return feeds;
}

const DEBIAN12_OS_RELEASE = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`;
const OS_RELEASE_JSON = JSON.stringify(DEBIAN12_OS_RELEASE);

/** Hosts from `images` images of a real Debian 12 package list topped up to ~1,500, with per-host drift. */
function buildFleet(options, rng) {
  const path = [`${SHARED}inventories/debian12-dpkg-status`, '/var/lib/dpkg/status'].find((p) =>
    existsSync(p),
  );
  const real = core.parseDpkgStatus(readFileSync(path, 'utf8'), path);
  const base = [...real];
  for (let i = 0; base.length < 1500; i += 1) {
    base.push({
      name: `bench-pkg-${i}`,
      version: `1.${i % 17}.${i % 5}-1`,
      architecture: 'amd64',
      source: null,
      ecosystem: 'deb',
    });
  }
  const images = [];
  for (let i = 0; i < options.images; i += 1) {
    // Each image is the base with 2% of the packages at an older version.
    images.push(base.map((p) => (rng() < 0.02 ? { ...p, version: `${p.version}~img${i}` } : p)));
  }
  // `--hot N`: the packages that change on an image's hosts are N of its packages (the same ones
  // on every host of the image, as when a fleet takes the same updates); 0: any package.
  const hot = images.map((image) =>
    options.hot > 0 ? Array.from({ length: options.hot }, () => Math.floor(rng() * image.length)) : null,
  );
  const fleet = [];
  for (let h = 0; h < options.hosts; h += 1) {
    const image = images[h % images.length];
    const packages = image.map((p) => ({
      name: p.name,
      version: rng() < 0.002 ? `${p.version}~host` : p.version,
      architecture: p.architecture,
      source: p.source,
      ecosystem: 'deb',
    }));
    fleet.push({
      name: `bench-host-${h}`,
      machineId: randomBytes(16).toString('hex'),
      packages,
      originals: packages.map((p) => p.version),
      json: packages.map((p) => JSON.stringify(p)),
      hot: hot[h % images.length] === null ? null : [...new Set(hot[h % images.length])],
    });
  }
  return fleet;
}

async function pool(items, concurrency, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const item = items[next];
        next += 1;
        await work(item);
      }
    }),
  );
}

function readRss(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function readCpuTicks(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/**
 * CPU ticks of the PostgreSQL backends serving `database` (`postgres: user database host(port) …`).
 * Ticks of a backend that exits between two readings are lost; the pool keeps its connections
 * open under load.
 */
function postgresBackendTicks(database) {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.startsWith('postgres: ') && cmdline.includes(` ${database} `)) {
        total += readCpuTicks(Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

function readLoadAverage() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    return null;
  }
}

function metricLines(text, name) {
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .map((line) => line.trim());
}

function quantile(sorted, q) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function sum(pids, read) {
  let total = 0;
  for (const pid of pids) total += read(pid);
  return total;
}

function everyNth(values, n) {
  return values.filter((_, i) => i % n === 0 || i === values.length - 1);
}

function mean(values) {
  return values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
}

function round(value, digits) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
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

function parseOptions(args) {
  const options = {
    db: process.env.PATCHWARDEN_TEST_POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'],
    hosts: 2000,
    images: 20,
    concurrency: 64,
    deltaSeconds: 30,
    fullSeconds: 20,
    changes: 3,
    feeds: true,
    seed: 7,
    workers: 1,
    hot: 0,
    serverNodeArgs: [],
  };
  for (let i = 0; i < args.length; i += 1) {
    const flag = args[i];
    const value = args[i + 1];
    switch (flag) {
      case '--db':
        options.db = value.split(',');
        i += 1;
        break;
      case '--hosts':
      case '--images':
      case '--concurrency':
      case '--changes':
      case '--seed':
      case '--workers':
      case '--hot':
        options[flag.slice(2)] = Number(value);
        i += 1;
        break;
      case '--delta-seconds':
        options.deltaSeconds = Number(value);
        i += 1;
        break;
      case '--full-seconds':
        options.fullSeconds = Number(value);
        i += 1;
        break;
      case '--server-node-args':
        options.serverNodeArgs = value.split(' ').filter((a) => a !== '');
        i += 1;
        break;
      case '--no-feeds':
        options.feeds = false;
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  return options;
}
