import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const TOOLS = ['dpkg', 'dpkg-deb', 'dpkg-query', 'dpkg-scanpackages', 'apt-get'];
const missing = TOOLS.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
const skipReason = missing.length > 0 ? `missing ${missing.join(', ')}` : null;
if (skipReason !== null && process.env.PATCHWARDEN_REQUIRE_TOOLS === '1') {
  throw new Error(`PATCHWARDEN_REQUIRE_TOOLS=1 but ${skipReason}`);
}

interface StatusJson {
  dir: string;
  manager: string;
  feedId: string | null;
  server: { url: string; isOwn: boolean; pid: number; isRunning: boolean; adminTokenFile: string };
  hosts: Array<{
    name: string;
    manager: string;
    patchLevel: string;
    root: string;
    hostId: string | null;
    pid: number;
    isAgentRunning: boolean;
    query: string[];
  }>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped) has an empty command line.
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '';
  } catch {
    return false;
  }
}

async function api(url: string, token: string, path: string): Promise<unknown> {
  const response = await fetch(`${url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  return response.json();
}

describe.skipIf(skipReason !== null)(
  `patchwarden lab (apt)${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let work: string;
    let dir: string;
    let status: StatusJson;
    let up: { code: number | null; stdout: string; stderr: string };

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'pw-lab-cli-'));
      dir = join(work, 'lab');
      up = runCli(['lab', 'up', '--hosts', '3', '--manager', 'apt', '--dir', dir, '--wait', '30']);
    });

    afterAll(async () => {
      // Whatever a failed assertion left running.
      if (existsSync(join(dir, 'lab.json'))) runCli(['lab', 'down', '--dir', dir]);
      await rm(work, { recursive: true, force: true });
    });

    it('up builds the lab, starts its server and agents, and prints the URL, token and what to try', () => {
      expect(up.stderr).toContain('feed patchwarden-lab: synced (6 advisories)');
      expect(up.code).toBe(0);
      const token = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
      expect(token).toMatch(/^pwt_[A-Za-z0-9_-]{32,}$/);
      expect(up.stdout).toMatch(/server: +http:\/\/127\.0\.0\.1:\d+ \(the lab's own, SQLite/);
      expect(up.stdout).toContain(`PATCHWARDEN_TOKEN=${token}`);
      expect(up.stdout).toContain('patchwarden findings list');
    });

    it('status --json lists each host with manager, root, host id and a running agent', () => {
      const result = runCli(['lab', 'status', '--dir', dir, '--json']);
      expect(result.code).toBe(0);
      status = JSON.parse(result.stdout) as StatusJson;

      expect(status.server.isOwn).toBe(true);
      expect(status.server.isRunning).toBe(true);
      expect(status.hosts.map((h) => [h.name, h.manager, h.patchLevel])).toEqual([
        ['lab-apt-01', 'apt', 'outdated'],
        ['lab-apt-02', 'apt', 'partial'],
        ['lab-apt-03', 'apt', 'current'],
      ]);
      for (const host of status.hosts) {
        expect(host.root).toBe(join(dir, 'hosts', host.name, 'root'));
        expect(host.hostId).toMatch(/^[0-9a-f-]{36}$/);
        expect(host.isAgentRunning).toBe(true);
      }
      expect(new Set(status.hosts.map((h) => h.hostId)).size).toBe(3);
    });

    it("roots are at mixed patch levels, as dpkg-query reports from each root's own database", () => {
      const versions = status.hosts.map((host) => {
        const [command, ...args] = host.query;
        const out = execFileSync(command ?? 'dpkg-query', args, { encoding: 'utf8' });
        return Object.fromEntries(
          out
            .trim()
            .split('\n')
            .map((line) => line.split('\t')),
        );
      });

      expect(versions.map((v) => v['pw-openssl'])).toEqual(['1.0-1', '1.1-1', '1.1-1']);
      expect(versions.map((v) => v['pw-curl'])).toEqual(['7.88-1', '7.88-1', '7.88-2']);
      expect(versions.map((v) => v['pw-kernel'])).toEqual(['6.1-1', '6.1-1', '6.1-2']);
      expect(versions.map((v) => v['pw-broken'])).toEqual(['1.0-1', '1.0-1', '1.0-1']);
      // The machine's own dpkg database knows nothing of the lab.
      expect(spawnSync('dpkg-query', ['-W', 'pw-openssl']).status).not.toBe(0);
    });

    it('scan of a root with its os-release finds the lab advisories offline', () => {
      const root = status.hosts[0]?.root ?? '';
      const result = runCli([
        'scan',
        '--dpkg-status',
        join(root, 'var/lib/dpkg/status'),
        '--os-release',
        join(root, 'etc/os-release'),
        '--advisories',
        join(dir, 'feed'),
        '--format',
        'json',
        '--offline',
      ]);
      expect(result.code).toBe(0);
      const report = JSON.parse(result.stdout) as {
        findings: Array<{ package: string; advisories: string[] }>;
      };
      expect(report.findings.flatMap((f) => f.advisories).sort()).toEqual([
        'PWLAB-2026-0001',
        'PWLAB-2026-0002',
        'PWLAB-2026-0003',
        'PWLAB-2026-0004',
        'PWLAB-2026-0005',
        'PWLAB-2026-0006',
      ]);
    });

    it('the server has the three hosts with findings from the lab feed', async () => {
      const token = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
      const deadline = Date.now() + 20_000;
      let open: Record<string, string[]> = {};
      while (Date.now() < deadline) {
        const { findings } = (await api(status.server.url, token, '/findings?limit=500')) as {
          findings: Array<{ hostName: string; advisoryId: string; status: string }>;
        };
        open = {};
        for (const f of findings) {
          open[f.hostName] = [...(open[f.hostName] ?? []), f.advisoryId.replace(/^osv:/, '')];
        }
        if (Object.keys(open).length === 3) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const { hosts } = (await api(status.server.url, token, '/hosts')) as {
        hosts: Array<{ id: string; name: string; os: { distro: string; version: string } | null }>;
      };

      expect(hosts.map((h) => [h.name, h.os?.distro, h.os?.version]).sort()).toEqual([
        ['lab-apt-01', 'debian', '12'],
        ['lab-apt-02', 'debian', '12'],
        ['lab-apt-03', 'debian', '12'],
      ]);
      expect(hosts.map((h) => h.id).sort()).toEqual(status.hosts.map((h) => h.hostId).sort());
      expect(open['lab-apt-01']?.sort()).toEqual([
        'PWLAB-2026-0001',
        'PWLAB-2026-0002',
        'PWLAB-2026-0003',
        'PWLAB-2026-0004',
        'PWLAB-2026-0005',
        'PWLAB-2026-0006',
      ]);
      expect(open['lab-apt-02']?.sort()).toEqual(['PWLAB-2026-0003', 'PWLAB-2026-0005', 'PWLAB-2026-0006']);
      expect(open['lab-apt-03']).toEqual(['PWLAB-2026-0006']);
    });

    it('a second lab joins that server with an enrolment secret, and its down leaves the server running', async () => {
      const token = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
      const created = await fetch(`${status.server.url}/api/v1/enroll-secrets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'lab-join-test' }),
      });
      expect(created.status).toBe(201);
      const { secret } = (await created.json()) as { secret: string };
      const dir2 = join(work, 'joined');
      const joined = runCli(
        [
          ...['lab', 'up', '--hosts', '1', '--dir', dir2, '--prefix', 'joined'],
          ...['--server', status.server.url, '--enroll-secret', secret],
        ],
        undefined,
        { PATCHWARDEN_TOKEN: '' },
      );
      const joinedStatus = JSON.parse(
        runCli(['lab', 'status', '--dir', dir2, '--json']).stdout,
      ) as StatusJson;
      const down = runCli(['lab', 'down', '--dir', dir2, '--json']);
      const { hosts } = (await api(status.server.url, token, '/hosts')) as {
        hosts: Array<{ id: string; name: string }>;
      };

      expect(joined.code).toBe(0);
      expect(joined.stdout).toContain('no admin token');
      expect(joined.stdout).not.toContain(token);
      expect(joinedStatus.server).toMatchObject({ url: status.server.url, isOwn: false, isRunning: null });
      expect(hosts.find((h) => h.name === 'joined-apt-01')?.id).toBe(joinedStatus.hosts[0]?.hostId);
      expect(JSON.parse(down.stdout)).toEqual({ dir: dir2, agentsStopped: 1, isServerStopped: false });
      expect(isAlive(status.server.pid)).toBe(true);
    });

    it('up refuses a directory that already holds a lab', () => {
      const again = runCli(['lab', 'up', '--hosts', '1', '--dir', dir]);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain('LAB_EXISTS');
    });

    it('down stops the agents and the server and removes the directory', async () => {
      const pids = [status.server.pid, ...status.hosts.map((h) => h.pid)];
      const result = runCli(['lab', 'down', '--dir', dir, '--json']);

      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({ dir, agentsStopped: 3, isServerStopped: true });
      expect(existsSync(dir)).toBe(false);
      expect(pids.filter(isAlive)).toEqual([]);
      const status2 = runCli(['lab', 'status', '--dir', dir]);
      expect(status2.code).toBe(2);
      expect(status2.stderr).toContain('LAB_NOT_FOUND');
    });
  },
);

describe('patchwarden lab usage', () => {
  it.each([
    [['lab'], 'a subcommand is required'],
    [['lab', 'up', '--manager', 'yum'], '--manager must be one of apt, dnf, zypper, pacman'],
    [['lab', 'up', '--hosts', 'x'], '--hosts must be a whole number'],
    [['lab', 'up', '--server', 'http://x'], '--server and --enroll-secret go together'],
    [['lab', 'status', '--hosts', '3'], '--hosts is an option of `lab up`'],
  ])('%j is refused: %s', (args, message) => {
    const result = runCli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('down refuses a directory without a lab and leaves it alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pw-not-a-lab-'));
    try {
      const result = runCli(['lab', 'down', '--dir', dir]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('LAB_NOT_FOUND');
      expect(existsSync(dir)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
