import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { EcosystemId } from '@patchwarden/core/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The lab's fixture builders, by path: the agent does not depend on the lab outside its tests (this
// file is left out of the build, see tsconfig.json).
import {
  type BuiltRpm,
  buildRpmPackages,
  createRpmRepository,
  standardRpmSet,
} from '../../../lab/src/packages/rpm.js';
import { DriverError } from './operation.js';
import type { CommandResult, DriverOptions, ManagerId, PackageDriver } from './types.js';

/** Shared setup of the drivers' tests. */

const execFileAsync = promisify(execFile);

/** The tools `command -v` does not find. */
export function missingOnPath(tools: readonly string[]): string[] {
  return tools.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
}

/**
 * Why a driver's tests against the real manager cannot run here, or null: a missing tool, or not
 * being root when the manager needs it (`rootOnly` says why). Throws when
 * PATCHWARDEN_REQUIRE_TOOLS=1, so that CI never skips them silently.
 */
export function skipReasonFor(manager: ManagerId, missing: string[], rootOnly?: string): string | null {
  const reason =
    missing.length > 0
      ? `missing ${missing.join(', ')}`
      : rootOnly !== undefined && process.getuid?.() !== 0
        ? rootOnly
        : null;
  if (reason !== null && process.env.PATCHWARDEN_REQUIRE_TOOLS === '1') {
    throw new Error(`PATCHWARDEN_REQUIRE_TOOLS=1 but the ${manager} driver tests cannot run: ${reason}`);
  }
  return reason;
}

/** A finished command, for classifier tables. */
export function commandResult(overrides: Partial<CommandResult>): CommandResult {
  return {
    command: ['true'],
    exitCode: 1,
    stdout: '',
    stderr: '',
    truncated: false,
    timedOut: false,
    durationMs: 1,
    ...overrides,
  };
}

/** An installed package as `readInventory` reports it, built from a source of the same name and version. */
export function installed(name: string, version: string, architecture: string, ecosystem: EcosystemId) {
  return { name, version, architecture, source: { name, version }, ecosystem };
}

export async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** What differs between the rpm-based drivers in their shared suite. */
export interface RpmDriverSuite {
  manager: 'dnf' | 'zypper';
  create(options: DriverOptions): PackageDriver;
  createRoot(root: string, repoDir: string): Promise<unknown>;
  skipReason: string | null;
  /** How the install command names pw-hello 1.0-1. */
  installArg: string;
  /** The manager's package cache in a root. */
  cacheDir: string;
  /** A file in a root that makes the manager see its lock as held by a live process. */
  lockFile: string;
  /** The manager's exit codes for a failing %pre and a held lock. */
  exitCodes: { scriptFailed: number; locked: number };
  /** A file the manager itself leaves in the root for a package that needs a reboot. */
  rebootFlag?: string;
}

/** The tests every rpm-based driver passes against its real manager in private roots. */
export function describeRpmDriver(suite: RpmDriverSuite): void {
  const { manager, create, skipReason } = suite;
  describe.skipIf(skipReason !== null)(
    `drivers/${manager} against the real ${manager} in private roots${skipReason ? ` (skipped: ${skipReason})` : ''}`,
    () => {
      let work = '';
      let packages: BuiltRpm[] = [];
      let repoDir = '';
      let rootCount = 0;

      beforeAll(async () => {
        work = await mkdtemp(join(tmpdir(), `pw-${manager}-test-`));
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
        await suite.createRoot(root, repo);
        return root;
      }

      function fileOf(name: string, version: string): string {
        const built = packages.find((p) => p.name === name && p.version === version);
        if (built === undefined) throw new Error(`no built ${name} ${version}`);
        return built.path;
      }

      it('installs an exact version and reports it through rpm -qa', async () => {
        const root = await newRoot();
        const driver = create({ root });
        expect(await driver.isAvailable()).toBe(true);
        expect(await driver.readInventory()).toEqual([]);

        const result = await driver.install([{ name: 'pw-hello', version: '1.0-1' }]);

        expect(result.isSuccess).toBe(true);
        expect(result.reason).toBeNull();
        expect(result.changes).toEqual([
          { name: 'pw-hello', architecture: 'noarch', from: null, to: '1.0-1' },
        ]);
        expect(result.commands[0]?.command).toContain(suite.installArg);
        expect(await driver.readInventory()).toEqual([installed('pw-hello', '1.0-1', 'noarch', 'rpm')]);
        expect(await readFile(join(root, 'usr/share/pw-hello/VERSION'), 'utf8')).toBe('pw-hello 1.0-1\n');
        // The rpm database is the pinned one inside the root, not ~/.rpmdb.
        expect(existsSync(join(root, 'var/lib/rpm'))).toBe(true);
        expect(existsSync(join(root, 'root/.rpmdb'))).toBe(false);
      });

      it('lists updates, simulates and upgrades, then refuses and performs a downgrade', async () => {
        const root = await newRoot();
        const driver = create({ root });
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
        await createRpmRepository(ownRepo, [
          fileOf('pw-openssl', '3.0.1-1'),
          fileOf('pw-openssl', '3.0.2-1'),
        ]);
        const root = await newRoot(ownRepo);
        const driver = create({ root });
        await driver.install([{ name: 'pw-openssl', version: '3.0.1-1' }]);
        const archive = join(work, `archive-${manager}`);

        const fetched = await driver.fetchPackageFiles([{ name: 'pw-openssl', version: '3.0.1-1' }], archive);
        await driver.upgrade();
        await unlink(join(ownRepo, 'pw-openssl-3.0.1-1.noarch.rpm'));
        await createRpmRepository(ownRepo);
        await rm(join(root, suite.cacheDir), { recursive: true, force: true });
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
        const driver = create({ root });
        await driver.install([{ name: 'pw-broken', version: '1.0-1' }]);

        const broken = await driver.install([{ name: 'pw-broken', version: '1.1-1' }]);
        const absent = await driver.install([{ name: 'pw-hello', version: '9.9-1' }]);
        const unmet = await driver.install([{ name: 'pw-needs-missing', version: '1.0-1' }]);

        expect(broken).toMatchObject({ isSuccess: false, reason: 'script-failed', changes: [] });
        expect(broken.commands[0]?.exitCode).toBe(suite.exitCodes.scriptFailed);
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
        const driver = create({ root });
        await mkdir(dirname(join(root, suite.lockFile)), { recursive: true });
        await writeFile(join(root, suite.lockFile), String(process.pid));

        const locked = await driver.install([{ name: 'pw-hello', version: '1.0-1' }]);
        await rm(join(root, suite.lockFile));
        const slow = await create({ root, timeoutMs: 20 }).refresh();
        const brokenRepo = join(work, 'repo-missing-file');
        await createRpmRepository(brokenRepo, [fileOf('pw-lib', '1.0-1')]);
        await unlink(join(brokenRepo, 'pw-lib-1.0-1.noarch.rpm'));
        const download = await create({ root: await newRoot(brokenRepo) }).install([
          { name: 'pw-lib', version: '1.0-1' },
        ]);

        expect(locked).toMatchObject({ isSuccess: false, reason: 'lock-held', changes: [] });
        expect(locked.commands[0]?.exitCode).toBe(suite.exitCodes.locked);
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
          const result = await create({ root }).install([{ name: 'pw-big', version: '1.0-1' }]);

          expect(result).toMatchObject({ isSuccess: false, reason: 'disk-full', changes: [] });
        } finally {
          await execFileAsync('umount', [mountPoint]);
        }
      });

      it('installs the reboot-requiring package, which leaves the reboot flag in the root', async () => {
        const root = await newRoot();
        const driver = create({ root });

        const result = await driver.install([{ name: 'pw-kernel', version: '6.1.0-1' }]);

        expect(result.isSuccess).toBe(true);
        expect(await readFile(join(root, 'run/reboot-required.pkgs'), 'utf8')).toBe('pw-kernel\n');
        if (suite.rebootFlag !== undefined) expect(existsSync(join(root, suite.rebootFlag))).toBe(true);
      });

      it('throws a DriverError with the reason when the repository is unreachable', async () => {
        const root = await newRoot(join(work, 'no-such-repo'));
        const driver = create({ root });

        const failure = await driver.listUpdates().catch((err: unknown) => err);

        expect(failure).toBeInstanceOf(DriverError);
        expect(failure).toMatchObject({ code: 'LIST_UPDATES_FAILED', reason: 'download-failed' });
      });
    },
  );
}
