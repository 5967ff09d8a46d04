import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type RunningServer, startServer } from '@patchwarden/server';
import { type TestStore, testDialects } from '@patchwarden/store/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The lab's builders, by path: the agent does not depend on the lab outside its tests.
import { buildAptRepository, debFileName, removeFromAptRepository } from '../../lab/src/packages/deb.js';
import { createAptRoot } from '../../lab/src/roots/apt.js';
import { createAgent, nextDelayMs } from './agent.js';
import { createCheckinClient } from './checkin.js';
import { createAptDriver } from './drivers/apt/index.js';
import { openJournal } from './journal.js';
import { openState } from './state.js';

const TOOLS = ['apt-get', 'dpkg', 'dpkg-query', 'dpkg-deb', 'dpkg-scanpackages', 'apt-ftparchive'];
const missing = TOOLS.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
const skipReason = missing.length > 0 ? `missing ${missing.join(', ')}` : null;

const OS_RELEASE =
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n';

for (const dialect of testDialects()) {
  describe.skipIf(skipReason !== null || dialect.skipReason !== null)(
    `agent against a real server (${dialect.name}) and apt in a private root`,
    () => {
      let database: TestStore | undefined;
      let work: string;
      let repo: string;
      let server: RunningServer;
      let token: string;
      let secret: string;
      let hosts = 0;

      async function api(
        method: string,
        path: string,
        body?: unknown,
        // biome-ignore lint/suspicious/noExplicitAny: API replies are read loosely in assertions
      ): Promise<{ status: number; json: any }> {
        const response = await fetch(`${server.url}${path}`, {
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

      /** A host: its own copy of the repository, a root with pms-hello 1.0, a state dir, an agent. */
      async function newHost(enrollSecret?: string) {
        hosts += 1;
        const dir = join(work, `host-${hosts}`);
        const hostRepo = join(dir, 'repo');
        await cp(repo, hostRepo, { recursive: true });
        const { root } = await createAptRoot(join(dir, 'root'), hostRepo);
        await mkdir(join(root, 'etc'), { recursive: true });
        await writeFile(join(root, 'etc/os-release'), OS_RELEASE);
        await writeFile(join(root, 'etc/hostname'), `lab-${hosts}\n`);
        const driver = createAptDriver({ root });
        expect((await driver.refresh()).isSuccess).toBe(true);
        expect((await driver.install([{ name: 'pms-hello', version: '1.0' }])).isSuccess).toBe(true);
        const stateDir = join(dir, 'state');
        const agent = () =>
          createAgent({
            serverUrl: server.url,
            enrollSecret: enrollSecret ?? secret,
            stateDir,
            root,
            manager: 'apt',
          });
        return { dir, root, hostRepo, driver, stateDir, agent };
      }

      function dpkgVersions(root: string): string {
        const result = spawnSync('dpkg-query', [`--admindir=${root}/var/lib/dpkg`, '-W'], {
          encoding: 'utf8',
        });
        return result.stdout.trim();
      }

      async function createJob(body: Record<string, unknown>): Promise<string> {
        const created = await api('POST', '/api/v1/jobs', body);
        expect(created.status).toBe(201);
        return created.json.job.id as string;
      }

      async function jobEntry(jobId: string) {
        const shown = await api('GET', `/api/v1/jobs/${jobId}`);
        expect(shown.status).toBe(200);
        return shown.json.hosts[0];
      }

      beforeAll(async () => {
        work = await mkdtemp(join(tmpdir(), 'pw-agent-test-'));
        repo = (
          await buildAptRepository(join(work, 'repo'), [
            { name: 'pms-hello', version: '1.0' },
            { name: 'pms-hello', version: '2.0', depends: ['pms-lib (>= 1.0)'] },
            { name: 'pms-lib', version: '1.0' },
            { name: 'pms-extra', version: '1.0' },
            { name: 'pms-broken', version: '1.0', failingScript: 'postinst' },
            { name: 'pms-reboot', version: '1.0', requiresReboot: true },
          ])
        ).dir;
        const feedDir = join(work, 'feed');
        await mkdir(feedDir);
        await writeFile(
          join(feedDir, 'PW-TEST-1.json'),
          JSON.stringify({
            schema_version: '1.6.0',
            id: 'DSA-9999-1',
            modified: '2026-11-01T00:00:00Z',
            published: '2026-11-01T00:00:00Z',
            aliases: ['CVE-2026-99999'],
            summary: 'pms-hello: test advisory',
            affected: [
              {
                package: { ecosystem: 'Debian:12', name: 'pms-hello' },
                ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.0' }] }],
              },
            ],
          }),
        );
        server = await startServer(
          loadConfig({ flags: { port: 0, dataDir: join(work, 'server'), logLevel: 'silent' } }),
        );
        token = server.bootstrapToken ?? '';
        const feed = await api('POST', '/api/v1/feeds', {
          name: 'test-osv',
          kind: 'osv',
          location: feedDir,
          scheduleSeconds: null,
        });
        expect(feed.status).toBe(201);
        const synced = await api('POST', `/api/v1/feeds/${feed.json.feed?.id ?? feed.json.id}/sync`);
        expect(synced.json.status).toBe('ok');
        const created = await api('POST', '/api/v1/enroll-secrets', { name: 'lab' });
        expect(created.status).toBe(201);
        secret = created.json.secret;
      });

      afterAll(async () => {
        await server?.close();
        await database?.dispose();
        await rm(work, { recursive: true, force: true });
      });

      it('enrols with a full inventory, gets findings, then sends heartbeats and deltas', async () => {
        const host = await newHost();
        const agent = await host.agent();

        const first = await agent.runOnce();
        const second = await agent.runOnce();
        await host.driver.install([{ name: 'pms-extra', version: '1.0' }]);
        const third = await agent.runOnce();
        const identity = await openState(host.stateDir).then((s) => s.readIdentity());
        const mode = (await stat(join(host.stateDir, 'identity.json'))).mode & 0o777;
        const findings = await api('GET', `/api/v1/findings?host=${identity?.hostId}`);
        const shown = await api('GET', `/api/v1/hosts/${identity?.hostId}`);

        expect(first.enrolled).toBe(true);
        expect(first.checkins).toEqual(['heartbeat']);
        expect(second.checkins).toEqual(['heartbeat']);
        expect(third.checkins).toEqual(['delta']);
        expect(mode).toBe(0o600);
        expect(findings.status).toBe(200);
        expect(JSON.stringify(findings.json)).toContain('DSA-9999-1');
        expect(JSON.stringify(shown.json)).toContain('pms-extra');
      });

      it('installs an exact version, then rolls back from the archive after the repository dropped it', async () => {
        const host = await newHost();
        const agent = await host.agent();
        await agent.runOnce();
        const hostId = (await (await openState(host.stateDir)).readIdentity())?.hostId ?? '';
        const install = await createJob({
          kind: 'install',
          hosts: [hostId],
          packages: [{ name: 'pms-hello', version: '2.0' }],
        });

        const ran = await agent.runOnce();
        const afterInstall = dpkgVersions(host.root);
        const installEntry = await jobEntry(install);
        await removeFromAptRepository(host.hostRepo, [debFileName({ name: 'pms-hello', version: '1.0' })]);
        await host.driver.refresh();
        const rollback = await createJob({ kind: 'rollback', rollbackOf: install });
        const rolled = await agent.runOnce();
        const rollbackEntry = await jobEntry(rollback);

        expect(ran.jobs).toEqual([{ id: install, kind: 'install', status: 'succeeded', outcome: 'ran' }]);
        expect(ran.checkins).toEqual(['heartbeat', 'delta']);
        expect(afterInstall).toBe('pms-hello\t2.0\npms-lib\t1.0');
        expect(installEntry.state).toBe('succeeded');
        expect(installEntry.result.before).toEqual(
          expect.arrayContaining([expect.objectContaining({ name: 'pms-hello', version: '1.0' })]),
        );
        expect(installEntry.result.after).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ name: 'pms-hello', version: '2.0' }),
            expect.objectContaining({ name: 'pms-lib', version: '1.0' }),
          ]),
        );
        expect(rolled.jobs).toEqual([
          { id: rollback, kind: 'rollback', status: 'succeeded', outcome: 'ran' },
        ]);
        expect(rollbackEntry.state).toBe('succeeded');
        expect(dpkgVersions(host.root)).toBe('pms-hello\t1.0');
      });

      it('reports a failing postinst as maintainer-script', async () => {
        const host = await newHost();
        const agent = await host.agent();
        await agent.runOnce();
        const hostId = (await (await openState(host.stateDir)).readIdentity())?.hostId ?? '';
        const broken = await createJob({
          kind: 'install',
          hosts: [hostId],
          packages: [{ name: 'pms-broken', version: '1.0' }],
        });

        const ran = await agent.runOnce();
        const entry = await jobEntry(broken);

        expect(ran.jobs[0]?.status).toBe('failed');
        expect(entry.state).toBe('failed');
        expect(entry.failureReason).toBe('maintainer-script');
        expect(entry.result.stderr + entry.result.stdout).toContain('failing on purpose');
      });

      it('runs hooks: a failing pre hook fails the job without touching packages; run-hook; dry run', async () => {
        const group = await api('POST', '/api/v1/groups', { name: 'hooked' });
        expect(group.status).toBe(201);
        const groupId = group.json.id ?? group.json.group?.id;
        const grouped = await api('POST', '/api/v1/enroll-secrets', { name: 'hooked', groupId });
        const host = await newHost(grouped.json.secret);
        const marker = join(host.dir, 'hook-ran');
        const hooks = [
          ['drain', { phase: 'pre', command: ['sh', '-c', 'echo draining; exit 3'], timeoutSeconds: 5 }],
          ['touch', { phase: 'manual', command: ['touch', marker], timeoutSeconds: 5 }],
        ] as const;
        for (const [name, body] of hooks) {
          expect((await api('PUT', `/api/v1/jobs/hooks/${groupId}/${name}`, body)).status).toBe(200);
        }
        const agent = await host.agent();
        await agent.runOnce();
        const hostId = (await (await openState(host.stateDir)).readIdentity())?.hostId ?? '';
        const dryRun = await createJob({ kind: 'upgrade', hosts: [hostId], dryRun: true });
        const install = await createJob({
          kind: 'install',
          hosts: [hostId],
          packages: [{ name: 'pms-hello', version: '2.0' }],
        });
        const runHook = await createJob({ kind: 'run-hook', hosts: [hostId], hook: 'touch' });

        const ran = await agent.runOnce();
        const dryEntry = await jobEntry(dryRun);
        const installEntry = await jobEntry(install);
        const hookEntry = await jobEntry(runHook);

        expect(ran.jobs.map((j) => `${j.kind} ${j.status}`)).toEqual([
          'upgrade succeeded',
          'install failed',
          'run-hook succeeded',
        ]);
        expect(dryEntry.result.after).toEqual(
          expect.arrayContaining([expect.objectContaining({ name: 'pms-hello', version: '2.0' })]),
        );
        expect(installEntry.failureReason).toBe('hook-failed');
        expect(installEntry.result.stdout).toContain('draining');
        expect(installEntry.result.exitCode).toBe(3);
        expect(hookEntry.state).toBe('succeeded');
        expect((await stat(marker)).isFile()).toBe(true);
        expect(dpkgVersions(host.root)).toBe('pms-hello\t1.0');
      });

      it('after a crash mid-change reports the true outcome from the inventory without installing again', async () => {
        const host = await newHost();
        const first = await host.agent();
        await first.runOnce();
        const state = await openState(host.stateDir);
        const identity = await state.readIdentity();
        const hostId = identity?.hostId ?? '';
        const jobId = await createJob({
          kind: 'install',
          hosts: [hostId],
          packages: [{ name: 'pms-hello', version: '2.0' }],
        });
        // The crashed agent: it got the job, said it started, journaled the change, apt ran, and it
        // died before writing change-finished.
        const client = createCheckinClient({ serverUrl: server.url });
        const sent = await state.readSentInventory();
        const reply = await client.checkin(identity?.nodeKey ?? '', { seq: sent?.seq ?? 0 });
        const job = reply.jobs[0];
        if (job === undefined) throw new Error('no job delivered');
        const journal = openJournal(host.stateDir);
        await journal.append({ step: 'received', jobId, at: new Date().toISOString(), job });
        await client.jobStarted(identity?.nodeKey ?? '', jobId);
        await journal.append({ step: 'started', jobId, at: new Date().toISOString() });
        await journal.append({
          step: 'change-started',
          jobId,
          at: new Date().toISOString(),
          before: [{ name: 'pms-hello', architecture: 'all', version: '1.0' }],
          expected: [{ name: 'pms-hello', architecture: null, version: '2.0' }],
        });
        await host.driver.install([{ name: 'pms-hello', version: '2.0' }]);
        const dpkgLog = async () =>
          (await readFile(join(host.root, 'var/log/dpkg.log'), 'utf8')).split('\n').length;
        const linesBefore = await dpkgLog();

        const restarted = await host.agent();
        const report = await restarted.runOnce();
        const entry = await jobEntry(jobId);
        const again = await restarted.runOnce();

        expect(report.jobs).toEqual([
          { id: jobId, kind: 'install', status: 'succeeded', outcome: 'recovered' },
        ]);
        expect(await dpkgLog()).toBe(linesBefore);
        expect(entry.state).toBe('succeeded');
        expect(entry.result.after).toEqual([{ name: 'pms-hello', architecture: 'all', version: '2.0' }]);
        expect(again.jobs).toEqual([]);
      });

      it('backs off while the server is away, then returns to the interval', async () => {
        const host = await newHost();
        const delays: number[] = [];
        const controller = new AbortController();
        const agent = await createAgent({
          serverUrl: 'http://127.0.0.1:9', // discard port: connection refused
          enrollSecret: secret,
          stateDir: host.stateDir,
          root: host.root,
          manager: 'apt',
          random: () => 0.5,
          sleep: async (ms) => {
            delays.push(ms);
            if (delays.length === 6) controller.abort();
          },
        });

        await agent.run(controller.signal);

        expect(delays).toEqual([3750, 7500, 15000, 30000, 60000, 120000]);
        expect(nextDelayMs({ intervalSeconds: 300, failures: 0, random: () => 0 })).toBe(270_000);
        expect(nextDelayMs({ intervalSeconds: 300, failures: 0, random: () => 1 })).toBe(330_000);
        expect(nextDelayMs({ intervalSeconds: 300, failures: 20, random: () => 1 })).toBe(300_000);
        expect(nextDelayMs({ intervalSeconds: 3600, failures: 20, random: () => 0 })).toBe(450_000);
      });
    },
  );
}
