import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type RunningServer, startServer } from '@patchwarden/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, runCliAsync } from './run-cli.js';

describe('patchwarden enroll-secrets against a real server', () => {
  let dataDir: string;
  let server: RunningServer;

  function cli(args: string[]): Promise<CliResult> {
    return runCliAsync(args, {
      ...process.env,
      PATCHWARDEN_URL: server.url,
      PATCHWARDEN_TOKEN: server.bootstrapToken ?? '',
    });
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pw-cli-enroll-'));
    server = await startServer(loadConfig({ flags: { port: 0, dataDir, logLevel: 'silent' } }));
  });
  afterAll(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates a secret shown once, lists it without the secret, and revokes it', async () => {
    const created = await cli([
      'enroll-secrets',
      'create',
      '--name',
      'web',
      '--expires',
      '30d',
      '--max-uses',
      '5',
      '--json',
    ]);
    const body = JSON.parse(created.stdout);
    const table = await cli(['enroll-secrets', 'list']);
    const listed = await cli(['enroll-secrets', 'list', '--json']);
    const revoked = await cli(['enroll-secrets', 'revoke', body.enrollSecret.id, '--json']);
    const enrolAfter = await fetch(`${server.url}/api/v1/agent/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        enrollSecret: body.secret,
        hostname: 'h',
        inventory: { seq: 0, osRelease: 'ID=debian\nVERSION_ID=12\n', packages: [] },
      }),
    });

    expect(created.code).toBe(0);
    expect(body.secret).toMatch(/^pwe_/);
    expect(body.enrollSecret).toMatchObject({ name: 'web', state: 'active', maxUses: 5, useCount: 0 });
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+GROUP\s+STATE\s+USES\s+EXPIRES/);
    expect(table.stdout).toContain('0/5');
    expect(listed.stdout).not.toContain(body.secret);
    expect(JSON.parse(listed.stdout).enrollSecrets.map((s: { id: string }) => s.id)).toEqual([
      body.enrollSecret.id,
    ]);
    expect(JSON.parse(revoked.stdout).state).toBe('revoked');
    expect([
      enrolAfter.status,
      ((await enrolAfter.json()) as { error: { code: string } }).error.code,
    ]).toEqual([401, 'ENROLL_SECRET_REVOKED']);
  });

  it('refuses bad arguments with a usage error', async () => {
    const noName = await cli(['enroll-secrets', 'create']);
    const badExpiry = await cli(['enroll-secrets', 'create', '--name', 'x', '--expires', 'soon']);
    const unknown = await cli(['enroll-secrets', 'frobnicate']);

    expect(noName.code).not.toBe(0);
    expect(noName.stderr).toContain('--name');
    expect(badExpiry.stderr).toContain('--expires');
    expect(unknown.stderr).toContain('unknown action');
  });
});
