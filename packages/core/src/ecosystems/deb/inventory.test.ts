import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InvalidInventoryError } from '../../errors.js';
import type { InstalledPackage } from '../../types/inventory.js';
import { parseDpkgStatus } from './index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = resolve(here, '../../../../..');
const inventoriesDir = resolve(repoRoot, '../shared/data/inventories');
const machineStatus = '/var/lib/dpkg/status';

/** The test title, with why it is skipped appended when `isRunnable` is false. */
function titled(isRunnable: boolean, title: string, whySkipped: string): string {
  return isRunnable ? title : `${title} — skipped: ${whySkipped}`;
}

function fixture(name: string): string {
  return readFileSync(resolve(here, '__fixtures__', name), 'utf8');
}

function parseError(text: string): InvalidInventoryError {
  try {
    parseDpkgStatus(text, 'test-status');
  } catch (error) {
    if (error instanceof InvalidInventoryError) return error;
    throw error;
  }
  throw new Error('expected parseDpkgStatus to throw');
}

function pkg(name: string, version: string, architecture: string | null, source?: [string, string]) {
  const [sourceName, sourceVersion] = source ?? [name, version];
  return {
    name,
    version,
    architecture,
    source: { name: sourceName, version: sourceVersion },
    ecosystem: 'deb',
  } satisfies InstalledPackage;
}

describe('ecosystems/deb/inventory: fixtures', () => {
  it('keeps installed packages whatever the want word, and skips the other states', () => {
    const packages = parseDpkgStatus(fixture('states.status'));

    expect(packages).toEqual([
      pkg('base-files', '12.4+deb12u11', 'amd64'),
      pkg('openssl', '3.0.15-1~deb12u1', 'amd64'),
      pkg('nano', '7.2-1+deb12u1', 'amd64'),
      pkg('man-db', '2.11.2-2', 'amd64'),
    ]);
  });

  it('reads Source with and without a version, and keeps epochs as written', () => {
    const packages = parseDpkgStatus(fixture('source-version.status'));

    expect(packages).toEqual([
      pkg('bash', '5.2.15-2+b8', 'amd64', ['bash', '5.2.15-2']),
      pkg('bsdutils', '1:2.38.1-5+deb12u3', 'amd64', ['util-linux', '2.38.1-5+deb12u3']),
      pkg('libacl1', '2.3.1-3', 'amd64', ['acl', '2.3.1-3']),
      pkg('cpp', '4:12.2.0-3', 'amd64', ['gcc-defaults', '1.203']),
      pkg('adduser', '3.134', 'all'),
    ]);
  });

  it('lists a Multi-Arch: same package once per architecture', () => {
    const packages = parseDpkgStatus(fixture('multi-arch.status'));

    expect(packages).toEqual([
      pkg('libc6', '2.36-9+deb12u10', 'amd64', ['glibc', '2.36-9+deb12u10']),
      pkg('libc6', '2.36-9+deb12u10', 'i386', ['glibc', '2.36-9+deb12u10']),
      pkg('libgcc-s1', '12.2.0-14', 'i386', ['gcc-12', '12.2.0-14']),
    ]);
  });

  it.each`
    name                           | line  | message
    ${'truncated-mid-line.status'} | ${30} | ${'last line has no newline'}
    ${'truncated-stanza.status'}   | ${46} | ${'(cpp, installed) has no Version field'}
  `('rejects $name at line $line', ({ name, line, message }) => {
    const error = parseError(fixture(name));

    expect(error.line).toBe(line);
    expect(error.message).toContain(message);
    expect(error.message).toMatch(/^test-status:\d+: /);
    expect(error.code).toBe('INVALID_INVENTORY');
  });

  it('accepts an empty file and a file without the blank line after the last stanza', () => {
    expect(parseDpkgStatus('')).toEqual([]);
    expect(parseDpkgStatus('\n\n')).toEqual([]);
    expect(parseDpkgStatus('Package: a\nStatus: install ok installed\nVersion: 1\n')).toEqual([
      pkg('a', '1', null),
    ]);
  });

  it('reads field names case-insensitively and tolerates CRLF and extra blank lines', () => {
    const text =
      '\n\npackage: a\r\nSTATUS: install ok installed\r\nversion: 1.0-1\r\nArchitecture: all\r\n\r\n\n';

    expect(parseDpkgStatus(text)).toEqual([pkg('a', '1.0-1', 'all')]);
  });
});

const ok = 'Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n';

describe('ecosystems/deb/inventory: corrupt input', () => {
  it.each`
    case                                     | text                                                                           | line | message
    ${'line without a colon'}                | ${`${ok}Description: x\nnot a field\n`}                                        | ${6} | ${'expected "Field: value"'}
    ${'field name with a space'}             | ${`${ok}Bad name: x\n`}                                                        | ${5} | ${'expected "Field: value"'}
    ${'empty field name'}                    | ${`${ok}: x\n`}                                                                | ${5} | ${'expected "Field: value"'}
    ${'field name starting with -'}          | ${`${ok}-X: x\n`}                                                              | ${5} | ${'expected "Field: value"'}
    ${'continuation opening a stanza'}       | ${`${ok}\n continued\n`}                                                       | ${6} | ${'continuation line without a field'}
    ${'continuation of Version'}             | ${`${ok} 2\n`}                                                                 | ${5} | ${'field version (line 4) must fit on one line'}
    ${'repeated field'}                      | ${`${ok}version: 1.0-2\n`}                                                     | ${5} | ${'repeats the one on line 4'}
    ${'stanza without Package'}              | ${`${ok}\nStatus: install ok installed\nVersion: 1\n`}                         | ${6} | ${'has no Package field'}
    ${'stanza without Status'}               | ${`${ok}\nPackage: b\nVersion: 1\n`}                                           | ${7} | ${'(b) has no Status field'}
    ${'installed stanza without Version'}    | ${`${ok}\nPackage: b\nStatus: install ok installed\n`}                         | ${7} | ${'(b, installed) has no Version field'}
    ${'config-files without Version'}        | ${`${ok}\nPackage: b\nStatus: deinstall ok config-files\n`}                    | ${7} | ${'(b, config-files) has no Version field'}
    ${'Status with two words'}               | ${'Package: a\nStatus: install installed\nVersion: 1\n'}                       | ${2} | ${'invalid Status "install installed"'}
    ${'Status with an unknown state'}        | ${'Package: a\nStatus: install ok done\nVersion: 1\n'}                         | ${2} | ${'invalid Status'}
    ${'invalid version'}                     | ${'Package: a\nStatus: install ok installed\nVersion: 1.0-\n'}                 | ${3} | ${'a: deb version "1.0-" is invalid: revision number is empty (revision-empty)'}
    ${'empty version'}                       | ${'Package: a\nStatus: install ok installed\nVersion:\n'}                      | ${3} | ${'(empty)'}
    ${'version not starting with a digit'}   | ${'Package: a\nStatus: install ok installed\nVersion: v1\n'}                   | ${3} | ${'(upstream-not-digit)'}
    ${'invalid version of config-files'}     | ${'Package: a\nStatus: deinstall ok config-files\nVersion: 1_0\n'}             | ${3} | ${'(illegal-character)'}
    ${'invalid package name'}                | ${'Package: a_b!\nStatus: install ok installed\nVersion: 1\n'}                 | ${1} | ${'invalid package name "a_b!"'}
    ${'invalid architecture'}                | ${'Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: x_y\n'} | ${4} | ${'invalid Architecture "x_y"'}
    ${'Source with an unclosed version'}     | ${'Package: a\nStatus: install ok installed\nVersion: 1\nSource: b (1\n'}      | ${4} | ${'invalid Source "b (1"'}
    ${'Source with an invalid version'}      | ${'Package: a\nStatus: install ok installed\nVersion: 1\nSource: b (x)\n'}     | ${4} | ${'Source deb version "x" is invalid'}
    ${'Source with an empty version'}        | ${'Package: a\nStatus: install ok installed\nVersion: 1\nSource: b ()\n'}      | ${4} | ${'(empty)'}
    ${'same package and architecture twice'} | ${`${ok}\n${ok}`}                                                              | ${6} | ${'package a:amd64 appears twice'}
    ${'cut in the middle of a field name'}   | ${`${ok}\nPackage: b\nStat`}                                                   | ${7} | ${'last line has no newline'}
    ${'cut in the middle of a value'}        | ${`${ok}\nPackage: b\nStatus: install ok installed\nVersion: 1.`}              | ${8} | ${'last line has no newline'}
    ${'cut after a field line'}              | ${`${ok}\nPackage: b\n`}                                                       | ${6} | ${'(b) has no Status field'}
  `('rejects $case at line $line', ({ text, line, message }) => {
    const error = parseError(text);

    expect(error.line).toBe(line);
    expect(error.message).toContain(message);
    expect(error.message.startsWith(`test-status:${line}: `)).toBe(true);
  });

  it('rejects every cut of a status file in the middle of a line; a cut at a line end loses no data silently', () => {
    const text = fixture('source-version.status');
    const complete = parseDpkgStatus(text);
    const accepted: number[] = [];

    for (let cut = 1; cut < text.length; cut++) {
      let packages: InstalledPackage[];
      try {
        packages = parseDpkgStatus(text.slice(0, cut));
      } catch (error) {
        if (error instanceof InvalidInventoryError) continue;
        throw error;
      }
      accepted.push(cut);
      // What a cut at a line end leaves is a shorter but correct list: no stanza reads differently.
      expect(packages).toEqual(complete.slice(0, packages.length));
    }

    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.filter((cut) => text[cut - 1] !== '\n')).toEqual([]);
  });
});

describe('ecosystems/deb/inventory: real status files', () => {
  const debian12 = resolve(inventoriesDir, 'debian12-dpkg-status');
  const scalibr = resolve(inventoriesDir, 'dpkg-status-scalibr-valid');

  it.skipIf(!existsSync(debian12))(
    titled(existsSync(debian12), 'reads the Debian 12 status file', `${debian12} is absent`),
    () => {
      const packages = parseDpkgStatus(readFileSync(debian12, 'utf8'), 'debian12-dpkg-status');

      expect(packages).toHaveLength(802);
      expect(new Set(packages.map((p) => p.source?.name)).size).toBe(456);
      expect(packages.filter((p) => p.version.includes(':'))).toHaveLength(102);
      expect(packages.find((p) => p.name === 'bsdutils')).toEqual(
        pkg('bsdutils', '1:2.38.1-5+deb12u3', 'amd64', ['util-linux', '2.38.1-5+deb12u3']),
      );
    },
  );

  it.skipIf(!existsSync(scalibr))(
    titled(existsSync(scalibr), 'reads scalibr’s valid dpkg status', `${scalibr} is absent`),
    () => {
      const packages = parseDpkgStatus(readFileSync(scalibr, 'utf8'), 'dpkg-status-scalibr-valid');

      expect(packages).toEqual([
        pkg('accountsservice', '22.08.8-6', 'amd64'),
        pkg('acl', '2.3.1-3', 'amd64'),
        pkg('adduser', '3.131', 'all'),
        pkg('admin-session', '2023.06.26.c543406313-00', 'amd64'),
        pkg('attr', '1:2.5.1-4', 'amd64'),
        pkg('libacl1', '2.3.1-3', 'amd64', ['acl', '2.3.1-3']),
        pkg('util-linux-extra', '2.38.1-5+b1', 'amd64', ['util-linux', '2.38.1-5']),
      ]);
    },
  );

  const hasMachineStatus = existsSync(machineStatus);
  const query = hasMachineStatus
    ? spawnSync(
        'dpkg-query',
        [
          '-W',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} syntax
          '-f=${Package}\t${Architecture}\t${Version}\t${db:Status-Status}\t${source:Package}\t${source:Version}\n',
        ],
        { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
      )
    : null;
  const hasDpkgQuery = query !== null && query.status === 0;

  it.skipIf(!hasMachineStatus)(
    titled(hasMachineStatus, 'reads this machine’s /var/lib/dpkg/status', 'not a dpkg system'),
    () => {
      const packages = parseDpkgStatus(readFileSync(machineStatus, 'utf8'), machineStatus);

      expect(packages.length).toBeGreaterThan(0);
    },
  );

  it.skipIf(!hasDpkgQuery)(
    titled(
      hasDpkgQuery,
      'lists exactly what dpkg-query lists as installed on this machine',
      'no /var/lib/dpkg/status or dpkg-query',
    ),
    () => {
      const kept = new Set(['installed', 'triggers-pending', 'triggers-awaited']);
      const expected = query!.stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => line.split('\t'))
        .filter(([, , , state]) => kept.has(state!))
        .map(([name, arch, version, , sourceName, sourceVersion]) => ({
          name,
          arch,
          version,
          source: `${sourceName} ${sourceVersion}`,
        }));

      const packages = parseDpkgStatus(readFileSync(machineStatus, 'utf8'), machineStatus);

      const ours = packages.map((p) => ({
        name: p.name,
        arch: p.architecture ?? '',
        version: p.version,
        source: `${p.source?.name} ${p.source?.version}`,
      }));
      const byKey = (x: { name?: string; arch?: string }, y: { name?: string; arch?: string }) =>
        `${x.name}:${x.arch}`.localeCompare(`${y.name}:${y.arch}`);
      expect(ours.sort(byKey)).toEqual(expected.sort(byKey));
      const iiCount = query!.stdout.split('\n').filter((line) => line.split('\t')[3] === 'installed').length;
      expect(packages.length).toBeGreaterThanOrEqual(iiCount);
    },
  );
});
