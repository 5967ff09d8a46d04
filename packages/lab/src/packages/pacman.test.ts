import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPacmanRoot } from '../roots/pacman.js';
import {
  buildPacmanPackage,
  buildPacmanRepository,
  pacmanFileName,
  pacmanVersion,
  publishPacmanPackages,
  unpublishPacmanPackages,
} from './pacman.js';

const TOOLS = ['pacman', 'repo-add', 'repo-remove', 'bsdtar', 'ldd'];
const missing = TOOLS.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
const skipReason = missing.length > 0 ? `missing ${missing.join(', ')}` : null;
if (skipReason !== null && process.env.PATCHWARDEN_REQUIRE_TOOLS === '1') {
  throw new Error(`PATCHWARDEN_REQUIRE_TOOLS=1 but ${skipReason}`);
}

describe('lab/packages/pacman names', () => {
  it.each`
    version      | full         | file
    ${'1.0'}     | ${'1.0-1'}   | ${'pms-hello-1.0-1-any.pkg.tar.gz'}
    ${'1:2.0-3'} | ${'1:2.0-3'} | ${'pms-hello-1:2.0-3-any.pkg.tar.gz'}
  `('$version is $full in $file', ({ version, full, file }) => {
    expect(pacmanVersion(version)).toBe(full);
    expect(pacmanFileName({ name: 'pms-hello', version })).toBe(file);
  });
});

describe.skipIf(skipReason !== null)(
  `lab/packages/pacman with bsdtar, repo-add and pacman${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let work: string;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'pw-lab-pacman-'));
    });

    afterAll(async () => {
      await rm(work, { recursive: true, force: true });
    });

    it('builds a package pacman reads back, .PKGINFO first', async () => {
      const file = await buildPacmanPackage(
        { name: 'pms-hello', version: '2.0', depends: ['pms-lib>=1.0'], failingScriptlet: true },
        join(work, 'out'),
      );

      const info = execFileSync('pacman', ['-Qip', file], {
        encoding: 'utf8',
        env: { ...process.env, LC_ALL: 'C' },
      });
      const members = execFileSync('bsdtar', ['-tf', file], { encoding: 'utf8' }).split('\n');
      const install = execFileSync('bsdtar', ['-xOf', file, '.INSTALL'], { encoding: 'utf8' });

      expect(file).toBe(join(work, 'out', 'pms-hello-2.0-1-any.pkg.tar.gz'));
      expect(info).toMatch(/^Name +: pms-hello$/m);
      expect(info).toMatch(/^Version +: 2\.0-1$/m);
      expect(info).toMatch(/^Depends On +: pms-lib>=1\.0$/m);
      expect(info).toMatch(/^Install Script +: Yes$/m);
      expect(members[0]).toBe('.PKGINFO');
      expect(members).toContain('usr/share/pms-hello/VERSION');
      expect(install).toContain('post_upgrade() {');
      expect(install).toContain('return 1');
    });

    it('publishes the newest version of each name, keeps the older files in the pool, and republishes', async () => {
      const repo = await buildPacmanRepository(join(work, 'lab'), [
        { name: 'pms-hello', version: '1.0' },
        { name: 'pms-hello', version: '10.0' },
        { name: 'pms-hello', version: '2.0' },
        { name: 'pms-lib', version: '1.0' },
      ]);
      const dbEntries = () =>
        execFileSync('bsdtar', ['-tf', join(repo.repoDir, 'lab.db.tar.gz')], { encoding: 'utf8' })
          .split('\n')
          .filter((e) => /^[^/]+\/$/.test(e))
          .sort();

      const first = dbEntries();
      await publishPacmanPackages(repo.repoDir, [join(repo.poolDir, 'pms-hello-1.0-1-any.pkg.tar.gz')], {
        removeOld: true,
      });
      const republished = dbEntries();
      await unpublishPacmanPackages(repo.repoDir, ['pms-lib']);
      const unpublished = dbEntries();

      expect(first).toEqual(['pms-hello-10.0-1/', 'pms-lib-1.0-1/']);
      expect((await readdir(repo.poolDir)).sort()).toEqual([
        'pms-hello-1.0-1-any.pkg.tar.gz',
        'pms-hello-10.0-1-any.pkg.tar.gz',
        'pms-hello-2.0-1-any.pkg.tar.gz',
        'pms-lib-1.0-1-any.pkg.tar.gz',
      ]);
      expect(republished).toEqual(['pms-hello-1.0-1/', 'pms-lib-1.0-1/']);
      expect(existsSync(join(repo.repoDir, 'pms-hello-10.0-1-any.pkg.tar.gz'))).toBe(false);
      expect(unpublished).toEqual(['pms-hello-1.0-1/']);
    });

    it.skipIf(process.getuid?.() !== 0)(
      'prepares a root whose pacman syncs the repository and which has a shell for scriptlets',
      async () => {
        const repo = await buildPacmanRepository(join(work, 'root-lab'), [
          { name: 'pms-hello', version: '1.0' },
        ]);
        const { root, config } = await createPacmanRoot(join(work, 'root'), repo.repoDir);
        const pacman = ['--noconfirm', '--config', config];

        execFileSync('pacman', [...pacman, '-Sy'], { stdio: 'ignore' });
        const list = execFileSync('pacman', [...pacman, '-Sl', 'lab'], { encoding: 'utf8' });
        const shell = spawnSync('chroot', [root, '/bin/sh', '-c', 'echo ok'], { encoding: 'utf8' });

        expect(list).toBe('lab pms-hello 1.0-1\n');
        expect(shell.stdout).toBe('ok\n');
      },
    );
  },
);
