import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type RunningServer, startServer } from '@patchwarden/server';
import { createHost, createHostGroup, pendingJobsForCheckin, recordJobResult } from '@patchwarden/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, runCliAsync } from './run-cli.js';

describe('patchwarden jobs against a real server', () => {
  let dataDir: string;
  let server: RunningServer;
  let adminToken: string;

  function cli(args: string[]): Promise<CliResult> {
    return runCliAsync(args, { ...process.env, PATCHWARDEN_URL: server.url, PATCHWARDEN_TOKEN: adminToken });
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pw-cli-jobs-'));
    server = await startServer(loadConfig({ flags: { port: 0, dataDir, logLevel: 'silent' } }));
    adminToken = server.bootstrapToken ?? '';
    const now = new Date();
    await createHostGroup(server.store.db, { id: 'g-web', name: 'web' }, now);
    await createHost(
      server.store.db,
      { id: 'h-web1', name: 'web1', groupId: 'g-web', labels: { env: 'prod' } },
      now,
    );
    await createHost(
      server.store.db,
      { id: 'h-web2', name: 'web2', groupId: 'g-web', labels: { env: 'qa' } },
      now,
    );
  });
  afterAll(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates an install job for named hosts, shows per-host state and output, lists it', async () => {
    const created = await cli([
      'jobs',
      'create',
      '--host',
      'web1',
      '--host',
      'h-web2',
      '--install',
      'openssl:amd64=3.0.15-1~deb12u1',
      '--deadline',
      '2h',
      '--json',
    ]);
    const job = JSON.parse(created.stdout);
    const [claimed] = await pendingJobsForCheckin(server.store, 'h-web1', new Date());
    await recordJobResult(
      server.store.db,
      'h-web1',
      job.job.id,
      {
        status: 'failed',
        exitCode: 100,
        stderr: 'E: Could not get lock /var/lib/dpkg/lock-frontend',
        failureReason: 'lock-held',
      },
      new Date(),
    );
    const shown = await cli(['jobs', 'show', job.job.id]);
    const listed = await cli(['jobs', 'list']);

    expect(created.code).toBe(0);
    expect(job.job).toMatchObject({
      kind: 'install',
      hostCount: 2,
      packages: [{ name: 'openssl', architecture: 'amd64', version: '3.0.15-1~deb12u1' }],
    });
    expect(Date.parse(job.job.deadlineAt) - Date.parse(job.job.createdAt)).toBe(7_200_000);
    expect(claimed?.id).toBe(job.job.id);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^web1\s+failed\s+1\s+100\s+lock-held/m);
    expect(shown.stdout).toMatch(/^web2\s+queued\s+0/m);
    expect(shown.stdout).toContain('--- web1 stderr\nE: Could not get lock /var/lib/dpkg/lock-frontend\n');
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+KIND\s+WHAT\s+STATE\s+HOSTS\s+PROGRESS/);
    expect(listed.stdout).toContain(job.job.id);
    expect(listed.stdout).toContain('openssl:amd64=3.0.15-1~deb12u1');
    expect(listed.stdout).toContain('queued 1, failed 1');
  });

  it('creates a dry-run upgrade by label, cancels it, and reports server errors with their code', async () => {
    const created = await cli(['jobs', 'create', '--label', 'env=qa', '--upgrade', '--dry-run', '--json']);
    const job = JSON.parse(created.stdout);
    const cancelled = await cli(['jobs', 'cancel', job.job.id]);
    const again = await cli(['jobs', 'cancel', job.job.id]);
    const unknownHost = await cli(['jobs', 'create', '--host', 'nope', '--scan']);
    const twoKinds = await cli(['jobs', 'create', '--group', 'web', '--scan', '--reboot']);
    const badPackage = await cli(['jobs', 'create', '--group', 'web', '--install', 'openssl']);

    expect(job.job).toMatchObject({ kind: 'upgrade', dryRun: true, hostCount: 1 });
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain('cancelled on 1 queued host(s)');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('JOB_NOT_PENDING');
    expect(unknownHost.code).toBe(2);
    expect(unknownHost.stderr).toContain('HOST_NOT_FOUND');
    expect(twoKinds.code).toBe(2);
    expect(twoKinds.stderr).toContain('exactly one of');
    expect(badPackage.code).toBe(2);
    expect(badPackage.stderr).toContain('NAME=VERSION');
  });
  it('sets, lists and deletes a group hook', async () => {
    const set = await cli([
      'jobs',
      'hooks',
      'set',
      '--group',
      'g-web',
      '--name',
      'drain',
      '--phase',
      'pre',
      '--timeout',
      '30s',
      '--',
      '/usr/local/bin/drain',
      '--wait',
    ]);
    const listed = await cli(['jobs', 'hooks', 'list', '--group', 'g-web', '--json']);
    const deleted = await cli(['jobs', 'hooks', 'delete', '--group', 'g-web', '--name', 'drain']);
    const missing = await cli(['jobs', 'hooks', 'delete', '--group', 'g-web', '--name', 'drain']);
    const noCommand = await cli([
      'jobs',
      'hooks',
      'set',
      '--group',
      'g-web',
      '--name',
      'x',
      '--phase',
      'pre',
    ]);

    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/^g-web\s+drain\s+pre\s+30s\s+\["\/usr\/local\/bin\/drain","--wait"\]$/m);
    expect(JSON.parse(listed.stdout).hooks).toMatchObject([
      { name: 'drain', phase: 'pre', command: ['/usr/local/bin/drain', '--wait'], timeoutSeconds: 30 },
    ]);
    expect(deleted.stdout).toBe('deleted hook drain of group g-web\n');
    expect([missing.code, missing.stderr.includes('HOOK_NOT_FOUND')]).toEqual([2, true]);
    expect([noCommand.code, noCommand.stderr.includes('the command after --')]).toEqual([2, true]);
  });
});
