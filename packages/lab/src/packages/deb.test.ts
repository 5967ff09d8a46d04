import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAptRoot } from '../roots/apt.js';
import { buildAptRepository, buildDebPackage, debFileName, removeFromAptRepository } from './deb.js';

const TOOLS = ['dpkg', 'dpkg-deb', 'dpkg-scanpackages', 'apt-cache'];
const missing = TOOLS.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
const skipReason = missing.length > 0 ? `missing ${missing.join(', ')}` : null;
if (skipReason !== null && process.env.PATCHWARDEN_REQUIRE_TOOLS === '1') {
  throw new Error(`PATCHWARDEN_REQUIRE_TOOLS=1 but ${skipReason}`);
}

describe('lab/packages/deb debFileName', () => {
  it.each`
    name           | version      | architecture | expected
    ${'pms-hello'} | ${'1.0'}     | ${undefined} | ${'pms-hello_1.0_all.deb'}
    ${'pms-hello'} | ${'1:2.0-3'} | ${'amd64'}   | ${'pms-hello_2.0-3_amd64.deb'}
  `('$name $version is $expected', ({ name, version, architecture, expected }) => {
    expect(debFileName({ name, version, architecture })).toBe(expected);
  });
});

describe.skipIf(skipReason !== null)(
  `lab/packages/deb with dpkg-deb and apt${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let work: string;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'pw-lab-deb-'));
    });

    afterAll(async () => {
      await rm(work, { recursive: true, force: true });
    });

    it('builds a package dpkg-deb reads back: control fields, payload, maintainer scripts', async () => {
      const file = await buildDebPackage(
        {
          name: 'pms-hello',
          version: '1:2.0-1',
          depends: ['pms-lib (>= 1.0)'],
          conflicts: ['pms-old'],
          failingScript: 'postinst',
          requiresReboot: true,
        },
        join(work, 'out'),
      );

      const fields = execFileSync(
        'dpkg-deb',
        ['-f', file, 'Package', 'Version', 'Architecture', 'Depends', 'Conflicts'],
        {
          encoding: 'utf8',
        },
      );
      const contents = execFileSync('dpkg-deb', ['-c', file], { encoding: 'utf8' });
      const postinst = execFileSync('dpkg-deb', ['-I', file, 'postinst'], { encoding: 'utf8' });

      expect(file).toBe(join(work, 'out', 'pms-hello_2.0-1_all.deb'));
      expect(fields).toBe(
        'Package: pms-hello\nVersion: 1:2.0-1\nArchitecture: all\nDepends: pms-lib (>= 1.0)\nConflicts: pms-old\n',
      );
      expect(contents).toMatch(/root\/root .* \.\/usr\/share\/pms-hello\/VERSION/);
      expect(postinst).toContain('"$DPKG_ROOT/run/reboot-required"');
      expect(postinst).toContain('pms-hello postinst: failing on purpose');
      expect(postinst.trimEnd().endsWith('exit 0')).toBe(true);
    });

    it('indexes every version, drops a removed one, and apt in a private root sees exactly those', async () => {
      const repo = await buildAptRepository(join(work, 'repo'), [
        { name: 'pms-hello', version: '1.0' },
        { name: 'pms-hello', version: '1.1' },
        { name: 'pms-hello', version: '2.0' },
      ]);
      await removeFromAptRepository(repo.dir, [debFileName({ name: 'pms-hello', version: '1.1' })]);
      const { aptConfig } = await createAptRoot(join(work, 'root'), repo.dir);
      const env = { ...process.env, APT_CONFIG: aptConfig, LC_ALL: 'C' };

      execFileSync('apt-get', ['-q', 'update'], { env });
      const madison = execFileSync('apt-cache', ['madison', 'pms-hello'], { env, encoding: 'utf8' });

      expect(repo.files.map((f) => f.slice(repo.dir.length + 1))).toEqual([
        'pms-hello_1.0_all.deb',
        'pms-hello_1.1_all.deb',
        'pms-hello_2.0_all.deb',
      ]);
      expect(await readFile(join(repo.dir, 'Release'), 'utf8')).toContain('Packages');
      expect(
        madison
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => l.split('|')[1]?.trim()),
      ).toEqual(['2.0', '1.0']);
    });

    it('gives a reboot-required package a postinst that marks the private root through DPKG_ROOT', async () => {
      const file = await buildDebPackage(
        { name: 'pms-reboot', version: '1.0', requiresReboot: true },
        join(work, 'out'),
      );
      const { root } = await createAptRoot(join(work, 'reboot-root'), join(work, 'repo'));

      execFileSync('dpkg', [
        `--root=${root}`,
        `--log=${root}/var/log/dpkg.log`,
        '--force-script-chrootless',
        '--force-not-root',
        '-i',
        file,
      ]);

      expect(existsSync(join(root, 'run/reboot-required'))).toBe(true);
      expect(await readFile(join(root, 'run/reboot-required.pkgs'), 'utf8')).toBe('pms-reboot\n');
    });
  },
);
