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
import { createDnfRoot } from '../../../../lab/src/roots/dnf.js';
import { createDnfDriver, DriverError, nevraOf, parseCheckUpdate, plannedChanges } from './index.js';

const execFileAsync = promisify(execFile);
const missing = await missingTools(['dnf', 'rpm', 'rpmbuild', 'createrepo_c']);
const isRoot = process.getuid?.() === 0;
const skipReason =
  missing.length > 0 ? `missing ${missing.join(', ')}` : isRoot ? null : 'dnf refuses to run as non-root';
if (skipReason !== null && process.env.PATCHWARDEN_REQUIRE_TOOLS === '1') {
  throw new Error(`PATCHWARDEN_REQUIRE_TOOLS=1 but the dnf driver tests cannot run: ${skipReason}`);
}

describe.skipIf(skipReason !== null)(
  `drivers/dnf against the real dnf in private roots${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let work = '';
    let packages: BuiltRpm[] = [];
    let repoDir = '';
    let rootCount = 0;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'pw-dnf-test-'));
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
      await createDnfRoot(root, repo);
      return root;
    }

    function fileOf(name: string, version: string): string {
      const built = packages.find((p) => p.name === name && p.version === version);
      if (built === undefined) throw new Error(`no built ${name} ${version}`);
      return built.path;
    }

    it('installs an exact version and reports it through rpm -qa', async () => {
      const root = await newRoot();
      const driver = createDnfDriver({ root });
      expect(await driver.isAvailable()).toBe(true);
      expect(await driver.readInventory()).toEqual([]);

      const result = await driver.install([{ name: 'pw-hello', version: '1.0-1' }]);

      expect(result.isSuccess).toBe(true);
      expect(result.reason).toBeNull();
      expect(result.changes).toEqual([{ name: 'pw-hello', architecture: 'noarch', from: null, to: '1.0-1' }]);
      expect(result.commands[0]?.command).toContain('pw-hello-1.0-1');
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
      const driver = createDnfDriver({ root });
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
      const driver = createDnfDriver({ root });
      await driver.install([{ name: 'pw-openssl', version: '3.0.1-1' }]);
      const archive = join(work, 'archive-dnf');

      const fetched = await driver.fetchPackageFiles([{ name: 'pw-openssl', version: '3.0.1-1' }], archive);
      await driver.upgrade();
      await unlink(join(ownRepo, 'pw-openssl-3.0.1-1.noarch.rpm'));
      await createRpmRepository(ownRepo);
      await rm(join(root, 'var/cache/dnf'), { recursive: true, force: true });
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
      const driver = createDnfDriver({ root });
      await driver.install([{ name: 'pw-broken', version: '1.0-1' }]);

      const broken = await driver.install([{ name: 'pw-broken', version: '1.1-1' }]);
      const absent = await driver.install([{ name: 'pw-hello', version: '9.9-1' }]);
      const unmet = await driver.install([{ name: 'pw-needs-missing', version: '1.0-1' }]);

      expect(broken).toMatchObject({ isSuccess: false, reason: 'script-failed', changes: [] });
      expect(broken.commands[0]?.exitCode).toBe(1);
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
      const driver = createDnfDriver({ root });
      await mkdir(join(root, 'var/lib/dnf'), { recursive: true });
      await writeFile(join(root, 'var/lib/dnf/rpmdb_lock.pid'), String(process.pid));

      const locked = await driver.install([{ name: 'pw-hello', version: '1.0-1' }]);
      await rm(join(root, 'var/lib/dnf/rpmdb_lock.pid'));
      const slow = await createDnfDriver({ root, timeoutMs: 20 }).refresh();
      const brokenRepo = join(work, 'repo-missing-file');
      await createRpmRepository(brokenRepo, [fileOf('pw-lib', '1.0-1')]);
      await unlink(join(brokenRepo, 'pw-lib-1.0-1.noarch.rpm'));
      const download = await createDnfDriver({ root: await newRoot(brokenRepo) }).install([
        { name: 'pw-lib', version: '1.0-1' },
      ]);

      expect(locked).toMatchObject({ isSuccess: false, reason: 'lock-held', changes: [] });
      expect(locked.commands[0]?.exitCode).toBe(200);
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
        const result = await createDnfDriver({ root }).install([{ name: 'pw-big', version: '1.0-1' }]);

        expect(result).toMatchObject({ isSuccess: false, reason: 'disk-full', changes: [] });
      } finally {
        await execFileAsync('umount', [mountPoint]);
      }
    });

    it('installs the reboot-requiring package, which leaves the reboot flag in the root', async () => {
      const root = await newRoot();
      const driver = createDnfDriver({ root });

      const result = await driver.install([{ name: 'pw-kernel', version: '6.1.0-1' }]);

      expect(result.isSuccess).toBe(true);
      expect(await readFile(join(root, 'run/reboot-required.pkgs'), 'utf8')).toBe('pw-kernel\n');
    });

    it('throws a DriverError with the reason when the repository is unreachable', async () => {
      const root = await newRoot(join(work, 'no-such-repo'));
      const driver = createDnfDriver({ root });

      const failure = await driver.listUpdates().catch((err: unknown) => err);

      expect(failure).toBeInstanceOf(DriverError);
      expect(failure).toMatchObject({ code: 'LIST_UPDATES_FAILED', reason: 'download-failed' });
    });
  },
);

// Output captured from dnf 4.14.0 on Debian 12 (private root, non-tty); the wrapped row is how dnf
// prints a name longer than its column on a terminal.
describe('drivers/dnf output parsers', () => {
  it('reads check-update rows, joining wrapped ones and stopping at the obsoletes', () => {
    const text = [
      '',
      'pw-hello.noarch                         2.0-1                         patchwarden-lab',
      'a-really-long-package-name-for-wrapping.x86_64',
      '                                        1:3.0.7-27.el9                baseos',
      '',
      'Obsoleting Packages',
      'pw-new.noarch                           1.0-1                         patchwarden-lab',
      '',
    ].join('\n');

    expect(parseCheckUpdate(text)).toEqual([
      { name: 'pw-hello', architecture: 'noarch', version: '2.0-1' },
      { name: 'a-really-long-package-name-for-wrapping', architecture: 'x86_64', version: '1:3.0.7-27.el9' },
    ]);
  });

  it('reads the transaction table as changes against the installed packages', () => {
    const text = [
      'Dependencies resolved.',
      '================================================================================',
      ' Package             Architecture     Version         Repository           Size',
      '================================================================================',
      'Upgrading:',
      ' pms-hello           noarch           2.0-1           pms-local           6.1 k',
      'Installing dependencies:',
      ' pms-lib             noarch           1.0-1           pms-local           6.1 k',
      'Removing:',
      ' pms-old             noarch           0.5-1           @System              14  ',
      '',
      'Transaction Summary',
      '================================================================================',
      'Install  1 Package',
      'Upgrade  1 Package',
    ].join('\n');
    const installed = [
      {
        name: 'pms-hello',
        version: '1.0-1',
        architecture: 'noarch',
        source: null,
        ecosystem: 'rpm' as const,
      },
      { name: 'pms-old', version: '0.5-1', architecture: 'noarch', source: null, ecosystem: 'rpm' as const },
    ];

    expect(plannedChanges(text, installed)).toEqual([
      { name: 'pms-hello', architecture: 'noarch', from: '1.0-1', to: '2.0-1' },
      { name: 'pms-lib', architecture: 'noarch', from: null, to: '1.0-1' },
      { name: 'pms-old', architecture: 'noarch', from: '0.5-1', to: null },
    ]);
    expect(nevraOf({ name: 'pw-hello', version: '1:2.0-1', architecture: 'noarch' })).toBe(
      'pw-hello-1:2.0-1.noarch',
    );
  });
});
