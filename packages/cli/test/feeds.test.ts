import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type RunningServer, startServer } from '@patchwarden/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliAsync } from './run-cli.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
const TOKEN = `pwt_${'f'.repeat(40)}`;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('patchwarden feeds and advisories against a real server', () => {
  let server: RunningServer;
  let dir: string;

  function cli(args: string[]): Promise<CliResult> {
    return runCliAsync(args, { ...process.env, PATCHWARDEN_URL: server.url, PATCHWARDEN_TOKEN: TOKEN });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'patchwarden-cli-feeds-'));
    await copyFile(join(EXAMPLES, 'feeds/debian/DSA-list'), join(dir, 'DSA-list'));
    server = await startServer(
      loadConfig({
        flags: { port: 0, dataDir: join(dir, 'data'), logLevel: 'silent', bootstrapToken: TOKEN },
      }),
    );
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('adds a feed and lists it as a table and as JSON', async () => {
    const added = await cli([
      'feeds',
      'add',
      'debian-dsa',
      join(dir, 'DSA-list'),
      '--kind',
      'debian-dsa-list',
      '--schedule',
      'none',
    ]);
    const table = await cli(['feeds', 'list']);
    const json = await cli(['feeds', 'list', '--json']);

    expect([added.code, added.stderr]).toEqual([0, '']);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+KIND\s+SCHEDULE\s+STATUS/);
    expect(table.stdout).toMatch(/debian-dsa\s+debian-dsa-list\s+on demand\s+never synced/);
    expect(JSON.parse(json.stdout).feeds).toMatchObject([
      { name: 'debian-dsa', kind: 'debian-dsa-list', scheduleSeconds: null, location: join(dir, 'DSA-list') },
    ]);
  });

  it('syncs a feed and prints the counts; a second sync writes nothing', async () => {
    const first = await cli(['feeds', 'sync', 'debian-dsa']);
    const second = await cli(['feeds', 'sync', 'debian-dsa', '--json']);

    expect(first.code).toBe(0);
    expect(first.stdout).toContain('feed debian-dsa: sync ok');
    expect(first.stdout).toMatch(/advisories: 4 added, 0 changed, 0 unchanged, 0 removed/);
    expect(JSON.parse(second.stdout)).toMatchObject({
      status: 'ok',
      counts: { added: 0, changed: 0, unchanged: 4 },
    });
  });

  it('shows an advisory as text and JSON, and lists by search', async () => {
    const shown = await cli(['advisories', 'show', 'DSA-5514-1']);
    const json = await cli(['advisories', 'show', 'DSA-5514-1', '--json']);
    const listed = await cli(['advisories', 'list', '--search', 'CVE-2023-46218']);

    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('DSA-5514-1');
    expect(shown.stdout).toMatch(/debian:12\s+glibc\s+-\s+2\.36-9\+deb12u3/);
    expect(shown.stdout).toContain('hosts with an open finding: 0');
    expect(JSON.parse(json.stdout)).toMatchObject({
      id: 'debian-tracker:DSA-5514-1',
      cves: ['CVE-2023-4911'],
    });
    expect(listed.stdout).toMatch(/DSA-5587-1/);
    expect(listed.stdout).not.toMatch(/DSA-5514-1/);
  });

  it('reports errors with the server code and exit 2; bad usage is exit 2 too', async () => {
    const missing = await cli(['advisories', 'show', 'DSA-0-0']);
    const badPath = await cli(['feeds', 'add', 'gone', join(dir, 'nothing-here')]);
    const badSchedule = await cli(['feeds', 'add', 'x', join(dir, 'DSA-list'), '--schedule', '10s']);
    const help = await cli(['feeds', '--help']);

    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining('ADVISORY_NOT_FOUND')]);
    expect([badPath.code, badPath.stderr]).toEqual([2, expect.stringContaining('FEED_NOT_FOUND')]);
    expect([badSchedule.code, badSchedule.stderr]).toEqual([2, expect.stringContaining('--schedule')]);
    expect([help.code, help.stdout]).toEqual([
      0,
      expect.stringContaining('patchwarden feeds add NAME LOCATION'),
    ]);
  });

  it('exits 1 when a sync fails, naming the error', async () => {
    await rm(join(dir, 'DSA-list'));

    const failed = await cli(['feeds', 'sync', 'debian-dsa']);
    const shown = await cli(['feeds', 'show', 'debian-dsa']);

    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('error:      FEED_NOT_FOUND');
    expect(shown.stdout).toMatch(/last sync:\s+failed/);
  });
});
