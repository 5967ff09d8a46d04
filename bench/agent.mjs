// `npm run bench -- agent [--seconds S] [--packages N]` (after `npm run build`).
//
// The agent as a process: a real server runs in this process (SQLite in a temp directory), and
// `patchwarden agent --interval-override 1` runs as a child on a private root whose dpkg status
// holds ~N packages: this machine's /var/lib/dpkg/status and the Debian 12 sample in
// ../shared/data, merged, padded with renamed copies to N (default 1,500). Nothing is installed: the
// agent only reads the status through dpkg-query. Measures, from /proc/<pid>:
//   - the first cycle (node start, enrolment with the full inventory): CPU and wall time;
//   - idle: RSS after S seconds (default 30) of 1-second check-ins, and CPU per check-in after the
//     first (utime+stime over the window / check-ins the server counted in that window);
//   - inventory collection (dpkg-query --status + parse) in this process, median of 5.
// Prints one JSON object.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAptDriver } from '@patchwarden/agent';
import { loadConfig, startServer } from '@patchwarden/server';

const BIN = fileURLToPath(new URL('../packages/cli/bin/patchwarden.js', import.meta.url));
const SHARED_STATUS = fileURLToPath(
  new URL('../../shared/data/inventories/debian12-dpkg-status', import.meta.url),
);
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export async function run(args) {
  const seconds = Number(option(args, '--seconds') ?? 30);
  const target = Number(option(args, '--packages') ?? 1500);
  // Extra flags for the agent's node process, e.g. --node-args="--optimize-for-size".
  const nodeArgs = (option(args, '--node-args') ?? '').split(' ').filter((arg) => arg !== '');
  const work = await mkdtemp(join(tmpdir(), 'pw-bench-agent-'));
  let server;
  let child;
  try {
    const root = join(work, 'root');
    await mkdir(join(root, 'var/lib/dpkg'), { recursive: true });
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(
      join(root, 'etc/os-release'),
      'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    );
    await writeFile(join(root, 'etc/hostname'), 'bench-agent\n');
    const { text, count, sources } = buildStatus(target);
    await writeFile(join(root, 'var/lib/dpkg/status'), text);

    const driver = createAptDriver({ root });
    const times = [];
    let packages = 0;
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      packages = (await driver.readInventory()).length;
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);

    server = await startServer(
      loadConfig({ flags: { port: 0, dataDir: join(work, 'server'), logLevel: 'silent' } }),
    );
    const token = server.bootstrapToken;
    const created = await fetch(`${server.url}/api/v1/enroll-secrets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench' }),
    }).then((r) => r.json());

    const stateDir = join(work, 'state');
    const started = performance.now();
    child = spawn(
      process.execPath,
      [
        ...nodeArgs,
        BIN,
        'agent',
        '--server',
        server.url,
        '--enroll-secret',
        created.secret,
        '--root',
        root,
        '--manager',
        'apt',
        '--state-dir',
        stateDir,
        '--interval-override',
        '1',
        '--log-level',
        'silent',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const pid = child.pid;
    while (!existsSync(join(stateDir, 'inventory.json'))) {
      if (child.exitCode !== null) throw new Error(`agent exited with ${child.exitCode}`);
      await sleep(20);
    }
    const firstCycle = { cpuMs: cpuMs(pid), wallMs: Math.round(performance.now() - started) };
    await sleep(3000); // warm-up: the first heartbeats, JIT
    const cpu0 = cpuMs(pid);
    const checkins0 = await checkins(server.url);
    let peakRssKiB = 0;
    for (let s = 0; s < seconds; s++) {
      await sleep(1000);
      peakRssKiB = Math.max(peakRssKiB, rssKiB(pid));
    }
    const cpu1 = cpuMs(pid);
    const checkins1 = await checkins(server.url);
    const count1 = checkins1 - checkins0;
    const result = {
      benchmark: 'agent',
      inventory: {
        packages,
        statusPackages: count,
        sources,
        readMs: { median: round(times[2]), min: round(times[0]), max: round(times[4]) },
      },
      firstCycle,
      idle: {
        seconds,
        checkins: count1,
        cpuMsPerCheckin: count1 > 0 ? round((cpu1 - cpu0) / count1) : null,
        cpuResolutionMs: 1000 / TICKS_PER_SECOND,
        rssMiB: round(rssKiB(pid) / 1024),
        peakRssMiB: round(peakRssKiB / 1024),
      },
      goals: { idleRssMiB: 60, cpuMsPerCheckin: 10 },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    child?.kill('SIGTERM');
    await server?.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** A dpkg status file of about `target` installed packages (see the header). */
function buildStatus(target) {
  const sources = ['/var/lib/dpkg/status', SHARED_STATUS].filter((p) => existsSync(p));
  const stanzas = new Map();
  for (const path of sources) {
    for (const stanza of readFileSync(path, 'utf8').split(/\n\n+/)) {
      if (!/^Status: install ok installed$/m.test(stanza)) continue;
      const name = /^Package: (.+)$/m.exec(stanza)?.[1];
      const arch = /^Architecture: (.+)$/m.exec(stanza)?.[1];
      if (name !== undefined && !stanzas.has(`${name}:${arch}`))
        stanzas.set(`${name}:${arch}`, stanza.trim());
    }
  }
  const base = [...stanzas.values()];
  const all = [...base];
  for (let i = 0; all.length < target; i++) {
    const copy = base[i % base.length].replace(
      /^Package: (.+)$/m,
      (_m, name) => `Package: pwbench${i}-${name}`,
    );
    all.push(copy);
  }
  return {
    text: `${all.slice(0, Math.max(target, base.length)).join('\n\n')}\n`,
    count: all.length,
    sources,
  };
}

function cpuMs(pid) {
  // /proc/<pid>/stat: fields after the command's closing parenthesis; utime and stime are 14 and 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

async function checkins(url) {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('patchwarden_checkins_total{') && !line.includes('kind="enroll"')) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

function option(args, name) {
  const index = args.indexOf(name);
  return index < 0 ? undefined : args[index + 1];
}

function round(n) {
  return Math.round(n * 100) / 100;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
