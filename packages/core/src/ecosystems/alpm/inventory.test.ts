import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInventoryError } from '../../errors.js';
import { alpm, parsePacmanDesc, parsePacmanLocalDb } from './index.js';

const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));
const GAWK_DESC = resolve(REPO_ROOT, '../shared/data/inventories/arch-pacman-local-desc');
const fixture = (name: string) => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');

function errorOf(f: () => unknown): InvalidInventoryError {
  try {
    f();
  } catch (error) {
    if (error instanceof InvalidInventoryError) return error;
    throw error;
  }
  throw new Error('expected InvalidInventoryError, nothing was thrown');
}

const MINIMAL = '%NAME%\nfoo\n\n%VERSION%\n1.0-1\n\n%BASE%\nfoo-base\n\n%ARCH%\nx86_64\n\n';

describe('ecosystems/alpm/inventory: parsePacmanDesc', () => {
  it('reads a desc file written by pacman: split package, epoch', () => {
    expect(parsePacmanDesc(fixture('desc-split-package'))).toEqual({
      name: 'pw-epoch',
      version: '2:3.0.7rc1-1.1',
      architecture: 'x86_64',
      source: { name: 'pw-split', version: '2:3.0.7rc1-1.1' },
      ecosystem: 'alpm',
    });
  });

  it('reads a desc file without %BASE% and with an empty %DESC%', () => {
    expect(parsePacmanDesc(fixture('desc-no-base'))).toEqual({
      name: 'oldpkg',
      version: '1.2-3',
      architecture: 'i686',
      source: null,
      ecosystem: 'alpm',
    });
  });

  it.skipIf(!existsSync(GAWK_DESC))(
    existsSync(GAWK_DESC)
      ? 'reads the real Arch desc of gawk 5.3.1-1'
      : `SKIPPED real Arch desc, ${GAWK_DESC} is absent`,
    () => {
      const pkg = parsePacmanDesc(readFileSync(GAWK_DESC, 'utf8'), GAWK_DESC);

      expect(pkg).toEqual({
        name: 'gawk',
        version: '5.3.1-1',
        architecture: 'x86_64',
        source: { name: 'gawk', version: '5.3.1-1' },
        ecosystem: 'alpm',
      });
      expect(alpm.compare(pkg.version, '5.3.1-2')).toBe(-1);
    },
  );

  it('accepts a file without the final blank line and sections in any order', () => {
    expect(parsePacmanDesc('%ARCH%\nany\n\n%VERSION%\n1:2-3\n\n%NAME%\nbar\n')).toEqual({
      name: 'bar',
      version: '1:2-3',
      architecture: 'any',
      source: null,
      ecosystem: 'alpm',
    });
  });

  it.each`
    text                                       | line | detail
    ${''}                                      | ${1} | ${/empty/}
    ${'%NAME%\nfoo\n\n%VERSION%\n1.0-1'}       | ${5} | ${/truncated/}
    ${'%NAME%\nfoo\n\n%VERSION%\n'}            | ${4} | ${/%VERSION% has no value/}
    ${'%NAME%\nfoo\n\n%VERSION%\n\n'}          | ${4} | ${/%VERSION% has no value/}
    ${'%NAME%\nfoo\nbar\n\n'}                  | ${3} | ${/%NAME% has more than one value/}
    ${'%NAME%\nfoo\n\n%NAME%\nbar\n\n'}        | ${4} | ${/%NAME% appears twice/}
    ${'foo\n'}                                 | ${1} | ${/expected a %SECTION% header, found "foo"/}
    ${'%NAME%\nfoo\n\nbar\n'}                  | ${4} | ${/expected a %SECTION% header/}
    ${'%%\nx\n\n'}                             | ${1} | ${/expected a %SECTION% header/}
    ${'%NAME%\nfoo\n\n'}                       | ${3} | ${/no %VERSION% section/}
    ${'%VERSION%\n1-1\n\n%DEPENDS%\na\nb\n\n'} | ${7} | ${/no %NAME% section/}
  `('rejects $text at line $line', ({ text, line, detail }) => {
    const error = errorOf(() => parsePacmanDesc(text, 'local/foo-1.0-1/desc'));

    expect(error.line).toBe(line);
    expect(error.message).toMatch(detail);
    expect(error.message.startsWith(`local/foo-1.0-1/desc:${line}: `)).toBe(true);
  });

  it('throws whenever the file is cut inside a line', () => {
    const text = fixture('desc-split-package');

    for (let cut = 1; cut < text.length; cut++) {
      if (text[cut - 1] === '\n') continue;
      const head = text.slice(0, cut);
      expect(errorOf(() => parsePacmanDesc(head)).line).toBe(head.split('\n').length);
    }
  });
});

describe('ecosystems/alpm/inventory: parsePacmanLocalDb', () => {
  it('reads every desc, skips ALPM_DB_VERSION and the other entry files, sorts by name', () => {
    const packages = parsePacmanLocalDb([
      { path: '/var/lib/pacman/local/ALPM_DB_VERSION', text: '9\n' },
      { path: '/var/lib/pacman/local/pw-epoch-2:3.0.7rc1-1.1/desc', text: fixture('desc-split-package') },
      { path: '/var/lib/pacman/local/pw-epoch-2:3.0.7rc1-1.1/files', text: '%FILES%\nusr/\n\n' },
      { path: 'local/oldpkg-1.2-3/desc', text: fixture('desc-no-base') },
      { path: 'foo-1.0-1/desc', text: MINIMAL },
      { path: 'foo-1.0-1/mtree', text: '' },
    ]);

    expect(packages.map((p) => `${p.name} ${p.version} ${p.source?.name ?? '-'}`)).toEqual([
      'foo 1.0-1 foo-base',
      'oldpkg 1.2-3 -',
      'pw-epoch 2:3.0.7rc1-1.1 pw-split',
    ]);
  });

  it('reads an empty database as no packages', () => {
    expect(parsePacmanLocalDb([{ path: 'local/ALPM_DB_VERSION', text: '9\n' }])).toEqual([]);
  });

  it.each`
    path                       | text                    | line  | detail
    ${'local/foo-1.0-2/desc'}  | ${MINIMAL}              | ${1}  | ${/directory "foo-1.0-2" does not match %NAME%-%VERSION% "foo-1.0-1"/}
    ${'local/bar-1.0-1/desc'}  | ${MINIMAL}              | ${1}  | ${/does not match/}
    ${'desc'}                  | ${MINIMAL}              | ${1}  | ${/not in a package directory/}
    ${'local/foo-1.0-1/notes'} | ${''}                   | ${1}  | ${/unexpected file "notes"/}
    ${'local/foo-1.0-1/desc'}  | ${MINIMAL.slice(0, -3)} | ${11} | ${/truncated/}
  `('rejects $path', ({ path, text, line, detail }) => {
    const error = errorOf(() => parsePacmanLocalDb([{ path, text }]));

    expect(error.line).toBe(line);
    expect(error.message).toMatch(detail);
    expect(error.source).toBe(path);
  });

  it('rejects two entries for the same package', () => {
    const error = errorOf(() =>
      parsePacmanLocalDb([
        { path: 'local/foo-1.0-1/desc', text: MINIMAL },
        { path: 'other/foo-1.0-1/desc', text: MINIMAL },
      ]),
    );

    expect(error.message).toMatch(/package foo is also installed as local\/foo-1.0-1\/desc/);
  });
});

// ---------------------------------------------------------------------------------------------
// A real local database: tiny packages made by hand (.PKGINFO + payload, as makepkg refuses to
// run as root), installed with `pacman -U` into a private root. Installing needs root.

const isRoot = process.getuid?.() === 0;
const hasPacman =
  spawnSync('pacman', ['--version'], { stdio: 'ignore' }).status === 0 &&
  spawnSync('tar', ['--version'], { stdio: 'ignore' }).status === 0;
const canInstall = isRoot && hasPacman;

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

describe.skipIf(!canInstall)(
  canInstall
    ? 'ecosystems/alpm/inventory: a real pacman local database'
    : `ecosystems/alpm/inventory: SKIPPED real pacman test, ${hasPacman ? 'pacman -U needs root' : 'pacman or tar is not installed (apt-get install pacman-package-manager)'}`,
  () => {
    let dir = '';
    let local = '';
    let queried = '';

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'pw-pacman-'));
      const root = join(dir, 'root');
      const db = join(root, 'var/lib/pacman');
      local = join(db, 'local');
      for (const d of [db, join(root, 'var/cache/pacman/pkg'), join(root, 'var/log'), join(dir, 'pkgs')]) {
        mkdirSync(d, { recursive: true });
      }
      writeFileSync(
        join(dir, 'pacman.conf'),
        `[options]\nRootDir = ${root}\nDBPath = ${db}/\nCacheDir = ${root}/var/cache/pacman/pkg/\n` +
          `LogFile = ${root}/var/log/pacman.log\nGPGDir = ${root}/etc/pacman.d/gnupg/\n` +
          `HookDir = ${root}/etc/pacman.d/hooks/\nArchitecture = auto\nSigLevel = Never\nLocalFileSigLevel = Never\n`,
      );
      const packages: [string, string, string | null, string][] = [
        ['pw-hello', '1.0-1', 'pw-hello', 'any'],
        ['pw-epoch', '2:3.0.7rc1-1.1', 'pw-split', 'x86_64'],
        ['pw-nobase', '0.1.r12.g1a2b3c-3', null, 'any'],
      ];
      const files: string[] = [];
      for (const [name, version, base, arch] of packages) {
        const build = join(dir, 'build', name);
        mkdirSync(join(build, 'usr/share', name), { recursive: true });
        writeFileSync(join(build, 'usr/share', name, 'V'), `${version}\n`);
        writeFileSync(
          join(build, '.PKGINFO'),
          `pkgname = ${name}\n${base === null ? '' : `pkgbase = ${base}\n`}pkgver = ${version}\npkgdesc = \n` +
            `builddate = 1700000000\nsize = 2\narch = ${arch}\nlicense = MIT\ndepend = glibc\n`,
        );
        const file = join(dir, 'pkgs', `${name}-${version}-${arch}.pkg.tar.gz`);
        execFileSync('tar', ['-czf', file, '--owner=0', '--group=0', '--numeric-owner', '.PKGINFO', 'usr'], {
          cwd: build,
        });
        files.push(file);
      }
      const pacman = ['--noconfirm', '--config', join(dir, 'pacman.conf'), '--root', root, '--dbpath', db];
      execFileSync('pacman', [...pacman, '-U', '-dd', ...files], { stdio: 'ignore' });
      queried = execFileSync('pacman', [...pacman, '-Q'], { encoding: 'utf8' });
    }, 60_000);

    afterAll(() => {
      if (dir !== '') rmSync(dir, { recursive: true, force: true });
    });

    it('parses every desc file pacman wrote, in agreement with pacman -Q', () => {
      const entries = listFiles(local).map((path) => ({
        path: relative(dir, path),
        text: readFileSync(path, 'utf8'),
      }));

      const packages = parsePacmanLocalDb(entries);

      expect(entries.some((e) => e.path.endsWith('ALPM_DB_VERSION'))).toBe(true);
      expect(packages.map((p) => [p.name, p.version, p.architecture, p.source])).toEqual([
        ['pw-epoch', '2:3.0.7rc1-1.1', 'x86_64', { name: 'pw-split', version: '2:3.0.7rc1-1.1' }],
        ['pw-hello', '1.0-1', 'any', { name: 'pw-hello', version: '1.0-1' }],
        ['pw-nobase', '0.1.r12.g1a2b3c-3', 'any', null],
      ]);
      expect(packages.map((p) => `${p.name} ${p.version}\n`).join('')).toBe(queried);
      for (const p of packages) expect(alpm.checkVersion(p.version)).toBeNull();
    });
  },
);
