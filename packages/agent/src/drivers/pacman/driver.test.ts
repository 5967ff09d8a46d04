import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The lab's builders, by path: the agent does not depend on the lab outside its tests.
import {
  buildPacmanRepository,
  type PacmanPackageSpec,
  pacmanFileName,
  publishPacmanPackages,
} from '../../../../lab/src/packages/pacman.js';
import { createPacmanRoot } from '../../../../lab/src/roots/pacman.js';
import { commandResult, installed, missingOnPath, skipReasonFor, waitFor } from '../testing.js';
import type { CommandResult } from '../types.js';
import { classifyPacmanFailure, createPacmanDriver } from './index.js';

const skipReason = skipReasonFor(
  'pacman',
  missingOnPath(['pacman', 'pacman-conf', 'repo-add', 'bsdtar', 'ldd']),
  'pacman -S/-U/-Sy need root ("you cannot perform this operation unless you are root")',
);

const PACKAGES: PacmanPackageSpec[] = [
  { name: 'pms-hello', version: '1.0-1' },
  { name: 'pms-hello', version: '1.1-1' },
  { name: 'pms-hello', version: '2.0-1', depends: ['pms-lib>=1.0'] },
  { name: 'pms-lib', version: '1.0-1' },
  { name: 'pms-postfail', version: '1.0-1', failingScriptlet: true },
  { name: 'pms-reboot', version: '1.0-1', requiresReboot: true },
  { name: 'pms-needy', version: '1.0-1', depends: ['pms-missing'] },
  { name: 'pms-slow', version: '1.0-1', scriptletSleepSeconds: 3 },
  { name: 'pms-hang', version: '1.0-1', scriptletSleepSeconds: 60 },
  { name: 'pms-flaky', version: '1.0-1' },
  { name: 'pms-flaky', version: '2.0-1', failingScriptlet: true },
  { name: 'pms-conflict', version: '1.0-1', files: { 'usr/share/pms-hello/VERSION': 'not hello\n' } },
];

describe.skipIf(skipReason !== null)(
  `drivers/pacman against pacman in private roots${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let work: string;
    let pool: Map<string, string>;
    let count = 0;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'pw-pacman-test-'));
      const built = await buildPacmanRepository(join(work, 'shared'), PACKAGES);
      pool = new Map(built.files.map((file) => [basename(file), file]));
    });

    afterAll(async () => {
      await rm(work, { recursive: true, force: true });
    });

    function poolFile(name: string, version: string): string {
      const file = pool.get(pacmanFileName({ name, version }));
      if (file === undefined) throw new Error(`${name} ${version} was not built`);
      return file;
    }

    /** A repository publishing these package versions, a root on it, refreshed. */
    async function freshRoot(
      published: Array<[string, string]>,
      options: { timeoutMs?: number; shell?: boolean } = {},
    ) {
      count += 1;
      const repoDir = join(work, `repo-${count}`);
      await publishPacmanPackages(
        repoDir,
        published.map(([name, version]) => poolFile(name, version)),
      );
      const { root } = await createPacmanRoot(
        join(work, `root-${count}`),
        repoDir,
        options.shell === false ? { programs: [] } : {},
      );
      const driver = createPacmanDriver({ root, timeoutMs: options.timeoutMs });
      const refreshed = await driver.refresh();
      expect(refreshed.isSuccess).toBe(true);
      return { root, repoDir, driver };
    }

    it('reports the tools as available and an empty root as an empty inventory', async () => {
      const { driver } = await freshRoot([['pms-hello', '1.0-1']]);

      expect(await driver.isAvailable()).toBe(true);
      expect(await driver.readInventory()).toEqual([]);
    });

    it('installs the repository version exactly and reads it back from the local db', async () => {
      const { root, driver } = await freshRoot([['pms-hello', '1.0-1']]);

      const result = await driver.install([{ name: 'pms-hello', version: '1.0-1' }]);

      expect(result.isSuccess).toBe(true);
      expect(result.changes).toEqual([{ name: 'pms-hello', architecture: 'any', from: null, to: '1.0-1' }]);
      expect(result.commands.at(-1)?.command).toContain('pms-hello=1.0-1');
      expect(await driver.readInventory()).toEqual([installed('pms-hello', '1.0-1', 'any', 'alpm')]);
      expect(await readFile(join(root, 'usr/share/pms-hello/VERSION'), 'utf8')).toBe('pms-hello 1.0-1\n');
    });

    it('lists updates, simulates without changing anything, upgrades, and downgrades from the cache with -U', async () => {
      const { repoDir, driver } = await freshRoot([['pms-hello', '1.0-1']]);
      await driver.install([{ name: 'pms-hello', version: '1.0-1' }]);
      await publishPacmanPackages(repoDir, [poolFile('pms-hello', '2.0-1'), poolFile('pms-lib', '1.0-1')]);
      await driver.refresh();

      const updates = await driver.listUpdates();
      const simulated = await driver.simulate({ kind: 'upgrade' });
      const unchanged = await driver.readInventory();
      const upgraded = await driver.upgrade();
      const afterUpgrade = await driver.listUpdates();
      const refused = driver.install([{ name: 'pms-hello', version: '1.0-1' }]);
      await expect(refused).rejects.toMatchObject({ code: 'DOWNGRADE_NOT_ALLOWED' });
      const simulatedDowngrade = await driver.simulate({
        kind: 'install',
        packages: [{ name: 'pms-hello', version: '1.0-1' }],
        allowDowngrade: true,
      });
      const downgraded = await driver.install([{ name: 'pms-hello', version: '1.0-1' }], {
        allowDowngrade: true,
      });

      expect(updates).toEqual([
        { name: 'pms-hello', architecture: 'any', installedVersion: '1.0-1', candidateVersion: '2.0-1' },
      ]);
      expect(simulated.changes).toEqual([
        { name: 'pms-lib', architecture: null, from: null, to: '1.0-1' },
        { name: 'pms-hello', architecture: 'any', from: '1.0-1', to: '2.0-1' },
      ]);
      expect(unchanged.map((p) => `${p.name} ${p.version}`)).toEqual(['pms-hello 1.0-1']);
      expect(upgraded.isSuccess).toBe(true);
      expect(upgraded.changes).toEqual([
        { name: 'pms-hello', architecture: 'any', from: '1.0-1', to: '2.0-1' },
        { name: 'pms-lib', architecture: 'any', from: null, to: '1.0-1' },
      ]);
      expect(afterUpgrade).toEqual([]);
      expect(simulatedDowngrade.changes).toEqual([
        { name: 'pms-hello', architecture: 'any', from: '2.0-1', to: '1.0-1' },
      ]);
      expect(downgraded.isSuccess).toBe(true);
      expect(downgraded.commands.at(-1)?.command).toContain('-U');
      expect(downgraded.changes).toEqual([
        { name: 'pms-hello', architecture: 'any', from: '2.0-1', to: '1.0-1' },
      ]);
    });

    it('installs a cached older version and a repository package together in one -U transaction', async () => {
      const { repoDir, driver } = await freshRoot([['pms-hello', '1.0-1']]);
      await driver.install([{ name: 'pms-hello', version: '1.0-1' }]);
      await publishPacmanPackages(
        repoDir,
        [poolFile('pms-hello', '2.0-1'), poolFile('pms-lib', '1.0-1'), poolFile('pms-reboot', '1.0-1')],
        { removeOld: true },
      );
      await driver.refresh();
      await driver.upgrade();

      const result = await driver.install(
        [
          { name: 'pms-hello', version: '1.0-1' },
          { name: 'pms-reboot', version: '1.0-1' },
        ],
        { allowDowngrade: true },
      );

      const command = result.commands.at(-1)?.command ?? [];
      expect(result.isSuccess).toBe(true);
      expect(command).toContain('-U');
      expect(
        command.some((arg) => arg.endsWith('/var/cache/pacman/pkg/pms-hello-1.0-1-any.pkg.tar.gz')),
      ).toBe(true);
      expect(command).toContain(`file://${repoDir}/pms-reboot-1.0-1-any.pkg.tar.gz`);
      expect(result.changes).toEqual([
        { name: 'pms-hello', architecture: 'any', from: '2.0-1', to: '1.0-1' },
        { name: 'pms-reboot', architecture: 'any', from: null, to: '1.0-1' },
      ]);
    });

    it('rolls back to the exact previous version after the repository and the cache dropped it', async () => {
      const { root, repoDir, driver } = await freshRoot([['pms-hello', '1.0-1']]);
      await driver.install([{ name: 'pms-hello', version: '1.0-1' }]);
      const archive = join(work, `archive-${count}`);

      const kept = await driver.fetchPackageFiles([{ name: 'pms-hello', version: '1.0-1' }], archive);
      await publishPacmanPackages(repoDir, [poolFile('pms-hello', '2.0-1'), poolFile('pms-lib', '1.0-1')], {
        removeOld: true,
      });
      await driver.refresh();
      const downloaded = await driver.fetchPackageFiles([{ name: 'pms-lib', version: '1.0-1' }], archive);
      const upgraded = await driver.upgrade(['pms-hello']);
      const cache = join(root, 'var/cache/pacman/pkg');
      for (const file of await readdir(cache)) await rm(join(cache, file));
      const fromRepo = await driver.install([{ name: 'pms-hello', version: '1.0-1' }], {
        allowDowngrade: true,
      });
      const rollback = await driver.installFiles(kept);

      expect(kept).toEqual([join(archive, 'pms-hello-1.0-1-any.pkg.tar.gz')]);
      expect(downloaded).toEqual([join(archive, 'pms-lib-1.0-1-any.pkg.tar.gz')]);
      expect(existsSync(join(repoDir, 'pms-hello-1.0-1-any.pkg.tar.gz'))).toBe(false);
      expect(upgraded.changes).toEqual([
        { name: 'pms-hello', architecture: 'any', from: '1.0-1', to: '2.0-1' },
        { name: 'pms-lib', architecture: 'any', from: null, to: '1.0-1' },
      ]);
      expect(fromRepo).toMatchObject({ isSuccess: false, reason: 'not-found', changes: [] });
      expect(rollback.isSuccess).toBe(true);
      expect(rollback.changes).toEqual([
        { name: 'pms-hello', architecture: 'any', from: '2.0-1', to: '1.0-1' },
      ]);
      expect(await readFile(join(root, 'usr/share/pms-hello/VERSION'), 'utf8')).toBe('pms-hello 1.0-1\n');
    });

    it('classifies missing versions and packages as not-found, unmet dependencies and file conflicts as conflicts', async () => {
      const { driver } = await freshRoot([
        ['pms-hello', '1.0-1'],
        ['pms-needy', '1.0-1'],
        ['pms-conflict', '1.0-1'],
      ]);
      await driver.install([{ name: 'pms-hello', version: '1.0-1' }]);

      const noVersion = await driver.install([{ name: 'pms-hello', version: '9.9-1' }]);
      const noPackage = await driver.install([{ name: 'pms-nothere', version: '1.0-1' }]);
      const unmet = await driver.install([{ name: 'pms-needy', version: '1.0-1' }]);
      const conflict = await driver.install([{ name: 'pms-conflict', version: '1.0-1' }]);

      expect(noVersion).toMatchObject({ isSuccess: false, reason: 'not-found', changes: [] });
      expect(noVersion.commands[0]?.stderr).toContain('target not found: pms-hello=9.9-1');
      expect(noPackage).toMatchObject({ isSuccess: false, reason: 'not-found', changes: [] });
      expect(unmet).toMatchObject({ isSuccess: false, reason: 'dependency-conflict', changes: [] });
      expect(conflict).toMatchObject({ isSuccess: false, reason: 'dependency-conflict', changes: [] });
      expect(conflict.commands.at(-1)?.exitCode).toBe(1);
      expect(conflict.commands.at(-1)?.stderr).toContain('conflicting files');
    });

    it('reports a failing scriptlet as script-failed although pacman exits 0 and installs the package', async () => {
      const { driver } = await freshRoot([['pms-postfail', '1.0-1']]);

      const result = await driver.install([{ name: 'pms-postfail', version: '1.0-1' }]);

      expect(result.isSuccess).toBe(false);
      expect(result.reason).toBe('script-failed');
      expect(result.commands.at(-1)?.exitCode).toBe(0);
      expect(output(result.commands.at(-1))).toContain('pms-postfail scriptlet: failing on purpose');
      expect(result.changes).toEqual([
        { name: 'pms-postfail', architecture: 'any', from: null, to: '1.0-1' },
      ]);
      expect((await driver.readInventory()).map((p) => p.name)).toEqual(['pms-postfail']);
    });

    it('rolls back an upgrade whose scriptlet failed to the kept previous file', async () => {
      const { repoDir, driver } = await freshRoot([['pms-flaky', '1.0-1']]);
      await driver.install([{ name: 'pms-flaky', version: '1.0-1' }]);
      const kept = await driver.fetchPackageFiles(
        [{ name: 'pms-flaky', version: '1.0-1' }],
        join(work, `keep-${count}`),
      );
      await publishPacmanPackages(repoDir, [poolFile('pms-flaky', '2.0-1')], { removeOld: true });
      await driver.refresh();

      const failed = await driver.upgrade();
      const rollback = await driver.installFiles(kept);

      expect(failed).toMatchObject({
        isSuccess: false,
        reason: 'script-failed',
        changes: [{ name: 'pms-flaky', architecture: 'any', from: '1.0-1', to: '2.0-1' }],
      });
      expect(rollback.isSuccess).toBe(true);
      expect(rollback.changes).toEqual([
        { name: 'pms-flaky', architecture: 'any', from: '2.0-1', to: '1.0-1' },
      ]);
    });

    it('reports a scriptlet that cannot start (no /bin/sh in the root) as script-failed', async () => {
      const { driver } = await freshRoot([['pms-reboot', '1.0-1']], { shell: false });

      const result = await driver.install([{ name: 'pms-reboot', version: '1.0-1' }]);

      expect(result.reason).toBe('script-failed');
      expect(output(result.commands.at(-1))).toContain('call to execv failed');
    });

    it('lets a scriptlet mark the root as needing a reboot', async () => {
      const { root, driver } = await freshRoot([['pms-reboot', '1.0-1']]);

      const result = await driver.install([{ name: 'pms-reboot', version: '1.0-1' }]);

      expect(result.isSuccess).toBe(true);
      expect(existsSync(join(root, 'run/reboot-required'))).toBe(true);
      expect(await readFile(join(root, 'run/reboot-required.pkgs'), 'utf8')).toBe('pms-reboot\n');
    });

    it('reports lock-held while another pacman holds the database lock', async () => {
      const { root, driver } = await freshRoot([
        ['pms-slow', '1.0-1'],
        ['pms-hello', '1.0-1'],
      ]);
      const other = createPacmanDriver({ root });

      const slow = other.install([{ name: 'pms-slow', version: '1.0-1' }]);
      await waitFor(() => existsSync(join(root, 'run/pms-slow.scriptlet-started')));
      const blocked = await driver.install([{ name: 'pms-hello', version: '1.0-1' }]);
      const first = await slow;

      expect(blocked).toMatchObject({ isSuccess: false, reason: 'lock-held', changes: [] });
      expect(blocked.commands.at(-1)?.stderr).toContain('unable to lock database');
      expect(first.isSuccess).toBe(true);
    });

    it('kills a run that exceeds timeoutMs and reports timeout', async () => {
      const { root, driver } = await freshRoot([['pms-hang', '1.0-1']], { timeoutMs: 2000 });

      const result = await driver.install([{ name: 'pms-hang', version: '1.0-1' }]);
      const next = await driver.install([{ name: 'pms-hang', version: '1.0-1' }]);

      // pacman killed mid-transaction leaves its db.lck behind: later runs are lock-held until an
      // operator removes it. The package was already in the local db when its scriptlet hung.
      expect(existsSync(join(root, 'var/lib/pacman/db.lck'))).toBe(true);
      expect(next.reason).toBe('lock-held');
      expect((await driver.readInventory()).map((p) => p.name)).toEqual(['pms-hang']);
      expect(result.isSuccess).toBe(false);
      expect(result.reason).toBe('timeout');
      expect(result.commands.at(-1)?.timedOut).toBe(true);
      // Killed at 2 s (SIGTERM to the process group, SIGKILL 5 s later), long before the 60 s sleep.
      expect(result.commands.at(-1)?.durationMs).toBeLessThan(8000);
    });

    it('classifies a package file gone from the repository, and an unreadable repository, as download-failed', async () => {
      const { repoDir, driver } = await freshRoot([['pms-lib', '1.0-1']]);
      await rm(join(repoDir, 'pms-lib-1.0-1-any.pkg.tar.gz'));

      const install = await driver.install([{ name: 'pms-lib', version: '1.0-1' }]);
      await rm(repoDir, { recursive: true });
      const refresh = await driver.refresh();

      expect(install).toMatchObject({ isSuccess: false, reason: 'download-failed', changes: [] });
      expect(refresh).toMatchObject({ isSuccess: false, reason: 'download-failed' });
    });
  },
);

describe('drivers/pacman/errors', () => {
  const result = (stderr: string) => commandResult({ command: ['pacman'], stderr });

  it.each`
    stderr                                                                                  | reason
    ${'error: Partition /var too full: 2048 blocks needed, 10 blocks free'}                 | ${'disk-full'}
    ${'error: could not lock database: File exists'}                                        | ${'lock-held'}
    ${"error: failed retrieving file 'x.pkg.tar.zst' from mirror : Could not resolve host"} | ${'download-failed'}
    ${'error: failed to commit transaction (invalid or corrupted package)'}                 | ${'download-failed'}
    ${'error: something new'}                                                               | ${'unknown'}
  `('$stderr is $reason', ({ stderr, reason }) => {
    expect(classifyPacmanFailure(result(stderr))).toBe(reason);
  });
});

function output(result: CommandResult | undefined): string {
  return `${result?.stdout}\n${result?.stderr}`;
}
