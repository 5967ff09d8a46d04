import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type RunningServer, startServer } from '@patchwarden/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, runCliAsync } from './run-cli.js';

describe('patchwarden tokens and users against a real server', () => {
  let dataDir: string;
  let server: RunningServer;
  let adminToken: string;

  function cli(args: string[], token = adminToken): Promise<CliResult> {
    return runCliAsync(args, { ...process.env, PATCHWARDEN_URL: server.url, PATCHWARDEN_TOKEN: token });
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pw-cli-tokens-'));
    server = await startServer(loadConfig({ flags: { port: 0, dataDir, logLevel: 'silent' } }));
    adminToken = server.bootstrapToken ?? '';
  });
  afterAll(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates a user with roles, grants and revokes a role, and lists users as a table and as JSON', async () => {
    const created = await cli([
      'users',
      'create',
      '--email',
      'ops@example.com',
      '--name',
      'Ops',
      '--role',
      'operator',
      '--role',
      'auditor',
      '--json',
    ]);
    const user = JSON.parse(created.stdout);
    const granted = await cli(['users', 'grant', 'ops@example.com', '--role', 'approver', '--json']);
    const revoked = await cli(['users', 'revoke', user.id, '--role', 'auditor', '--json']);
    const table = await cli(['users', 'list']);
    const notHeld = await cli(['users', 'revoke', user.id, '--role', 'auditor']);
    const badRole = await cli(['users', 'grant', user.id, '--role', 'root']);

    expect(created.code).toBe(0);
    expect(user).toMatchObject({ email: 'ops@example.com', displayName: 'Ops' });
    expect(user.roles.map((b: { role: string }) => b.role).sort()).toEqual(['auditor', 'operator']);
    expect(
      JSON.parse(granted.stdout)
        .roles.map((b: { role: string }) => b.role)
        .sort(),
    ).toEqual(['approver', 'auditor', 'operator']);
    expect(
      JSON.parse(revoked.stdout)
        .roles.map((b: { role: string }) => b.role)
        .sort(),
    ).toEqual(['approver', 'operator']);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+EMAIL\s+NAME\s+ROLES\s+DISABLED$/);
    expect(lines.find((l) => l.includes('ops@example.com'))).toMatch(/Ops\s+approver,operator\s+-$/);
    expect(lines.find((l) => l.includes('admin@localhost'))).toContain('admin');
    expect([notHeld.code, notHeld.stderr]).toEqual([2, expect.stringContaining('does not hold auditor')]);
    expect([badRole.code, badRole.stderr]).toEqual([2, expect.stringContaining('--role must be')]);
  });

  it('creates a token (secret shown once), lists it without the secret, revokes it, and then it is refused', async () => {
    const created = await cli(['tokens', 'create', '--name', 'laptop', '--expires-in-days', '7']);
    const secret = /secret: (pwt_\S+)/.exec(created.stdout)?.[1] ?? '';
    const works = await cli(['tokens', 'list', '--json'], secret);
    const listed = await cli(['tokens', 'list']);
    const id = (JSON.parse(works.stdout).tokens as { id: string; name: string }[]).find(
      (t) => t.name === 'laptop',
    )?.id;
    const revoked = await cli(['tokens', 'revoke', id ?? '', '--json']);
    const refused = await cli(['tokens', 'list'], secret);
    const again = await cli(['tokens', 'revoke', id ?? '']);

    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^ID\s+NAME\s+USER\s+STATE\s+EXPIRES\s+LAST USED\n/);
    expect(created.stdout).toContain('shown once');
    expect(secret).toMatch(/^pwt_/);
    expect(works.code).toBe(0);
    expect(listed.stdout).toMatch(/laptop\s+\S+\s+active/);
    expect(listed.stdout).not.toContain(secret);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ id, state: 'revoked' });
    expect([refused.code, refused.stderr]).toEqual([2, expect.stringContaining('TOKEN_REVOKED')]);
    expect([again.code, again.stderr]).toEqual([2, expect.stringContaining('TOKEN_ALREADY_REVOKED')]);
  });

  it("mints a token for another user with --user, which that user's roles limit", async () => {
    const user = JSON.parse(
      (await cli(['users', 'create', '--email', 'audit@example.com', '--role', 'auditor', '--json'])).stdout,
    );
    const minted = JSON.parse(
      (await cli(['tokens', 'create', '--name', 'auditor-ci', '--user', user.id, '--json'])).stdout,
    );

    const forbidden = await cli(['users', 'create', '--email', 'x@example.com'], minted.secret);
    const disabled = await cli(['users', 'disable', 'audit@example.com']);
    const afterDisable = await cli(['tokens', 'list'], minted.secret);

    expect(minted.token.userId).toBe(user.id);
    expect([forbidden.code, forbidden.stderr]).toEqual([2, expect.stringContaining('FORBIDDEN')]);
    expect(disabled.stdout).toMatch(/audit@example\.com.*auditor\s+\d{4}-/);
    expect([afterDisable.code, afterDisable.stderr]).toEqual([2, expect.stringContaining('USER_DISABLED')]);
  });

  it('answers bad usage with exit 2 and prints help', async () => {
    const missing = await cli(['tokens', 'create']);
    const badDays = await cli(['tokens', 'create', '--name', 'x', '--expires-in-days', 'soon']);
    const help = await cli(['users', '--help']);

    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining('--name')]);
    expect([badDays.code, badDays.stderr]).toEqual([2, expect.stringContaining('--expires-in-days')]);
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining('patchwarden users create')]);
  });
});
