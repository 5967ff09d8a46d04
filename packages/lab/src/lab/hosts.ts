import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createDriver, type OperationResult } from '@patchwarden/agent/drivers';
import { PatchwardenError } from '@patchwarden/core';
import {
  debSpecs,
  LAB_OS,
  type LabManager,
  type PatchLevel,
  pacmanSpecs,
  rpmDefinitions,
  versionsForLevel,
} from '../catalog.js';
import { buildAptRepository } from '../packages/deb.js';
import { buildPacmanRepository, pacmanFileName } from '../packages/pacman.js';
import { buildRpmPackages, createRpmRepository, missingTools, RPM_BUILD_TOOLS } from '../packages/rpm.js';
import { createAptRoot } from '../roots/apt.js';
import { createDnfRoot } from '../roots/dnf.js';
import { createPacmanRoot } from '../roots/pacman.js';
import { createZypperRoot } from '../roots/zypper.js';

/** The programs a lab of each manager needs on this machine (building the repository and driving the roots). */
export const LAB_TOOLS: Readonly<Record<LabManager, readonly string[]>> = {
  apt: ['dpkg', 'dpkg-deb', 'dpkg-query', 'dpkg-scanpackages', 'apt-get'],
  dnf: [...RPM_BUILD_TOOLS, 'dnf'],
  zypper: [...RPM_BUILD_TOOLS, 'zypper'],
  pacman: ['bsdtar', 'repo-add', 'pacman', 'ldd'],
};

/** The lab's local repository of the catalog's packages, for one manager. */
export interface LabRepository {
  /** What the roots' configuration points at. */
  dir: string;
  /** pacman only: every version's package file (the repository itself serves only the newest). */
  poolDir: string | null;
}

/** Builds every version of every catalog package into `<dir>` as the manager's repository. */
export async function buildLabRepository(manager: LabManager, dir: string): Promise<LabRepository> {
  const missing = await missingTools(LAB_TOOLS[manager]);
  if (missing.length > 0) {
    throw new PatchwardenError(
      'LAB_TOOLS_MISSING',
      `a ${manager} lab needs ${missing.join(', ')} on this machine (not found on PATH)`,
      400,
    );
  }
  switch (manager) {
    case 'apt':
      await buildAptRepository(dir, debSpecs());
      return { dir, poolDir: null };
    case 'dnf':
    case 'zypper':
      await buildRpmPackages(rpmDefinitions(), dir);
      await createRpmRepository(dir);
      return { dir, poolDir: null };
    case 'pacman': {
      const repo = await buildPacmanRepository(dir, pacmanSpecs());
      return { dir: repo.repoDir, poolDir: repo.poolDir };
    }
  }
}

/** The command that lists a root's packages with the manager's own tool. */
export function nativeQuery(manager: LabManager, root: string): string[] {
  switch (manager) {
    case 'apt':
      return ['dpkg-query', `--admindir=${join(root, 'var/lib/dpkg')}`, '-W'];
    case 'dnf':
    case 'zypper':
      return ['rpm', '--root', root, '--dbpath', '/var/lib/rpm', '-qa'];
    case 'pacman':
      return ['pacman', '--config', join(root, 'etc/pacman.conf'), '-Q'];
  }
}

export interface CreatedRoot {
  root: string;
  machineId: string;
  /** name → version installed. */
  installed: Record<string, string>;
}

/**
 * Makes a private root for one lab host: the manager's layout pointing at the lab repository,
 * `/etc/os-release` of the OS the lab emulates for that manager (so that the host's advisories
 * are scoped), `/etc/hostname`, a random `/etc/machine-id`, and the catalog installed at `level`
 * with the real package manager (exact versions; pacman installs the pool's files, since its
 * repository serves only the newest).
 */
export async function createLabRoot(
  manager: LabManager,
  root: string,
  hostname: string,
  repo: LabRepository,
  level: PatchLevel,
): Promise<CreatedRoot> {
  await mkdir(root, { recursive: true });
  switch (manager) {
    case 'apt':
      await createAptRoot(root, repo.dir);
      break;
    case 'dnf':
      await createDnfRoot(root, repo.dir);
      break;
    case 'zypper':
      await createZypperRoot(root, repo.dir);
      break;
    case 'pacman':
      await createPacmanRoot(root, repo.dir);
      break;
  }
  const machineId = randomBytes(16).toString('hex');
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/os-release'), LAB_OS[manager].osRelease);
  await writeFile(join(root, 'etc/hostname'), `${hostname}\n`);
  await writeFile(join(root, 'etc/machine-id'), `${machineId}\n`);

  const driver = createDriver(manager, { root, timeoutMs: 120_000 });
  const versions = versionsForLevel(level);
  const refreshed = await driver.refresh();
  assertSuccess(refreshed, `${manager} refresh in ${root}`);
  let result: OperationResult;
  if (manager === 'pacman') {
    const pool = repo.poolDir ?? repo.dir;
    const files = versions.map((v) => join(pool, pacmanFileName(v)));
    result = await driver.installFiles(files);
    // A real host keeps what it installed in pacman's cache (the repository serves only the newest
    // version), and the agent archives from there before a change, so a rollback can find it.
    const cache = join(root, 'var/cache/pacman/pkg');
    await mkdir(cache, { recursive: true });
    for (const file of files) await copyFile(file, join(cache, basename(file)));
  } else {
    result = await driver.install(versions);
  }
  assertSuccess(result, `installing the ${level} package set in ${root}`);
  // A provisioned host has booted since: only later kernel updates leave a reboot pending.
  for (const marker of ['run/reboot-required', 'run/reboot-required.pkgs', 'run/reboot-needed']) {
    await rm(join(root, marker), { force: true });
  }
  const inventory = await driver.readInventory();
  const installed: Record<string, string> = {};
  for (const pkg of inventory) installed[pkg.name] = pkg.version;
  const missing = versions.filter((v) => installed[v.name] !== v.version);
  if (missing.length > 0) {
    throw new PatchwardenError(
      'LAB_ROOT_FAILED',
      `${root}: after installing, ${missing.map((v) => `${v.name} is ${installed[v.name] ?? 'absent'} (wanted ${v.version})`).join(', ')}`,
      500,
    );
  }
  return { root, machineId, installed };
}

function assertSuccess(result: OperationResult, what: string): void {
  if (result.isSuccess) return;
  const last = result.commands[result.commands.length - 1];
  const output = last === undefined ? '' : `${last.stderr}\n${last.stdout}`.trim().slice(-2000);
  throw new PatchwardenError(
    'LAB_ROOT_FAILED',
    `${what} failed (${result.reason ?? 'unknown'}): ${last?.command.join(' ') ?? ''}\n${output}`,
    500,
  );
}
