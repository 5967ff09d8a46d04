import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'pw-inventory-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const osRelease = file(
  'os-release',
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
);
const status = file(
  'status',
  [
    'Package: libssl3',
    'Status: install ok installed',
    'Architecture: amd64',
    'Multi-Arch: same',
    'Source: openssl',
    'Version: 3.0.15-1~deb12u1',
    'Description: Secure Sockets Layer toolkit',
    ' shared libraries',
    '',
    'Package: old-thing',
    'Status: deinstall ok config-files',
    'Architecture: amd64',
    'Version: 1.0-1',
    '',
    'Package: bash',
    'Status: install ok installed',
    'Architecture: amd64',
    'Version: 5.2.15-2+b7',
    'Source: bash (5.2.15-2)',
    '',
  ].join('\n'),
);

describe('patchwarden inventory', () => {
  it('prints the normalised inventory of a dpkg status file with its OS identity as JSON', () => {
    const result = runCli([
      'inventory',
      '--dpkg-status',
      status,
      '--os-release',
      osRelease,
      '--format',
      'json',
    ]);

    expect(result.code).toBe(0);
    const inventory = JSON.parse(result.stdout);
    expect(inventory.os).toMatchObject({
      family: 'debian',
      distro: 'debian',
      version: '12',
      codename: 'bookworm',
      ecosystem: 'deb',
    });
    expect(inventory.packages).toEqual([
      {
        name: 'libssl3',
        version: '3.0.15-1~deb12u1',
        architecture: 'amd64',
        source: { name: 'openssl', version: '3.0.15-1~deb12u1' },
        ecosystem: 'deb',
      },
      {
        name: 'bash',
        version: '5.2.15-2+b7',
        architecture: 'amd64',
        source: { name: 'bash', version: '5.2.15-2' },
        ecosystem: 'deb',
      },
    ]);
  });

  it('reads back its own JSON with --inventory', () => {
    const json = file(
      'inventory.json',
      runCli(['inventory', '--dpkg-status', status, '--os-release', osRelease]).stdout,
    );

    const result = runCli(['inventory', '--inventory', json]);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).packages.map((p: { name: string }) => p.name)).toEqual([
      'libssl3',
      'bash',
    ]);
  });

  it('fails on a truncated status file with the line number, printing nothing', () => {
    const truncated = file(
      'status-truncated',
      'Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nVers',
    );

    const result = runCli(['inventory', '--dpkg-status', truncated]);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/status-truncated:\d+/);
  });

  it.each`
    args                                                       | message
    ${['inventory']}                                           | ${'got none'}
    ${['inventory', '--local', '--dpkg-status', '/x']}         | ${'got --local --dpkg-status'}
    ${['inventory', '--dpkg-status', '/x', '--format', 'xml']} | ${'--format must be json or table'}
  `('rejects $args', ({ args, message }) => {
    const result = runCli(args);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('rejects an --inventory file that is not an inventory, naming every problem', () => {
    const bad = file('bad.json', JSON.stringify({ packages: [{ name: 'a' }, { version: '1' }] }));

    const result = runCli(['inventory', '--inventory', bad]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('packages[0].version must be a non-empty string');
    expect(result.stderr).toContain('packages[1].name must be a non-empty string');
  });

  it.skipIf(!existsSync('/var/lib/dpkg/status'))(
    '--local reads every installed package of this dpkg machine',
    () => {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
      const installed = execFileSync('dpkg-query', ['-W', '-f', '${db:Status-Abbrev} ${binary:Package}\n'], {
        encoding: 'utf8',
      })
        .split('\n')
        .filter((line) => /^.i/.test(line)).length;

      const result = runCli(['inventory', '--local']);

      expect(result.code).toBe(0);
      const inventory = JSON.parse(result.stdout);
      expect(inventory.os.family).toBe('debian');
      expect(inventory.packages).toHaveLength(installed);
    },
  );
});
