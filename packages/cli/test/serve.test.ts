import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli } from './run-cli.js';

describe('patchwarden serve and db', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  async function dataDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'pw-serve-'));
    dirs.push(dir);
    return dir;
  }

  it('starts on SQLite, prints the bootstrap token once, serves the API with it, and stops on SIGTERM', async () => {
    const dir = await dataDir();
    const first = startCli(['serve', '--port', '0', '--data-dir', dir, '--log-level', 'warn']);
    const [, url] = await first.waitFor(/serving on (http:\/\/127\.0\.0\.1:\d+)/);
    const [, token] = await first.waitFor(/\n {2}(pwt_[A-Za-z0-9_-]+)\n/);

    const ready = await fetch(`${url}/readyz`);
    const unauthenticated = await fetch(`${url}/api/v1/hosts`);
    const authenticated = await fetch(`${url}/api/v1/openapi.json`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const code = await first.stop();

    expect(ready.status).toBe(200);
    expect(unauthenticated.status).toBe(401);
    expect(authenticated.status).toBe(200);
    expect(code).toBe(0);

    const second = startCli(['serve', '--port', '0', '--data-dir', dir, '--log-level', 'warn']);
    await second.waitFor(/serving on http/);
    const secondCode = await second.stop();
    expect(second.stderr()).not.toContain('pwt_');
    expect(secondCode).toBe(0);
  });

  it('refuses a bad configuration with every problem and exit code 2', async () => {
    const result = runCli(['serve', '--port', '70000'], undefined, { PATCHWARDEN_LOG_LEVEL: 'loud' });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('INVALID_CONFIG');
    expect(result.stderr).toContain('port: must be <= 65535');
    expect(result.stderr).toContain('logLevel: must be one of');
  });

  it('db migrate applies the migrations once', async () => {
    const dir = await dataDir();

    const first = runCli(['db', 'migrate', '--data-dir', dir, '--json']);
    const second = runCli(['db', 'migrate', '--data-dir', dir, '--json']);

    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).applied).toContain('2026-11-22-001-server');
    expect(JSON.parse(second.stdout)).toEqual({ applied: [] });
  });
});
