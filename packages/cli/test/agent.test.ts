import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAptRepository, createAptRoot } from '@patchwarden/lab';
import { loadConfig, type RunningServer, startServer } from '@patchwarden/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from './run-cli.js';

const BIN = fileURLToPath(new URL('../bin/patchwarden.js', import.meta.url));

/** The binary, run without blocking this process (the server answering it runs here). */
function runAgent(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const TOOLS = ['apt-get', 'dpkg', 'dpkg-query', 'dpkg-deb', 'dpkg-scanpackages', 'apt-ftparchive'];
const missing = TOOLS.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
const skipReason = missing.length > 0 ? `missing ${missing.join(', ')}` : null;

function dpkgStatus(root: string, name: string): string {
  return spawnSync(
    'dpkg-query',
    [`--admindir=${root}/var/lib/dpkg`, '-W', `-f=\${Version} \${db:Status-Abbrev}`, name],
    { encoding: 'utf8' },
  ).stdout.trim();
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(skipReason !== null)('patchwarden agent (the built binary)', () => {
  let work: string;
  let server: RunningServer;
  let token: string;
  let root: string;
  let args: string[];

  async function api(method: string, path: string, body?: unknown) {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: API replies are read loosely in assertions
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'pw-cli-agent-'));
    const repo = await buildAptRepository(join(work, 'repo'), [
      { name: 'pms-hello', version: '1.0' },
      { name: 'pms-slow', version: '1.0', postinstSleepSeconds: 3 },
    ]);
    root = (await createAptRoot(join(work, 'root'), repo.dir)).root;
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(join(root, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian 12"\n');
    expect(
      spawnSync('apt-get', ['-q', 'update'], {
        env: { ...process.env, APT_CONFIG: join(root, 'etc/apt/apt.conf') },
      }).status,
    ).toBe(0);
    server = await startServer(
      loadConfig({ flags: { port: 0, dataDir: join(work, 'server'), logLevel: 'silent' } }),
    );
    token = server.bootstrapToken ?? '';
    const secret = await api('POST', '/api/v1/enroll-secrets', { name: 'cli' });
    args = [
      'agent',
      '--server',
      server.url,
      '--enroll-secret',
      secret.json.secret,
      '--root',
      root,
      '--manager',
      'apt',
      '--state-dir',
      join(work, 'state'),
      '--hostname',
      'cli-host',
      '--log-level',
      'silent',
    ];
  });

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('enrols with --once, and after kill -9 mid-install reports the true outcome without installing again', async () => {
    const first = await runAgent([...args, '--once']);
    const report = JSON.parse(first.stdout);
    const hostId = JSON.parse(await readFile(join(work, 'state/identity.json'), 'utf8')).hostId;
    const mode = (await stat(join(work, 'state/identity.json'))).mode & 0o777;
    const job = await api('POST', '/api/v1/jobs', {
      kind: 'install',
      hosts: [hostId],
      packages: [{ name: 'pms-slow', version: '1.0' }],
    });
    const jobId = job.json.job.id;

    // The agent starts the install; the package's postinst runs (and sleeps); the agent is killed.
    const running = startCli([...args, '--once']);
    await until(() => existsSync(join(root, 'run/pms-slow.postinst-started')), 20_000);
    running.child.kill('SIGKILL');
    // apt-get runs in its own process group and finishes on its own.
    await until(() => dpkgStatus(root, 'pms-slow') === '1.0 ii', 20_000);
    const journal = await readFile(join(work, 'state/journal.jsonl'), 'utf8');
    const restarted = await runAgent([...args, '--once']);
    const after = JSON.parse(restarted.stdout);
    const shown = await api('GET', `/api/v1/jobs/${jobId}`);
    const installs = (await readFile(join(root, 'var/log/dpkg.log'), 'utf8'))
      .split('\n')
      .filter((line) => / install pms-slow:/.test(line));

    expect(first.code).toBe(0);
    expect(report).toMatchObject({ enrolled: true, jobs: [] });
    expect(mode).toBe(0o600);
    expect(journal).toContain('"step":"change-started"');
    expect(journal).not.toContain('"step":"change-finished"');
    expect(restarted.code).toBe(0);
    expect(after.jobs).toEqual([{ id: jobId, kind: 'install', status: 'succeeded', outcome: 'recovered' }]);
    expect(shown.json.hosts[0].state).toBe('succeeded');
    expect(shown.json.hosts[0].result.after).toEqual([
      { name: 'pms-slow', architecture: 'all', version: '1.0' },
    ]);
    expect(installs).toHaveLength(1);
  });

  it('refuses a bad --manager with a usage error', () => {
    const result = runCli(['agent', '--server', 'http://127.0.0.1:1', '--manager', 'yum']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--manager must be one of apt, dnf, zypper, pacman');
  });
});
