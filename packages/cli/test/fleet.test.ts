import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type RunningServer, startServer } from '@patchwarden/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_NOW, type FleetFixture, seedFleet } from '../../store/test/fleet-fixture.js';
import { type CliResult, runCliAsync } from './run-cli.js';

describe('patchwarden hosts, findings and summary against a real server', () => {
  let dataDir: string;
  let server: RunningServer;
  let fleet: FleetFixture;

  function cli(args: string[]): Promise<CliResult> {
    return runCliAsync(args, {
      ...process.env,
      PATCHWARDEN_URL: server.url,
      PATCHWARDEN_TOKEN: server.bootstrapToken ?? '',
    });
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pw-cli-fleet-'));
    server = await startServer(loadConfig({ flags: { port: 0, dataDir, logLevel: 'silent' } }), {
      now: () => FIXTURE_NOW,
    });
    fleet = await seedFleet(server.store.db, FIXTURE_NOW);
  });
  afterAll(async () => {
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('lists hosts as a table and, filtered, as JSON', async () => {
    const table = await cli(['hosts', 'list', '--sort', 'risk']);
    const filtered = await cli(['hosts', 'list', '--label', 'env=prod', '--kev', '--json']);

    const lines = table.stdout.trimEnd().split('\n');
    expect(table.code).toBe(0);
    expect(lines[0]).toMatch(/^ID\s+NAME\s+OS\s+GROUP\s+LAST SEEN\s+OPEN\s+KEV\s+WORST\s+RISK\s+COMPLIANT$/);
    expect(lines.slice(1, 4).map((line) => line.split(/\s+/)[1])).toEqual(['alpha', 'bravo', 'charlie']);
    expect(lines[1]).toMatch(/debian 12\s+group-web\s+\S+\s+2\s+1\s+critical\s+90\s+no$/);
    expect(filtered.code).toBe(0);
    expect(JSON.parse(filtered.stdout).hosts.map((h: { name: string }) => h.name)).toEqual(['alpha']);
  });

  it('pages with --limit and follows every page with --all', async () => {
    const first = await cli(['hosts', 'list', '--limit', '2']);
    const all = await cli(['hosts', 'list', '--limit', '2', '--all', '--json']);
    const tooBig = await cli(['hosts', 'list', '--limit', '501']);

    expect(first.stdout.trimEnd().split('\n')).toHaveLength(3);
    expect(first.stderr).toMatch(/^more hosts: --cursor \S+ \(or --all\)\n$/);
    const listed = JSON.parse(all.stdout);
    expect(listed.hosts.map((h: { name: string }) => h.name)).toEqual([
      'alpha',
      'bravo',
      'charlie',
      'delta',
      'echo',
    ]);
    expect(listed.nextCursor).toBeNull();
    expect([tooBig.code, tooBig.stderr]).toEqual([2, expect.stringContaining('INVALID_REQUEST')]);
  });

  it('shows a host with its open findings, and fails cleanly for an unknown one', async () => {
    const shown = await cli(['hosts', 'show', fleet.hosts.charlie]);
    const missing = await cli(['hosts', 'show', 'no-such-host']);

    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^group:\s+db \(group-db\)$/m);
    expect(shown.stdout).toMatch(/^packages:\s+4$/m);
    expect(shown.stdout).toMatch(
      /^\S+\s+curl\s+0\s+8\.5\.0-2ubuntu1\s+medium\s+40\s+2027-01-15\s+-\s+osv:USN-0003-1$/m,
    );
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining('HOST_NOT_FOUND')]);
  });

  it('lists findings by host and severity, and shows one with its history', async () => {
    const byHost = await cli(['findings', 'list', '--host', fleet.hosts.alpha, '--json']);
    const critical = await cli(['findings', 'list', '--severity', 'critical']);
    const two = await cli(['findings', 'list', '--severity', 'critical,high', '--json']);
    const shown = await cli(['findings', 'show', fleet.findings.echoA3]);

    expect(JSON.parse(byHost.stdout).findings.map((f: { id: string }) => f.id)).toEqual([
      fleet.findings.alphaA1,
      fleet.findings.alphaA2,
    ]);
    const rows = critical.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(
      /^ID\s+HOST\s+PACKAGE\s+INSTALLED\s+FIXED\s+SEVERITY\s+RISK\s+DUE\s+KEV\s+ADVISORY$/,
    );
    expect(rows.slice(1).map((row) => row.split(/\s+/)[1])).toEqual(['alpha', 'bravo']);
    expect(rows[1]).toMatch(/2026-11-01 \(overdue\)\s+yes\s+osv:DSA-0001-1$/);
    expect(JSON.parse(two.stdout).findings).toHaveLength(3);
    expect(shown.stdout).toMatch(/^status:\s+fixed$/m);
    expect(shown.stdout).toMatch(/2026-11-20T00:00:00.000Z\s+fixed\s+agent/);
  });

  it('prints the fleet summary as text and JSON', async () => {
    const text = await cli(['summary']);
    const json = await cli(['summary', '--json', '--stale-after-hours', '48']);
    const bad = await cli(['summary', '--stale-after-hours', 'soon']);

    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^with KEV findings\s+2$/m);
    expect(text.stdout).toMatch(/^noncompliant \(past due\)\s+2$/m);
    expect(text.stdout).toMatch(/^ {2}critical\s+2$/m);
    expect(text.stdout).toMatch(/^overdue\s+2$/m);
    const summary = JSON.parse(json.stdout);
    expect([summary.staleAfterHours, summary.hosts.total, summary.findings.open]).toEqual([48, 5, 5]);
    expect(bad.code).toBe(2);
  });
});
