import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The lab's builders, by path: the agent does not depend on the lab outside its tests.
import {
  buildAptRepository,
  type DebPackageSpec,
  debFileName,
  removeFromAptRepository,
} from '../../../../lab/src/packages/deb.js';
import { createAptRoot } from '../../../../lab/src/roots/apt.js';
import { commandResult, installed, missingOnPath, skipReasonFor, waitFor } from '../testing.js';
import { classifyAptFailure, createAptDriver } from './index.js';

const skipReason = skipReasonFor(
  'apt',
  missingOnPath(['apt-get', 'dpkg', 'dpkg-query', 'dpkg-deb', 'dpkg-scanpackages']),
);

const PACKAGES: DebPackageSpec[] = [
  { name: 'pms-hello', version: '1.0' },
  { name: 'pms-hello', version: '1.1' },
  { name: 'pms-hello', version: '2.0', depends: ['pms-lib (>= 1.0)'] },
  { name: 'pms-lib', version: '1.0' },
  { name: 'pms-broken', version: '1.0', failingScript: 'postinst' },
  { name: 'pms-reboot', version: '1.0', requiresReboot: true },
  { name: 'pms-needy', version: '1.0', depends: ['pms-missing'] },
  { name: 'pms-slow', version: '1.0', postinstSleepSeconds: 3 },
  { name: 'pms-hang', version: '1.0', postinstSleepSeconds: 60 },
  { name: 'pms-flaky', version: '1.0' },
  { name: 'pms-flaky', version: '2.0', failingScript: 'postinst' },
];

describe.skipIf(skipReason !== null)(
  `drivers/apt against apt-get and dpkg in private roots${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let work: string;
    let repo: string;
    let roots = 0;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'pw-apt-test-'));
      repo = (await buildAptRepository(join(work, 'repo'), PACKAGES)).dir;
    });

    afterAll(async () => {
      await rm(work, { recursive: true, force: true });
    });

    /** A fresh root on `repoDir` (default: the shared repository), refreshed. */
    async function freshRoot(repoDir = repo, timeoutMs?: number) {
      roots += 1;
      const { root } = await createAptRoot(join(work, `root-${roots}`), repoDir);
      const driver = createAptDriver({ root, timeoutMs });
      const refreshed = await driver.refresh();
      expect(refreshed.isSuccess).toBe(true);
      return { root, driver };
    }

    /** A private copy of the shared repository, for tests that change it. */
    async function copyOfRepo(): Promise<string> {
      roots += 1;
      const dir = join(work, `repo-${roots}`);
      await cp(repo, dir, { recursive: true });
      return dir;
    }

    it('reports the tools as available and an empty root as an empty inventory', async () => {
      const { driver } = await freshRoot();

      expect(await driver.isAvailable()).toBe(true);
      expect(await driver.readInventory()).toEqual([]);
    });

    it('installs an exact version and reads it back from dpkg', async () => {
      const { root, driver } = await freshRoot();

      const result = await driver.install([{ name: 'pms-hello', version: '1.0' }]);

      expect(result.isSuccess).toBe(true);
      expect(result.reason).toBeNull();
      expect(result.changes).toEqual([{ name: 'pms-hello', architecture: 'all', from: null, to: '1.0' }]);
      expect(result.commands[0]?.command).toContain('pms-hello=1.0');
      expect(result.commands[0]?.exitCode).toBe(0);
      expect(await driver.readInventory()).toEqual([installed('pms-hello', '1.0', 'all', 'deb')]);
      expect(await readFile(join(root, 'usr/share/pms-hello/VERSION'), 'utf8')).toBe('pms-hello 1.0\n');
    });

    it('lists updates, simulates without changing anything, then upgrades with the new dependency', async () => {
      const { driver } = await freshRoot();
      await driver.install([{ name: 'pms-hello', version: '1.0' }]);

      const updates = await driver.listUpdates();
      const simulated = await driver.simulate({ kind: 'upgrade' });
      const simulatedInstall = await driver.simulate({
        kind: 'install',
        packages: [{ name: 'pms-hello', version: '1.1' }],
      });
      const inventoryAfterSimulation = await driver.readInventory();
      const upgraded = await driver.upgrade();

      expect(updates).toEqual([
        { name: 'pms-hello', architecture: 'all', installedVersion: '1.0', candidateVersion: '2.0' },
      ]);
      expect(simulated.isSuccess).toBe(true);
      expect(simulated.changes).toEqual([
        { name: 'pms-lib', architecture: 'all', from: null, to: '1.0' },
        { name: 'pms-hello', architecture: 'all', from: '1.0', to: '2.0' },
      ]);
      expect(simulatedInstall.changes).toEqual([
        { name: 'pms-hello', architecture: 'all', from: '1.0', to: '1.1' },
      ]);
      expect(inventoryAfterSimulation.map((p) => `${p.name} ${p.version}`)).toEqual(['pms-hello 1.0']);
      expect(upgraded.isSuccess).toBe(true);
      expect(upgraded.changes).toEqual([
        { name: 'pms-hello', architecture: 'all', from: '1.0', to: '2.0' },
        { name: 'pms-lib', architecture: 'all', from: null, to: '1.0' },
      ]);
      expect(await driver.listUpdates()).toEqual([]);
    });

    it('upgrades one named package only', async () => {
      const { driver } = await freshRoot();
      await driver.install([
        { name: 'pms-hello', version: '1.0' },
        { name: 'pms-lib', version: '1.0' },
      ]);

      const result = await driver.upgrade(['pms-hello']);

      expect(result.isSuccess).toBe(true);
      expect(result.changes).toEqual([{ name: 'pms-hello', architecture: 'all', from: '1.0', to: '2.0' }]);
    });

    it('keeps only maxOutputBytes of output in results but reads inventories and plans whole', async () => {
      const { root } = await freshRoot();
      const driver = createAptDriver({ root, maxOutputBytes: 64 });

      const result = await driver.install([
        { name: 'pms-hello', version: '1.1' },
        { name: 'pms-lib', version: '1.0' },
      ]);
      const simulated = await driver.simulate({ kind: 'upgrade' });

      expect(result.isSuccess).toBe(true);
      expect(result.commands[0]?.truncated).toBe(true);
      expect(Buffer.byteLength(result.commands[0]?.stdout ?? '')).toBeLessThanOrEqual(64);
      expect((await driver.readInventory()).map((p) => `${p.name} ${p.version}`)).toEqual([
        'pms-hello 1.1',
        'pms-lib 1.0',
      ]);
      expect(simulated.commands[0]?.truncated).toBe(true);
      expect(simulated.changes).toEqual([{ name: 'pms-hello', architecture: 'all', from: '1.1', to: '2.0' }]);
    });

    it('refuses a downgrade unless asked, then downgrades to the exact version', async () => {
      const { driver } = await freshRoot();
      await driver.install([{ name: 'pms-hello', version: '2.0' }]);

      await expect(driver.install([{ name: 'pms-hello', version: '1.1' }])).rejects.toMatchObject({
        code: 'DOWNGRADE_NOT_ALLOWED',
      });
      await expect(
        driver.simulate({ kind: 'install', packages: [{ name: 'pms-hello', version: '1.1' }] }),
      ).rejects.toMatchObject({ code: 'DOWNGRADE_NOT_ALLOWED' });
      const simulated = await driver.simulate({
        kind: 'install',
        packages: [{ name: 'pms-hello', version: '1.1' }],
        allowDowngrade: true,
      });
      const result = await driver.install([{ name: 'pms-hello', version: '1.1' }], { allowDowngrade: true });

      expect(simulated.changes).toEqual([{ name: 'pms-hello', architecture: 'all', from: '2.0', to: '1.1' }]);
      expect(result.isSuccess).toBe(true);
      expect(result.changes).toEqual([{ name: 'pms-hello', architecture: 'all', from: '2.0', to: '1.1' }]);
    });

    it('removes named packages (rollback of a job that newly installed them)', async () => {
      const { driver } = await freshRoot();
      await driver.install([
        { name: 'pms-hello', version: '1.0' },
        { name: 'pms-lib', version: '1.0' },
      ]);

      const result = await driver.remove([{ name: 'pms-lib', architecture: 'all' }]);

      expect(result.isSuccess).toBe(true);
      expect(result.changes).toEqual([{ name: 'pms-lib', architecture: 'all', from: '1.0', to: null }]);
      expect((await driver.readInventory()).map((p) => `${p.name} ${p.version}`)).toEqual(['pms-hello 1.0']);
    });

    it('rolls back to the exact previous version after the repository dropped it', async () => {
      const repoCopy = await copyOfRepo();
      const { root, driver } = await freshRoot(repoCopy);
      await driver.install([{ name: 'pms-hello', version: '1.0' }]);
      const archive = join(root, '..', `archive-${roots}`);

      const kept = await driver.fetchPackageFiles([{ name: 'pms-hello', version: '1.0' }], archive);
      const upgraded = await driver.upgrade(['pms-hello']);
      await removeFromAptRepository(repoCopy, [debFileName({ name: 'pms-hello', version: '1.0' })]);
      await driver.refresh();
      const fromRepo = await driver.install([{ name: 'pms-hello', version: '1.0' }], {
        allowDowngrade: true,
      });
      const rollback = await driver.installFiles(kept);

      expect(kept).toEqual([join(archive, 'pms-hello_1.0_all.deb')]);
      expect(upgraded.changes.find((c) => c.name === 'pms-hello')).toMatchObject({ from: '1.0', to: '2.0' });
      expect(fromRepo.isSuccess).toBe(false);
      expect(fromRepo.reason).toBe('not-found');
      expect(rollback.isSuccess).toBe(true);
      expect(rollback.changes).toEqual([{ name: 'pms-hello', architecture: 'all', from: '2.0', to: '1.0' }]);
      expect(await readFile(join(root, 'usr/share/pms-hello/VERSION'), 'utf8')).toBe('pms-hello 1.0\n');
    });

    it('classifies a failing postinst as script-failed and reports the half-configured package', async () => {
      const { driver } = await freshRoot();

      const result = await driver.install([{ name: 'pms-broken', version: '1.0' }]);

      expect(result.isSuccess).toBe(false);
      expect(result.reason).toBe('script-failed');
      expect(result.commands[0]?.exitCode).toBe(100);
      expect(`${result.commands[0]?.stdout}${result.commands[0]?.stderr}`).toContain(
        'pms-broken postinst: failing on purpose',
      );
      expect(result.changes).toEqual([{ name: 'pms-broken', architecture: 'all', from: null, to: '1.0' }]);
      expect(await driver.readPackageStates()).toEqual([
        { name: 'pms-broken', architecture: 'all', version: '1.0', status: 'iF ' },
      ]);
      expect(await driver.readInventory()).toEqual([]);
    });

    it('rolls back an upgrade whose postinst failed to the kept previous file, leaving dpkg consistent', async () => {
      const { driver } = await freshRoot();
      await driver.install([{ name: 'pms-flaky', version: '1.0' }]);
      const kept = await driver.fetchPackageFiles(
        [{ name: 'pms-flaky', version: '1.0' }],
        join(work, `keep-${roots}`),
      );

      const failed = await driver.upgrade(['pms-flaky']);
      const statesAfterFailure = await driver.readPackageStates();
      const rollback = await driver.installFiles(kept);

      expect(failed).toMatchObject({
        isSuccess: false,
        reason: 'script-failed',
        changes: [{ name: 'pms-flaky', architecture: 'all', from: '1.0', to: '2.0' }],
      });
      expect(statesAfterFailure).toEqual([
        { name: 'pms-flaky', architecture: 'all', version: '2.0', status: 'iF ' },
      ]);
      expect(rollback.isSuccess).toBe(true);
      expect(rollback.changes).toEqual([{ name: 'pms-flaky', architecture: 'all', from: '2.0', to: '1.0' }]);
      expect(await driver.readPackageStates()).toEqual([
        { name: 'pms-flaky', architecture: 'all', version: '1.0', status: 'ii ' },
      ]);
    });

    it('classifies a missing version or package as not-found and a missing dependency as a conflict', async () => {
      const { driver } = await freshRoot();

      const noVersion = await driver.install([{ name: 'pms-hello', version: '9.9' }]);
      const noPackage = await driver.install([{ name: 'pms-nothere', version: '1.0' }]);
      const unmet = await driver.install([{ name: 'pms-needy', version: '1.0' }]);

      expect(noVersion).toMatchObject({ isSuccess: false, reason: 'not-found', changes: [] });
      expect(noVersion.commands[0]?.stderr).toContain("Version '9.9' for 'pms-hello' was not found");
      expect(noPackage).toMatchObject({ isSuccess: false, reason: 'not-found', changes: [] });
      expect(unmet).toMatchObject({ isSuccess: false, reason: 'dependency-conflict', changes: [] });
      expect(unmet.commands[0]?.stdout).toContain('unmet dependencies');
    });

    it('lets a postinst mark the root as needing a reboot', async () => {
      const { root, driver } = await freshRoot();

      const result = await driver.install([{ name: 'pms-reboot', version: '1.0' }]);

      expect(result.isSuccess).toBe(true);
      expect(existsSync(join(root, 'run/reboot-required'))).toBe(true);
      expect(await readFile(join(root, 'run/reboot-required.pkgs'), 'utf8')).toBe('pms-reboot\n');
    });

    it('reports lock-held while another apt-get holds the dpkg frontend lock', async () => {
      const { root, driver } = await freshRoot();
      const other = createAptDriver({ root });

      const slow = other.install([{ name: 'pms-slow', version: '1.0' }]);
      await waitFor(() => existsSync(join(root, 'run/pms-slow.postinst-started')));
      const blocked = await driver.install([{ name: 'pms-hello', version: '1.0' }]);
      const first = await slow;

      expect(blocked.isSuccess).toBe(false);
      expect(blocked.reason).toBe('lock-held');
      expect(blocked.commands[0]?.stderr).toContain('Could not get lock');
      expect(first.isSuccess).toBe(true);
    });

    it('kills a run that exceeds timeoutMs and reports timeout', async () => {
      const { root, driver } = await freshRoot(repo, 2000);

      const result = await driver.install([{ name: 'pms-hang', version: '1.0' }]);
      const states = await driver.readPackageStates();
      const next = await driver.install([{ name: 'pms-hello', version: '1.0' }]);
      const repaired = await createAptDriver({ root }).repair();
      const statesAfterRepair = await driver.readPackageStates();

      expect(states).toEqual([{ name: 'pms-hang', architecture: 'all', version: '1.0', status: 'iF ' }]);
      expect(next.isSuccess).toBe(false);
      expect(next.commands[0]?.stderr).toContain(
        "dpkg was interrupted, you must manually run 'dpkg --configure -a'",
      );
      expect(repaired.isSuccess).toBe(true);
      expect(repaired.commands[0]?.command).toContain('--configure');
      expect(statesAfterRepair).toEqual([
        { name: 'pms-hang', architecture: 'all', version: '1.0', status: 'ii ' },
      ]);
      expect(result.isSuccess).toBe(false);
      expect(result.reason).toBe('timeout');
      expect(result.commands[0]?.timedOut).toBe(true);
      // Killed at 2 s (SIGTERM to the process group, SIGKILL 5 s later), long before the 60 s sleep.
      expect(result.commands[0]?.durationMs).toBeLessThan(8000);
    });

    it('classifies a package file gone from the repository as download-failed', async () => {
      const repoCopy = await copyOfRepo();
      const { driver } = await freshRoot(repoCopy);
      await rm(join(repoCopy, debFileName({ name: 'pms-lib', version: '1.0' })));

      const result = await driver.install([{ name: 'pms-lib', version: '1.0' }]);

      expect(result).toMatchObject({ isSuccess: false, reason: 'download-failed', changes: [] });
    });

    it('classifies a repository that cannot be read on refresh as download-failed', async () => {
      const repoCopy = await copyOfRepo();
      roots += 1;
      const { root } = await createAptRoot(join(work, `root-${roots}`), repoCopy);
      await rm(repoCopy, { recursive: true });
      const driver = createAptDriver({ root });

      const result = await driver.refresh();

      expect(result.isSuccess).toBe(false);
      expect(result.reason).toBe('download-failed');
    });
  },
);

describe('drivers/apt/errors', () => {
  const result = (stderr: string) => commandResult({ command: ['apt-get'], exitCode: 100, stderr });

  it.each`
    stderr                                                                                           | reason
    ${'E: Write error - write (28: No space left on device)'}                                        | ${'disk-full'}
    ${"E: You don't have enough free space in /var/cache/apt/archives/."}                            | ${'disk-full'}
    ${'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 7 (apt-get)'}        | ${'lock-held'}
    ${'dpkg: error: dpkg frontend lock was locked by another process with pid 7'}                    | ${'lock-held'}
    ${'new pms-x package pre-installation script subprocess returned error exit status 1'}           | ${'script-failed'}
    ${'E: Packages need to be removed but remove is disabled.'}                                      | ${'dependency-conflict'}
    ${"E: Failed to fetch http://deb.example/pool/x.deb  Temporary failure resolving 'deb.example'"} | ${'download-failed'}
    ${'E: Sub-process /usr/bin/dpkg returned an error code (2)'}                                     | ${'unknown'}
  `('$stderr is $reason', ({ stderr, reason }) => {
    expect(classifyAptFailure(result(stderr))).toBe(reason);
  });

  it('says timeout when the runner killed the command, whatever it printed', () => {
    expect(classifyAptFailure({ ...result('E: Could not get lock'), timedOut: true, exitCode: null })).toBe(
      'timeout',
    );
  });
});
