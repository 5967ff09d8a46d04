import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The lab's fixture builders (a test-only use; the agent itself does not depend on the lab).
import {
  type BuiltRpm,
  buildRpmPackages,
  createRpmRepository,
  missingTools,
  standardRpmSet,
} from '../../../../lab/src/packages/rpm.js';
import { createZypperRoot } from '../../../../lab/src/roots/zypper.js';
import {
  capabilityOf,
  createZypperDriver,
  DriverError,
  parseInstallSummary,
  parseListUpdates,
} from './index.js';

const execFileAsync = promisify(execFile);
const missing = await missingTools(['zypper', 'rpm', 'rpmbuild', 'createrepo_c']);
const skipReason = missing.length > 0 ? `missing ${missing.join(', ')}` : null;
if (skipReason !== null && process.env.PATCHWARDEN_REQUIRE_TOOLS === '1') {
  throw new Error(`PATCHWARDEN_REQUIRE_TOOLS=1 but the zypper driver tests cannot run: ${skipReason}`);
}

describe.skipIf(skipReason !== null)(
  `drivers/zypper against the real zypper in private roots${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let work = '';
    let packages: BuiltRpm[] = [];
    let repoDir = '';
    let rootCount = 0;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'pw-zypper-test-'));
      packages = await buildRpmPackages(
        [
          ...standardRpmSet(),
          { name: 'pw-big', version: '1.0', files: { '/usr/share/pw-big/blob': '0'.repeat(2_000_000) } },
        ],
        join(work, 'packages'),
      );
      repoDir = (
        await createRpmRepository(
          join(work, 'repo'),
          packages.map((p) => p.path),
        )
      ).dir;
    });

    afterAll(async () => {
      if (work !== '') await rm(work, { recursive: true, force: true });
    });

    async function newRoot(repo = repoDir) {
      rootCount++;
      const root = join(work, `root-${rootCount}`);
      await createZypperRoot(root, repo);
      return root;
    }

    function fileOf(name: string, version: string): string {
      const built = packages.find((p) => p.name === name && p.version === version);
      if (built === undefined) throw new Error(`no built ${name} ${version}`);
      return built.path;
    }

    it('installs an exact version and reports it through rpm -qa', async () => {
      const root = await newRoot();
      const driver = createZypperDriver({ root });
      expect(await driver.isAvailable()).toBe(true);
      expect(await driver.readInventory()).toEqual([]);

      const result = await driver.install([{ name: 'pw-hello', version: '1.0-1' }]);

      expect(result.isSuccess).toBe(true);
      expect(result.reason).toBeNull();
      expect(result.changes).toEqual([{ name: 'pw-hello', architecture: 'noarch', from: null, to: '1.0-1' }]);
      expect(result.commands[0]?.command).toContain('pw-hello=1.0-1');
      expect(await driver.readInventory()).toEqual([
        {
          name: 'pw-hello',
          version: '1.0-1',
          architecture: 'noarch',
          source: { name: 'pw-hello', version: '1.0-1' },
          ecosystem: 'rpm',
        },
      ]);
      expect(await readFile(join(root, 'usr/share/pw-hello/VERSION'), 'utf8')).toBe('pw-hello 1.0-1\n');
      // The rpm database is the pinned one inside the root, not ~/.rpmdb.
      expect(existsSync(join(root, 'var/lib/rpm'))).toBe(true);
      expect(existsSync(join(root, 'root/.rpmdb'))).toBe(false);
    });

    it('lists updates, simulates and upgrades, then refuses and performs a downgrade', async () => {
      const root = await newRoot();
      const driver = createZypperDriver({ root });
      await driver.install([
        { name: 'pw-hello', version: '1.0-1' },
        { name: 'pw-openssl', version: '3.0.7-1' },
      ]);

      const refreshed = await driver.refresh();
      const updates = await driver.listUpdates();
      const simulated = await driver.simulate({ kind: 'upgrade', names: ['pw-hello'] });
      const unchanged = await driver.readInventory();

      expect(refreshed.isSuccess).toBe(true);
      expect(updates).toEqual([
        { name: 'pw-hello', architecture: 'noarch', installedVersion: '1.0-1', candidateVersion: '2.0-1' },
      ]);
      expect(simulated.isSuccess).toBe(true);
      expect(simulated.changes).toEqual([
        { name: 'pw-hello', architecture: 'noarch', from: '1.0-1', to: '2.0-1' },
        { name: 'pw-lib', architecture: 'noarch', from: null, to: '1.0-1' },
      ]);
      expect(unchanged.map((p) => `${p.name}-${p.version}`).sort()).toEqual([
        'pw-hello-1.0-1',
        'pw-openssl-3.0.7-1',
      ]);

      const upgraded = await driver.upgrade(['pw-hello']);
      expect(upgraded.isSuccess).toBe(true);
      expect(upgraded.changes).toEqual([
        { name: 'pw-hello', architecture: 'noarch', from: '1.0-1', to: '2.0-1' },
        { name: 'pw-lib', architecture: 'noarch', from: null, to: '1.0-1' },
      ]);
      expect(await driver.listUpdates()).toEqual([]);

      await expect(driver.install([{ name: 'pw-hello', version: '1.1-1' }])).rejects.toMatchObject({
        code: 'DOWNGRADE_NOT_ALLOWED',
      });
      const simulatedDowngrade = await driver.simulate({
        kind: 'install',
        packages: [{ name: 'pw-hello', version: '1.1-1' }],
        allowDowngrade: true,
      });
      expect(simulatedDowngrade.changes).toEqual([
        { name: 'pw-hello', architecture: 'noarch', from: '2.0-1', to: '1.1-1' },
      ]);
      const downgraded = await driver.install([{ name: 'pw-hello', version: '1.1-1' }], {
        allowDowngrade: true,
      });
      expect(downgraded.isSuccess).toBe(true);
      expect(downgraded.changes).toEqual([
        { name: 'pw-hello', architecture: 'noarch', from: '2.0-1', to: '1.1-1' },
      ]);
    });

    it('keeps the previous package file and rolls back to it after the repository dropped it', async () => {
      const ownRepo = join(work, 'repo-rollback');
      await createRpmRepository(ownRepo, [fileOf('pw-openssl', '3.0.1-1'), fileOf('pw-openssl', '3.0.2-1')]);
      const root = await newRoot(ownRepo);
      const driver = createZypperDriver({ root });
      await driver.install([{ name: 'pw-openssl', version: '3.0.1-1' }]);
      const archive = join(work, 'archive-zypper');

      const fetched = await driver.fetchPackageFiles([{ name: 'pw-openssl', version: '3.0.1-1' }], archive);
      await driver.upgrade();
      await unlink(join(ownRepo, 'pw-openssl-3.0.1-1.noarch.rpm'));
      await createRpmRepository(ownRepo);
      await rm(join(root, 'var/cache/zypp'), { recursive: true, force: true });
      const refetch = await driver
        .fetchPackageFiles([{ name: 'pw-openssl', version: '3.0.1-1' }], join(work, 'gone'))
        .catch((err: unknown) => err);
      const rolledBack = await driver.installFiles(fetched);

      expect(fetched).toEqual([join(archive, 'pw-openssl-3.0.1-1.noarch.rpm')]);
      expect(refetch).toMatchObject({ code: 'PACKAGE_FILES_UNAVAILABLE', reason: 'not-found' });
      expect(rolledBack.isSuccess).toBe(true);
      expect(rolledBack.changes).toEqual([
        { name: 'pw-openssl', architecture: 'noarch', from: '3.0.2-1', to: '3.0.1-1' },
      ]);
    });

    it('classifies a failing %pre, a missing version and an unmet dependency', async () => {
      const root = await newRoot();
      const driver = createZypperDriver({ root });
      await driver.install([{ name: 'pw-broken', version: '1.0-1' }]);

      const broken = await driver.install([{ name: 'pw-broken', version: '1.1-1' }]);
      const absent = await driver.install([{ name: 'pw-hello', version: '9.9-1' }]);
      const unmet = await driver.install([{ name: 'pw-needs-missing', version: '1.0-1' }]);

      expect(broken).toMatchObject({ isSuccess: false, reason: 'script-failed', changes: [] });
      expect(broken.commands[0]?.exitCode).toBe(8);
      expect(broken.commands[0]?.stdout + (broken.commands[0]?.stderr ?? '')).toContain(
        'pw-broken %pre failing on purpose',
      );
      expect(absent).toMatchObject({ isSuccess: false, reason: 'not-found', changes: [] });
      expect(unmet).toMatchObject({ isSuccess: false, reason: 'dependency-conflict', changes: [] });
      expect((await driver.readInventory()).map((p) => `${p.name}-${p.version}`)).toEqual([
        'pw-broken-1.0-1',
      ]);
    });

    it('classifies a held lock, a timeout and a package file missing from the repository', async () => {
      const root = await newRoot();
      const driver = createZypperDriver({ root });
      await mkdir(join(root, 'run'), { recursive: true });
      await writeFile(join(root, 'run/zypp.pid'), String(process.pid));

      const locked = await driver.install([{ name: 'pw-hello', version: '1.0-1' }]);
      await rm(join(root, 'run/zypp.pid'));
      const slow = await createZypperDriver({ root, timeoutMs: 20 }).refresh();
      const brokenRepo = join(work, 'repo-missing-file');
      await createRpmRepository(brokenRepo, [fileOf('pw-lib', '1.0-1')]);
      await unlink(join(brokenRepo, 'pw-lib-1.0-1.noarch.rpm'));
      const download = await createZypperDriver({ root: await newRoot(brokenRepo) }).install([
        { name: 'pw-lib', version: '1.0-1' },
      ]);

      expect(locked).toMatchObject({ isSuccess: false, reason: 'lock-held', changes: [] });
      expect(locked.commands[0]?.exitCode).toBe(7);
      expect(slow).toMatchObject({ isSuccess: false, reason: 'timeout' });
      expect(slow.commands[0]?.timedOut).toBe(true);
      expect(download).toMatchObject({ isSuccess: false, reason: 'download-failed', changes: [] });
    });

    it('classifies a full filesystem (a 256 KiB tmpfs on usr/share) as disk-full', async (ctx) => {
      const root = await newRoot();
      const mountPoint = join(root, 'usr/share');
      await mkdir(mountPoint, { recursive: true });
      const mounted = await execFileAsync('mount', [
        '-t',
        'tmpfs',
        '-o',
        'size=256k',
        'tmpfs',
        mountPoint,
      ]).catch((err: unknown) => err as Error);
      if (mounted instanceof Error) ctx.skip(`cannot mount a tmpfs here: ${mounted.message}`);
      try {
        const result = await createZypperDriver({ root }).install([{ name: 'pw-big', version: '1.0-1' }]);

        expect(result).toMatchObject({ isSuccess: false, reason: 'disk-full', changes: [] });
      } finally {
        await execFileAsync('umount', [mountPoint]);
      }
    });

    it('installs the reboot-requiring package, which leaves the reboot flag in the root', async () => {
      const root = await newRoot();
      const driver = createZypperDriver({ root });

      const result = await driver.install([{ name: 'pw-kernel', version: '6.1.0-1' }]);

      expect(result.isSuccess).toBe(true);
      expect(await readFile(join(root, 'run/reboot-required.pkgs'), 'utf8')).toBe('pw-kernel\n');
      // zypper's own flag for packages that provide installhint(reboot-needed).
      expect(existsSync(join(root, 'run/reboot-needed'))).toBe(true);
    });

    it('throws a DriverError with the reason when the repository is unreachable', async () => {
      const root = await newRoot(join(work, 'no-such-repo'));
      const driver = createZypperDriver({ root });

      const failure = await driver.listUpdates().catch((err: unknown) => err);

      expect(failure).toBeInstanceOf(DriverError);
      expect(failure).toMatchObject({ code: 'LIST_UPDATES_FAILED', reason: 'download-failed' });
    });
  },
);

// Output captured from zypper 1.14.42 --xmlout on Debian 12 (private root); names shortened.
describe('drivers/zypper output parsers', () => {
  it('reads list-updates and the dry-run install summary', () => {
    const updates = [
      "<?xml version='1.0'?>",
      '<stream>',
      '<update-status version="0.6">',
      '<update-list>',
      '<update kind="package" name="pms-hello" edition="2.0-1" arch="noarch" edition-old="1.0-1"><summary>t &amp; u</summary><source url="file:/tmp/r" alias="pms-local"/></update>',
      '<update kind="patch" name="SUSE-2026-1" edition="1" arch="noarch"><summary>p</summary></update>',
      '</update-list>',
      '</update-status>',
      '</stream>',
    ].join('\n');
    const summary = [
      '<install-summary download-size="12435" space-usage-diff="12" packages-to-change="3">',
      '<to-upgrade>',
      '<solvable type="package" name="pms-hello" edition="2.0-1" arch="noarch" edition-old="1.0-1" arch-old="noarch" summary="t">',
      '<description>t</description></solvable>',
      '</to-upgrade>',
      '<to-install>',
      '<solvable type="package" name="pms-lib" edition="1:1.0-1" arch="noarch" summary="a &quot;lib&quot;"/>',
      '</to-install>',
      '<to-remove>',
      '<solvable type="package" name="pms-old" edition="0.5-1" arch="noarch"/>',
      '</to-remove>',
      '</install-summary>',
      '<message type="info">&apos;pms-x&apos; is already installed.</message>',
    ].join('\n');

    expect(parseListUpdates(updates)).toEqual([
      { name: 'pms-hello', architecture: 'noarch', installedVersion: '1.0-1', candidateVersion: '2.0-1' },
    ]);
    expect(parseInstallSummary(summary)).toEqual([
      { name: 'pms-hello', architecture: 'noarch', from: '1.0-1', to: '2.0-1' },
      { name: 'pms-lib', architecture: 'noarch', from: null, to: '1:1.0-1' },
      { name: 'pms-old', architecture: 'noarch', from: '0.5-1', to: null },
    ]);
    expect(capabilityOf({ name: 'pw-hello', version: '1.0-1', architecture: 'x86_64' })).toBe(
      'pw-hello.x86_64=1.0-1',
    );
  });
});
