import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInventoryError } from '../../errors.js';
import type { InstalledPackage } from '../../types/inventory.js';
import { parseRpmQa, RPM_QA_QUERY_FORMAT, rpm } from './index.js';

const FIXTURE = new URL('./__fixtures__/rpm-qa-alma9.tsv', import.meta.url);

function pkg(
  name: string,
  version: string,
  architecture: string | null,
  source: [string, string] | null,
): InstalledPackage {
  return {
    name,
    version,
    architecture,
    source: source === null ? null : { name: source[0], version: source[1] },
    ecosystem: 'rpm',
  };
}

function errorOf(f: () => unknown): InvalidInventoryError {
  try {
    f();
  } catch (error) {
    if (error instanceof InvalidInventoryError) return error;
    throw error;
  }
  throw new Error('expected InvalidInventoryError, nothing was thrown');
}

describe('ecosystems/rpm/inventory: parseRpmQa', () => {
  it('reads the fixture: epochs, multilib, several kernels, nosrc, gpg-pubkey skipped', () => {
    const packages = parseRpmQa(readFileSync(FIXTURE, 'utf8'), 'rpm-qa-alma9.tsv');

    expect(packages).toEqual([
      pkg('basesystem', '11-13.el9', 'noarch', ['basesystem', '11-13.el9']),
      pkg('openssl-libs', '1:3.0.7-27.el9', 'x86_64', ['openssl', '1:3.0.7-27.el9']),
      pkg('glibc', '2.34-100.el9_4.2', 'x86_64', ['glibc', '2.34-100.el9_4.2']),
      pkg('glibc', '2.34-100.el9_4.2', 'i686', ['glibc', '2.34-100.el9_4.2']),
      pkg('kernel-core', '5.14.0-427.13.1.el9_4', 'x86_64', ['kernel', '5.14.0-427.13.1.el9_4']),
      pkg('kernel-core', '5.14.0-427.16.1.el9_4', 'x86_64', ['kernel', '5.14.0-427.16.1.el9_4']),
      pkg('grub2-pc', '1:2.06-77.el9.alma', 'x86_64', ['grub2', '1:2.06-77.el9.alma']),
      pkg('perl-IO-Socket-SSL', '2.073-1.el9', 'noarch', ['perl-IO-Socket-SSL', '2.073-1.el9']),
      pkg('vim-minimal', '2:8.2.2637-20.el9_1', 'x86_64', ['vim', '2:8.2.2637-20.el9_1']),
      pkg('libgcc', '11.4.1-3.el9.alma.1', 'x86_64', ['gcc', '11.4.1-3.el9.alma.1']),
      pkg('local-tool', '1.0~rc1^20240101git-1', 'x86_64', ['local-tool', '1.0~rc1^20240101git-1']),
    ]);
    for (const p of packages) expect(rpm.checkVersion(p.version)).toBeNull();
  });

  it('reads an empty database as no packages', () => {
    expect(parseRpmQa('')).toEqual([]);
  });

  it('keeps a package named gpg-pubkey that has a source rpm', () => {
    expect(parseRpmQa('gpg-pubkey\t0\t1\t1\tnoarch\tgpg-pubkey-1-1.src.rpm\n')).toEqual([
      pkg('gpg-pubkey', '1-1', 'noarch', ['gpg-pubkey', '1-1']),
    ]);
  });

  it.each`
    text                                            | line | detail
    ${'a\t0\t1\t1\tnoarch\ta-1-1.src.rpm'}          | ${1} | ${/truncated/}
    ${'a\t0\t1\t1\tnoarch\ta-1-1.src.rpm\nb\t0\t1'} | ${2} | ${/truncated/}
    ${'a\t0\t1\t1\tnoarch\n'}                       | ${1} | ${/expected 6 tab-separated fields .* found 5/}
    ${'a\t0\t1\t1\tnoarch\ta-1-1.src.rpm\textra\n'} | ${1} | ${/found 7/}
    ${'a\t0\t1\t1\tnoarch\ta-1-1.src.rpm\n\n'}      | ${2} | ${/found 1/}
    ${'\t0\t1\t1\tnoarch\ta-1-1.src.rpm\n'}         | ${1} | ${/NAME is empty/}
    ${'a\t(none)\t1\t1\tnoarch\ta-1-1.src.rpm\n'}   | ${1} | ${/EPOCHNUM "\(none\)" is not a number/}
    ${'a\t-1\t1\t1\tnoarch\ta-1-1.src.rpm\n'}       | ${1} | ${/EPOCHNUM/}
    ${'a\t01\t1\t1\tnoarch\ta-1-1.src.rpm\n'}       | ${1} | ${/EPOCHNUM/}
    ${'a\t0\t\t1\tnoarch\ta-1-1.src.rpm\n'}         | ${1} | ${/VERSION is empty/}
    ${'a\t0\t1\t\tnoarch\ta-1-1.src.rpm\n'}         | ${1} | ${/RELEASE is empty/}
    ${'a\t0\t1\t1\t\ta-1-1.src.rpm\n'}              | ${1} | ${/ARCH is empty/}
    ${'a\t0\t1\t1\tnoarch\ta-1-1.rpm\n'}            | ${1} | ${/SOURCERPM "a-1-1.rpm"/}
    ${'a\t0\t1\t1\tnoarch\ta-1.src.rpm\n'}          | ${1} | ${/SOURCERPM/}
    ${'a\t0\t1\t1\tnoarch\t-1-1.src.rpm\n'}         | ${1} | ${/SOURCERPM/}
    ${'a\t0\t1\t1\tnoarch\ta--1.src.rpm\n'}         | ${1} | ${/SOURCERPM/}
    ${'a\t0\t1\t1\tnoarch\ta-1-.src.rpm\n'}         | ${1} | ${/SOURCERPM/}
    ${'a\t0\t1\t1\tnoarch\t\n'}                     | ${1} | ${/SOURCERPM ""/}
  `('rejects $text at line $line', ({ text, line, detail }) => {
    const error = errorOf(() => parseRpmQa(text, 'host.tsv'));

    expect(error.line).toBe(line);
    expect(error.message).toMatch(detail);
    expect(error.message.startsWith(`host.tsv:${line}: `)).toBe(true);
  });

  it('throws at the cut line whenever the output is cut inside a line', () => {
    const text = readFileSync(FIXTURE, 'utf8');

    for (let cut = 1; cut < text.length; cut++) {
      if (text[cut - 1] === '\n') continue;
      const head = text.slice(0, cut);
      expect(errorOf(() => parseRpmQa(head)).line).toBe(head.split('\n').length);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Real rpm output: tiny packages built with rpmbuild, installed into a private root and database,
// listed with the exact query format.

const hasRpmbuild =
  spawnSync('rpmbuild', ['--version'], { stdio: 'ignore' }).status === 0 &&
  spawnSync('rpm', ['--version'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!hasRpmbuild)(
  hasRpmbuild
    ? 'ecosystems/rpm/inventory: real rpm -qa output'
    : 'ecosystems/rpm/inventory: SKIPPED real rpm test, rpm/rpmbuild are not installed (apt-get install rpm)',
  () => {
    let dir = '';
    let output = '';
    let keysImported = false;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'pw-rpm-'));
      const home = join(dir, 'home');
      const root = join(dir, 'root');
      mkdirSync(home);
      mkdirSync(root);
      // Debian's rpm keeps its database under $HOME unless told otherwise.
      writeFileSync(
        join(home, '.rpmmacros'),
        `%_dbpath /var/lib/rpm\n%_topdir ${dir}/rpmbuild\n%debug_package %{nil}\n`,
      );
      const env = { ...process.env, HOME: home, LC_ALL: 'C' };
      const run = (cmd: string, args: string[]) =>
        execFileSync(cmd, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

      const specs: [string, string][] = [
        ['pw-hello', 'Version: 1.0\nRelease: 1.el9\nBuildArch: noarch\n'],
        ['pw-epoch', 'Epoch: 2\nVersion: 3.0.7~rc1\nRelease: 27.el9_4^git1\n'],
        [
          'pw-nosrc',
          'Version: 0.1+post\nRelease: 3%{?dist}\nBuildArch: noarch\nSource0: pw-nosrc.txt\nNoSource: 0\n',
        ],
      ];
      mkdirSync(join(dir, 'rpmbuild', 'SOURCES'), { recursive: true });
      writeFileSync(join(dir, 'rpmbuild', 'SOURCES', 'pw-nosrc.txt'), 'x\n');
      for (const [name, preamble] of specs) {
        const spec = join(dir, `${name}.spec`);
        writeFileSync(
          spec,
          `Name: ${name}\n${preamble}Summary: t\nLicense: MIT\n%description\nt\n%install\n` +
            `mkdir -p %{buildroot}/usr/share/${name}\necho x > %{buildroot}/usr/share/${name}/V\n` +
            `%files\n/usr/share/${name}/V\n`,
        );
        run('rpmbuild', ['--quiet', '-bb', spec]);
      }
      const built = ['noarch/pw-hello-1.0-1.el9.noarch.rpm', 'noarch/pw-nosrc-0.1+post-3.noarch.rpm'];
      const arch = run('rpm', ['--eval', '%{_arch}']).trim();
      built.push(`${arch}/pw-epoch-3.0.7~rc1-27.el9_4^git1.${arch}.rpm`);
      run('rpm', ['--root', root, '--initdb']);
      run('rpm', ['--root', root, '-i', '--nodeps', ...built.map((f) => join(dir, 'rpmbuild', 'RPMS', f))]);

      // A signing key shows up as a gpg-pubkey pseudo-package; any armoured public key will do.
      const keyring = '/usr/share/keyrings/debian-archive-keyring.gpg';
      if (existsSync(keyring) && spawnSync('gpg', ['--version'], { stdio: 'ignore' }).status === 0) {
        const key = join(dir, 'key.asc');
        const gnupg = join(dir, 'gnupg');
        mkdirSync(gnupg, { mode: 0o700 });
        const armoured = run('gpg', [
          '--homedir',
          gnupg,
          '--no-default-keyring',
          '--keyring',
          keyring,
          '--export',
          '--armor',
        ]);
        writeFileSync(key, armoured);
        keysImported =
          spawnSync('rpm', ['--root', root, '--import', key], { env, stdio: 'ignore' }).status === 0;
      }

      output = run('rpm', ['--root', root, '-qa', '--queryformat', RPM_QA_QUERY_FORMAT]);
    }, 60_000);

    afterAll(() => {
      if (dir !== '') rmSync(dir, { recursive: true, force: true });
    });

    it('parses what rpm prints, skipping gpg-pubkey', () => {
      const packages = parseRpmQa(output, 'rpm -qa').sort((a, b) => (a.name < b.name ? -1 : 1));
      const arch = packages.find((p) => p.name === 'pw-epoch')?.architecture ?? 'missing';

      expect(packages).toEqual([
        pkg('pw-epoch', '2:3.0.7~rc1-27.el9_4^git1', arch, ['pw-epoch', '2:3.0.7~rc1-27.el9_4^git1']),
        pkg('pw-hello', '1.0-1.el9', 'noarch', ['pw-hello', '1.0-1.el9']),
        pkg('pw-nosrc', '0.1+post-3', 'noarch', ['pw-nosrc', '0.1+post-3']),
      ]);
      expect(arch).not.toBe('noarch');
      expect(output.includes('gpg-pubkey\t')).toBe(keysImported);
      expect(rpm.compare(packages[0]!.version, '2:3.0.7-1')).toBe(-1);
    });

    it('rejects the same output cut inside its last line', () => {
      const cut = output.slice(0, -3);

      expect(errorOf(() => parseRpmQa(cut)).line).toBe(cut.split('\n').length);
    });
  },
);
