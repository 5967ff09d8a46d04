import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { RPM_QA_QUERY_FORMAT } from '@patchwarden/core';
import { createRpmRepository, LAB_TOOLS, type LabManager, removeFromAptRepository } from '@patchwarden/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliAsync } from './run-cli.js';

/**
 * End-to-end flow of one package manager: `patchwarden lab up` (its own server on SQLite, two hosts:
 * 'outdated' for findings, install, rollback and the failing maintainer script, 'partial' for the
 * crash tests, which may leave a root needing repair; the real manager in private roots; real agent
 * processes), then the built `patchwarden agent --once` on each host's state directory for every
 * step, so that a job is picked up at once instead of on the lab's 15-second interval. Versions are
 * checked with the manager's own query in the root. One file per manager (`e2e-<manager>.test.ts`)
 * says what that manager does where they differ.
 */

const BIN = fileURLToPath(new URL('../bin/patchwarden.js', import.meta.url));

/** What the broken version's failing maintainer script leaves, per manager (see the catalog). */
export interface BrokenOutcome {
  /** Words for the test title. */
  title: string;
  /** pw-broken by the manager's own query after the failed job. */
  state: { version: string | null; isFullyInstalled: boolean };
  /** The open findings of pw-broken after the failed job (`package version advisory`). */
  openFindings: string[];
}

export interface LabE2eOptions {
  manager: LabManager;
  /** The OSV feed has an ecosystem for the lab's OS (not for Arch). */
  hasFindings: boolean;
  broken: BrokenOutcome;
  /**
   * What the manager's own query shows for pw-hello after the agent was killed (SIGKILL) while the
   * manager ran an install of 2.0-1 (from 1.0-1) and the manager's run then ended on its own.
   */
  crash: {
    state: { version: string | null; isFullyInstalled: boolean };
    why: string;
  };
  /** Whether a child process of the agent (its argv) is the manager's change, not a query. */
  isChange: (argv: string[]) => boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: API replies are read loosely in assertions
type ApiReply = { status: number; json: any };

interface Cli {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface LabHost {
  name: string;
  root: string;
  stateDir: string;
  pid: number;
  hostId: string;
}

interface CycleReport {
  checkins: string[];
  jobs: Array<{ id: string; kind: string; status: string; outcome: string }>;
}

interface Finding {
  packageName: string;
  installedVersion: string;
  advisoryId: string;
  status: string;
}

interface JobEntry {
  state: string;
  failureReason: string | null;
  result: {
    stdout: string;
    stderr: string;
    message: string;
    before: Array<{ name: string; version: string | null }>;
    after: Array<{ name: string; version: string | null }>;
  } | null;
}

/** Children get no PATCHWARDEN_* of ours (a database URL meant for another server, a token). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!key.startsWith('PATCHWARDEN_')) env[key] = value;
  return env;
}

/** Runs the built binary without blocking the event loop. */
function cli(args: string[]): Promise<Cli> {
  return runCliAsync(args, childEnv());
}

function missingTools(manager: LabManager): string[] {
  return LAB_TOOLS[manager].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
}

/** Why the suite cannot run here, or null. Throws under PATCHWARDEN_REQUIRE_TOOLS=1. */
function skipReasonOf(manager: LabManager): string | null {
  const missing = missingTools(manager);
  let reason: string | null = null;
  if (missing.length > 0) reason = `missing ${missing.join(', ')}`;
  else if ((manager === 'dnf' || manager === 'pacman') && process.getuid?.() !== 0) {
    reason = `${manager} in a private root needs root`;
  }
  if (reason !== null && process.env.PATCHWARDEN_REQUIRE_TOOLS === '1') {
    throw new Error(`PATCHWARDEN_REQUIRE_TOOLS=1 but ${reason}`);
  }
  return reason;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return readFileSyncSafe(`/proc/${pid}/cmdline`) !== '';
  } catch {
    return false;
  }
}

function readFileSyncSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

async function waitUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | null>,
  stepMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Processes whose command line or environment names `marker`, with their argv. */
async function processesNaming(marker: string): Promise<Array<{ pid: number; argv: string[] }>> {
  const found: Array<{ pid: number; argv: string[] }> = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    const argv = cmdline.split('\u0000').filter((a) => a !== '');
    // apt-get finds its root through APT_CONFIG, not its arguments.
    const environ = await readFile(`/proc/${entry}/environ`, 'utf8').catch(() => '');
    if (argv.some((a) => a.includes(marker)) || environ.includes(marker))
      found.push({ pid: Number(entry), argv });
  }
  return found;
}

/**
 * Busy-waits (synchronously: a package manager may run for only a few milliseconds) until the
 * agent `agentPid` has journaled `change-started` for `jobId` and has a child that `isChange`
 * calls the manager's change; returns that child's pid. Throws after 30 s.
 */
function catchChange(
  agentPid: number,
  journal: string,
  jobId: string,
  isChange: (argv: string[]) => boolean,
): number {
  const deadline = Date.now() + 30_000;
  const marker = `"step":"change-started","jobId":"${jobId}"`;
  let isStarted = false;
  while (Date.now() < deadline) {
    if (!isStarted) {
      isStarted = existsSync(journal) && readFileSync(journal, 'utf8').includes(marker);
      continue;
    }
    let children: string[];
    try {
      children = readFileSync(`/proc/${agentPid}/task/${agentPid}/children`, 'utf8').trim().split(/\s+/);
    } catch {
      throw new Error(`the agent (pid ${agentPid}) exited before its package manager was seen`);
    }
    for (const child of children.filter((c) => c !== '')) {
      let argv: string[];
      try {
        argv = readFileSync(`/proc/${child}/cmdline`, 'utf8')
          .split('\u0000')
          .filter((a) => a !== '');
      } catch {
        continue; // exited while we looked
      }
      if (isChange(argv)) return Number(child);
    }
  }
  throw new Error(
    `timed out: no package manager change of job ${jobId} seen (journal: ${isStarted ? 'change-started' : 'not started'})`,
  );
}

async function findFiles(dir: string, name: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await findFiles(path, name)));
    else if (entry.name === name) found.push(path);
  }
  return found;
}

export function describeLabE2e(options: LabE2eOptions): void {
  const { manager } = options;
  const skipReason = skipReasonOf(manager);

  describe.skipIf(skipReason !== null)(
    `end to end with ${manager}: lab, server, agent, jobs${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
    () => {
      let work: string;
      let dir: string;
      let url: string;
      let token: string;
      let repoDir: string;
      let feedDir: string;
      let host: LabHost;
      /** A second host (the 'partial' level) for the crash test, which may leave its root needing repair. */
      let crashHost: LabHost;
      let installJob: string;

      async function api(method: string, path: string, body?: unknown): Promise<ApiReply> {
        const response = await fetch(`${url}/api/v1${path}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await response.text();
        return { status: response.status, json: text === '' ? null : JSON.parse(text) };
      }

      /** name → version (and, for apt, dpkg's status abbreviation), from the manager's own query. */
      function nativeVersions(h: LabHost = host): Record<string, string> {
        const root = h.root;
        let argv: string[];
        switch (manager) {
          case 'apt':
            argv = ['dpkg-query', `--admindir=${root}/var/lib/dpkg`, '-W'];
            break;
          case 'dnf':
          case 'zypper':
            argv = [
              'rpm',
              '--root',
              root,
              '--dbpath',
              '/var/lib/rpm',
              '-qa',
              '--qf',
              '%{NAME}\t%{VERSION}-%{RELEASE}\n',
            ];
            break;
          case 'pacman':
            argv = ['pacman', '--config', `${root}/etc/pacman.conf`, '-Q'];
            break;
        }
        const [command, ...args] = argv;
        const result = spawnSync(command ?? '', args, { encoding: 'utf8' });
        expect(result.status, `${argv.join(' ')}: ${result.stderr}`).toBe(0);
        const versions: Record<string, string> = {};
        for (const line of result.stdout.trim().split('\n')) {
          const [name, version] = line.split(/[\t ]/);
          if (name !== undefined && version !== undefined) versions[name] = version;
        }
        return versions;
      }

      /** `name`'s version by the manager's own query, and whether the manager calls it fully installed. */
      function packageState(h: LabHost, name: string): { version: string | null; isFullyInstalled: boolean } {
        if (manager !== 'apt') {
          const version = nativeVersions(h)[name] ?? null;
          return { version, isFullyInstalled: version !== null };
        }
        const result = spawnSync(
          'dpkg-query',
          [`--admindir=${h.root}/var/lib/dpkg`, '-W', '-f', '$' + '{Version} $' + '{db:Status-Abbrev}', name],
          { encoding: 'utf8' },
        );
        expect(result.status, result.stderr).toBe(0);
        const [version, status] = result.stdout.trim().split(' ');
        return { version: version ?? null, isFullyInstalled: status === 'ii' };
      }

      async function createJob(body: Record<string, unknown>): Promise<string> {
        const created = await api('POST', '/jobs', body);
        expect(created.status, JSON.stringify(created.json)).toBe(201);
        return created.json.job.id as string;
      }

      async function jobEntry(jobId: string): Promise<JobEntry> {
        const shown = await api('GET', `/jobs/${jobId}`);
        expect(shown.status).toBe(200);
        return shown.json.hosts[0] as JobEntry;
      }

      function agentArgs(h: LabHost = host): string[] {
        return [
          ...['agent', '--server', url, '--root', h.root, '--manager', manager],
          ...['--state-dir', h.stateDir, '--once', '--log-level', 'silent'],
        ];
      }

      async function agentOnce(h: LabHost = host): Promise<CycleReport> {
        const result = await cli(agentArgs(h));
        expect(result.stderr).toBe('');
        return JSON.parse(result.stdout) as CycleReport;
      }

      async function findings(status: 'open' | 'fixed', h: LabHost = host): Promise<string[]> {
        const listed = await api('GET', `/findings?host=${h.hostId}&status=${status}&limit=500`);
        expect(listed.status).toBe(200);
        return (listed.json.findings as Finding[])
          .map((f) => `${f.packageName} ${f.installedVersion} ${f.advisoryId.replace(/^osv:/, '')}`)
          .sort();
      }

      async function serverInventory(): Promise<Record<string, string>> {
        const detail = await api('GET', `/hosts/${host.hostId}`);
        expect(detail.status).toBe(200);
        return Object.fromEntries(
          (detail.json.packages as Array<{ name: string; version: string }>).map((p) => [p.name, p.version]),
        );
      }

      async function scanOfRoot(h: LabHost = host): Promise<string[]> {
        const root = h.root;
        let inventory: string[];
        if (manager === 'apt') inventory = ['--dpkg-status', `${root}/var/lib/dpkg/status`];
        else if (manager === 'pacman') inventory = ['--pacman-db', `${root}/var/lib/pacman`];
        else {
          const qa = spawnSync(
            'rpm',
            ['--root', root, '--dbpath', '/var/lib/rpm', '-qa', '--qf', RPM_QA_QUERY_FORMAT],
            {
              encoding: 'utf8',
            },
          );
          expect(qa.status).toBe(0);
          const file = join(work, 'rpm-qa.txt');
          await writeFile(file, qa.stdout);
          inventory = ['--rpm-qa', file];
        }
        const result = await cli([
          'scan',
          ...inventory,
          ...[
            '--os-release',
            `${root}/etc/os-release`,
            '--advisories',
            feedDir,
            '--format',
            'json',
            '--offline',
          ],
        ]);
        expect(result.code, result.stderr).toBe(0);
        const report = JSON.parse(result.stdout) as {
          findings: Array<{ package: string; installedVersion: string; advisories: string[] }>;
        };
        return report.findings
          .flatMap((f) => f.advisories.map((a) => `${f.package} ${f.installedVersion} ${a}`))
          .sort();
      }

      beforeAll(async () => {
        work = await mkdtemp(join(tmpdir(), `pw-e2e-${manager}-`));
        dir = join(work, 'lab');
        const up = await cli([
          'lab',
          'up',
          '--hosts',
          '2',
          '--manager',
          manager,
          '--dir',
          dir,
          '--wait',
          '30',
          '--json',
        ]);
        expect(up.code, up.stderr).toBe(0);
        const lab = JSON.parse(up.stdout) as {
          state: {
            repoDir: string;
            feedDir: string;
            server: { url: string };
            hosts: Array<{ name: string; root: string; stateDir: string; pid: number; patchLevel: string }>;
          };
          adminToken: string;
          notEnrolled: string[];
        };
        expect(lab.notEnrolled).toEqual([]);
        url = lab.state.server.url;
        token = lab.adminToken;
        repoDir = join(dir, 'repo');
        feedDir = lab.state.feedDir;
        const labHosts: LabHost[] = [];
        for (const h of lab.state.hosts) {
          const identity = JSON.parse(await readFile(join(h.stateDir, 'identity.json'), 'utf8')) as {
            hostId: string;
          };
          labHosts.push({ ...h, hostId: identity.hostId });
        }
        expect(lab.state.hosts.map((h) => h.patchLevel)).toEqual(['outdated', 'partial']);
        [host, crashHost] = labHosts as [LabHost, LabHost];
      }, 120_000);

      afterAll(async () => {
        if (dir !== undefined && existsSync(join(dir, 'lab.json'))) await cli(['lab', 'down', '--dir', dir]);
        if (work !== undefined) await rm(work, { recursive: true, force: true });
      });

      it(`each lab host's findings on the server are what \`patchwarden scan\` finds in its root${options.hasFindings ? '' : ' (none: OSV has no Arch Linux ecosystem)'}`, async () => {
        const expected = [await scanOfRoot(host), await scanOfRoot(crashHost)];
        const counts = await waitUntil('both hosts and their inventories on the server', 20_000, async () => {
          const details = await Promise.all([host, crashHost].map((h) => api('GET', `/hosts/${h.hostId}`)));
          return details.every((d) => d.status === 200 && d.json.packageCount > 0)
            ? details.map((d) => d.json.packageCount as number)
            : null;
        });
        const open = await waitUntil('the findings of the enrolments', 20_000, async () => {
          const now = [await findings('open', host), await findings('open', crashHost)];
          return now.every((f, i) => f.length === expected[i]?.length) ? now : null;
        }).catch(async () => [await findings('open', host), await findings('open', crashHost)]);

        expect(open).toEqual(expected);
        expect(counts).toEqual([7, 7]);
        if (options.hasFindings) {
          // outdated: every advisory; partial: pw-curl, pw-kernel, pw-broken (docs/lab.md).
          expect(new Set(expected[0]?.map((f) => f.split(' ')[2]))).toEqual(
            new Set([
              'PWLAB-2026-0001',
              'PWLAB-2026-0002',
              'PWLAB-2026-0003',
              'PWLAB-2026-0004',
              'PWLAB-2026-0005',
              'PWLAB-2026-0006',
            ]),
          );
          expect(expected[0]).toContain('pw-openssl 1.0-1 PWLAB-2026-0001');
          expect(expected[1]).toEqual([
            'pw-broken 1.0-1 PWLAB-2026-0006',
            'pw-curl 7.88-1 PWLAB-2026-0003',
            'pw-kernel 6.1-1 PWLAB-2026-0005',
          ]);
        } else {
          expect(expected).toEqual([[], []]);
        }
      });

      it('hands the hosts over from the lab agents to `agent --once` on the same state directories', async () => {
        // The lab's agents check in every ~15 s; the tests drive the hosts one cycle at a time.
        for (const h of [host, crashHost]) {
          expect(readFileSyncSafe(`/proc/${h.pid}/cmdline`)).toContain(h.stateDir);
          process.kill(h.pid, 'SIGTERM');
        }
        for (const h of [host, crashHost]) {
          await waitUntil('the lab agent to stop', 15_000, async () => (isAlive(h.pid) ? null : true));
        }

        const reports = [await agentOnce(host), await agentOnce(crashHost)];

        expect(reports.map((r) => r.checkins)).toEqual([['heartbeat'], ['heartbeat']]);
        expect(reports.map((r) => r.jobs)).toEqual([[], []]);
      });

      it('an install job upgrades the package in the root, and the check-in after it closes the findings', async () => {
        installJob = await createJob({
          kind: 'install',
          hosts: [host.hostId],
          packages: [{ name: 'pw-openssl', version: '1.1-1' }],
        });

        const report = await agentOnce();
        const entry = await jobEntry(installJob);
        const versions = nativeVersions();
        const open = await findings('open');
        const fixed = await findings('fixed');

        expect(report.jobs).toEqual([
          { id: installJob, kind: 'install', status: 'succeeded', outcome: 'ran' },
        ]);
        expect(entry.state).toBe('succeeded');
        expect(entry.result?.before).toEqual([
          expect.objectContaining({ name: 'pw-openssl', version: '1.0-1' }),
        ]);
        expect(entry.result?.after).toEqual([
          expect.objectContaining({ name: 'pw-openssl', version: '1.1-1' }),
        ]);
        expect(versions['pw-openssl']).toBe('1.1-1');
        expect(open.filter((f) => f.startsWith('pw-openssl '))).toEqual([]);
        expect(open).toEqual(await scanOfRoot());
        if (options.hasFindings) {
          expect(fixed).toEqual(['pw-openssl 1.0-1 PWLAB-2026-0001', 'pw-openssl 1.0-1 PWLAB-2026-0002']);
        }
      });

      it(`rollback restores the exact previous version after the repository dropped it`, async () => {
        const dropped = await dropFromRepository('pw-openssl', '1.0-1');

        const rollback = await createJob({ kind: 'rollback', rollbackOf: installJob });
        const report = await agentOnce();
        const entry = await jobEntry(rollback);
        const versions = nativeVersions();

        expect(dropped.length).toBeGreaterThan(0);
        for (const file of dropped) expect(existsSync(file)).toBe(false);
        expect(report.jobs, JSON.stringify(entry.result)).toEqual([
          { id: rollback, kind: 'rollback', status: 'succeeded', outcome: 'ran' },
        ]);
        expect(entry.state).toBe('succeeded');
        expect(versions['pw-openssl']).toBe('1.0-1');
        if (options.hasFindings) {
          expect(await findings('open')).toContain('pw-openssl 1.0-1 PWLAB-2026-0001');
        }
      });

      it('an agent killed (SIGKILL) after the package manager finished, before it journaled that: on restart it reports success from the inventory and does not run the change again', async () => {
        const jobId = await createJob({
          kind: 'install',
          hosts: [crashHost.hostId],
          packages: [{ name: 'pw-curl', version: '7.88-2' }],
        });
        const journal = join(crashHost.stateDir, 'journal.jsonl');
        const agent = spawn(process.execPath, [BIN, ...agentArgs(crashHost)], {
          env: childEnv(),
          stdio: 'ignore',
        });
        const agentPid = agent.pid ?? -1;
        let isAgentStopped = false;
        let journalAtKill = '';
        try {
          const change = catchChange(agentPid, journal, jobId, options.isChange);
          // Freeze the agent; the manager runs to its end (its output fits the pipe) and stays a
          // zombie, since the frozen agent cannot reap it. Then the agent dies.
          process.kill(agentPid, 'SIGSTOP');
          isAgentStopped = true;
          await waitUntil('the package manager to exit', 60_000, async () => {
            const stat = await readFile(`/proc/${change}/stat`, 'utf8').catch(() => '');
            return stat === '' || /^\d+ \(.*\) Z/.test(stat) ? true : null;
          });
          journalAtKill = await readFile(journal, 'utf8');
          process.kill(agentPid, 'SIGKILL');
          await waitUntil('the agent to die', 5_000, async () =>
            agent.exitCode !== null || agent.signalCode !== null ? true : null,
          );
        } finally {
          if (agent.exitCode === null && agent.signalCode === null) {
            agent.kill('SIGKILL');
            if (isAgentStopped) agent.kill('SIGCONT');
          }
        }
        const truth = packageState(crashHost, 'pw-curl');
        const versionsBefore = nativeVersions(crashHost);

        const report = await agentOnce(crashHost);
        const entry = await jobEntry(jobId);

        expect(journalAtKill).toContain(`"step":"change-started","jobId":"${jobId}"`);
        expect(journalAtKill).not.toContain(`"step":"change-finished","jobId":"${jobId}"`);
        expect(truth).toEqual({ version: '7.88-2', isFullyInstalled: true });
        expect(report.jobs, JSON.stringify(entry.result)).toEqual([
          { id: jobId, kind: 'install', status: 'succeeded', outcome: 'recovered' },
        ]);
        expect(entry.state).toBe('succeeded');
        expect(entry.result?.after).toEqual([
          expect.objectContaining({ name: 'pw-curl', version: '7.88-2' }),
        ]);
        expect(nativeVersions(crashHost)).toEqual(versionsBefore);
        expect(await findings('open', crashHost)).toEqual(await scanOfRoot(crashHost));
      });

      it(`an agent killed (SIGKILL) while the package manager runs: on restart it reports the true outcome (${options.crash.why})`, async () => {
        const jobId = await createJob({
          kind: 'install',
          hosts: [crashHost.hostId],
          packages: [{ name: 'pw-hello', version: '2.0-1' }],
        });
        const journal = join(crashHost.stateDir, 'journal.jsonl');
        const agent = spawn(process.execPath, [BIN, ...agentArgs(crashHost)], {
          env: childEnv(),
          stdio: 'ignore',
        });
        const agentPid = agent.pid ?? -1;
        let stopped: number | null = null;
        let journalAtKill = '';
        try {
          const change = catchChange(agentPid, journal, jobId, options.isChange);
          process.kill(change, 'SIGSTOP');
          stopped = change;
          process.kill(agentPid, 'SIGKILL');
          await waitUntil('the agent to die', 5_000, async () =>
            agent.exitCode !== null || agent.signalCode !== null ? true : null,
          );
          journalAtKill = await readFile(journal, 'utf8');
        } finally {
          if (stopped !== null) process.kill(stopped, 'SIGCONT');
          if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
        }
        // The orphaned manager finishes its change; then the agent starts again.
        await waitUntil('the package manager to finish', 60_000, async () =>
          (await processesNaming(crashHost.root)).length === 0 ? true : null,
        );
        const truth = packageState(crashHost, 'pw-hello');
        const versionsBefore = nativeVersions(crashHost);

        const report = await agentOnce(crashHost);
        const entry = await jobEntry(jobId);
        const again = await agentOnce(crashHost);

        expect(journalAtKill).toContain(`"step":"change-started","jobId":"${jobId}"`);
        expect(journalAtKill).not.toContain(`"step":"change-finished","jobId":"${jobId}"`);
        // What the manager left once its orphaned run ended, by its own query.
        expect(
          truth,
          `${JSON.stringify(entry.result)} ${JSON.stringify(await readdir(join(crashHost.root, 'var/lib/pacman')).catch(() => []))}`,
        ).toEqual(options.crash.state);
        const isInstalled = truth.version === '2.0-1' && truth.isFullyInstalled;
        expect(report.jobs).toEqual([
          { id: jobId, kind: 'install', status: isInstalled ? 'succeeded' : 'failed', outcome: 'recovered' },
        ]);
        expect(entry.state).toBe(isInstalled ? 'succeeded' : 'failed');
        if (isInstalled) {
          expect(entry.result?.after).toEqual([
            expect.objectContaining({ name: 'pw-hello', version: '2.0-1' }),
          ]);
        } else {
          expect(entry.failureReason).toBe('unknown');
          expect(entry.result?.message).toContain('not as expected: pw-hello 2.0-1');
        }
        // The change was not run again.
        expect(nativeVersions(crashHost)).toEqual(versionsBefore);
        expect(packageState(crashHost, 'pw-hello')).toEqual(truth);
        expect(again.jobs).toEqual([]);
        expect(await findings('open', crashHost)).toEqual(await scanOfRoot(crashHost));
      });

      it(`after that crash the host takes the job again: a new install of pw-hello 2.0-1 succeeds`, async () => {
        const jobId = await createJob({
          kind: 'install',
          hosts: [crashHost.hostId],
          packages: [{ name: 'pw-hello', version: '2.0-1' }],
        });

        const report = await agentOnce(crashHost);
        const entry = await jobEntry(jobId);

        expect(report.jobs, JSON.stringify(entry.result)).toEqual([
          { id: jobId, kind: 'install', status: 'succeeded', outcome: 'ran' },
        ]);
        expect(packageState(crashHost, 'pw-hello')).toEqual({ version: '2.0-1', isFullyInstalled: true });
      });

      it(`a job installing pw-broken 1.1-1 (failing maintainer script) fails as maintainer-script; ${options.broken.title}`, async () => {
        const jobId = await createJob({
          kind: 'install',
          hosts: [host.hostId],
          packages: [{ name: 'pw-broken', version: '1.1-1' }],
        });

        const report = await agentOnce();
        const entry = await jobEntry(jobId);

        expect(report.jobs).toEqual([{ id: jobId, kind: 'install', status: 'failed', outcome: 'ran' }]);
        expect(entry.state).toBe('failed');
        expect(entry.failureReason).toBe('maintainer-script');
        expect(`${entry.result?.stdout}\n${entry.result?.stderr}`).toContain('failing on purpose');
        expect(packageState(host, 'pw-broken')).toEqual(options.broken.state);
      });

      it(`after the failure the server's inventory of the host is what the manager's query shows`, async () => {
        const versions = nativeVersions();
        const serverVersions = await serverInventory();
        const open = await findings('open');

        expect(serverVersions).toEqual(versions);
        expect(open.filter((f) => f.startsWith('pw-broken '))).toEqual(options.broken.openFindings);
        expect(open).toEqual(await scanOfRoot());
      });

      it(`after the failure the host stays usable: a later install job succeeds`, async () => {
        const jobId = await createJob({
          kind: 'install',
          hosts: [host.hostId],
          packages: [{ name: 'pw-zlib', version: '1.3-1' }],
        });

        const report = await agentOnce();
        const entry = await jobEntry(jobId);

        expect(nativeVersions()['pw-zlib']).toBe('1.3-1');
        expect(report.jobs, JSON.stringify(entry.result)).toEqual([
          { id: jobId, kind: 'install', status: 'succeeded', outcome: 'ran' },
        ]);
      });

      /** Deletes `name` `version` from the lab repository (and pacman's pool) and re-indexes it. */
      async function dropFromRepository(name: string, version: string): Promise<string[]> {
        switch (manager) {
          case 'apt': {
            const file = `${name}_${version}_all.deb`;
            const files = await findFiles(repoDir, file);
            await removeFromAptRepository(repoDir, [file]);
            return files;
          }
          case 'dnf':
          case 'zypper': {
            const files = await findFiles(repoDir, `${name}-${version}.noarch.rpm`);
            for (const file of files) await unlink(file);
            await createRpmRepository(repoDir);
            return files;
          }
          case 'pacman': {
            // The pacman repository serves only the newest version; older ones live in the pool.
            const files = await findFiles(repoDir, `${name}-${version}-any.pkg.tar.gz`);
            for (const file of files) await unlink(file);
            return files;
          }
        }
      }
    },
  );
}
