import { copyFile, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type InstalledPackage, parseRpmQa, RPM_QA_QUERY_FORMAT, rpm } from '@patchwarden/core/host';
import {
  DriverError,
  diffInventories,
  findDowngrades,
  isInstanceOf,
  type Judge,
  missingSpecs,
  nameAndArchitecture,
  outcomeOf,
  runChange,
  type VersionedPackage,
} from '../operation.js';
import { DRIVER_PATH, runCommand } from '../run-command.js';
import type { CommandResult, OperationResult, PackageChange, PackageSpec } from '../types.js';

/**
 * Shared by the dnf and zypper drivers: both manage an rpm database, so inventory, package-file
 * headers, before/after diffs and the package-file archive are handled with the `rpm` CLI the same way.
 */

/** How one driver runs its commands. */
export interface CommandContext {
  env: NodeJS.ProcessEnv;
  timeoutMs: number | undefined;
  maxOutputBytes: number | undefined;
}

/** An rpm-based manager as its driver runs it. */
export interface RpmManager {
  root: string | null;
  context: CommandContext;
  /** The manager's command line up to its subcommand, with the root's options. */
  argv: readonly string[];
  judge: Judge;
  /** Where the manager keeps the package files it downloaded. */
  cacheDir: string;
}

export function run(argv: readonly string[], context: CommandContext): Promise<CommandResult> {
  return runCommand(argv, context);
}

/**
 * The environment for rpm-based managers. With a private root, `HOME` is `<root>/root`, whose
 * `.rpmmacros` pins `%_dbpath /var/lib/rpm` (Debian's rpm otherwise follows `$HOME`).
 */
export function rpmEnv(root: string | null, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: DRIVER_PATH, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };
  env.HOME = root === null ? '/root' : join(root, 'root');
  return { ...env, ...extra };
}

export function rpmArgv(root: string | null): string[] {
  return root === null ? ['rpm'] : ['rpm', `--root=${root}`];
}

/**
 * `rpm -qa` through core's parser. Throws DriverError `INVENTORY_UNREADABLE` when rpm fails
 * (e.g. the database is locked or missing).
 */
export async function readRpmInventory(
  root: string | null,
  context: CommandContext,
): Promise<{ packages: InstalledPackage[]; command: CommandResult }> {
  const command = await runCommand([...rpmArgv(root), '-qa', '--queryformat', RPM_QA_QUERY_FORMAT], {
    ...context,
    // The inventory must be complete to be parsed; never cut it to the output bound.
    maxOutputBytes: 256 * 1024 * 1024,
  });
  if (command.exitCode !== 0 || command.timedOut) {
    throw new DriverError(
      'INVENTORY_UNREADABLE',
      `rpm -qa failed (exit ${command.exitCode}): ${command.stderr.trim().slice(-500)}`,
      command.timedOut ? 'timeout' : 'unknown',
      command,
    );
  }
  return { packages: parseRpmQa(command.stdout, root ?? 'rpm -qa'), command };
}

/**
 * What changed between two inventories, by name then architecture in locale order, as dnf and zypper
 * list their plans (`plannedChanges`, `parseInstallSummary`). Install-only packages (several versions
 * of one name.arch, e.g. kernels) are compared as sets of versions.
 */
export function diffRpmInventories(before: VersionedPackage[], after: VersionedPackage[]): PackageChange[] {
  return diffInventories(before, after, { identity: nameAndArchitecture, compareVersions: rpm.compare }).sort(
    (a, b) => a.name.localeCompare(b.name) || (a.architecture ?? '').localeCompare(b.architecture ?? ''),
  );
}

/** The installed instances of a spec's name (and architecture when the spec names one). */
export function installedFor(spec: PackageSpec, inventory: InstalledPackage[]): InstalledPackage[] {
  return inventory.filter((pkg) => isInstanceOf(spec, pkg));
}

/** Whether the installed `version` is what `spec` asks for (a spec without release matches any release). */
export function isVersionOf(spec: PackageSpec, version: string): boolean {
  if (rpm.compare(spec.version, version) === 0) return true;
  if (spec.version.includes('-')) return false;
  const withoutRelease = version.slice(0, version.lastIndexOf('-'));
  return rpm.compare(spec.version, withoutRelease) === 0;
}

/**
 * Throws DriverError `DOWNGRADE_NOT_ALLOWED` when a spec is older than the installed version of
 * its package and downgrades were not asked for (dnf would downgrade silently; zypper would do
 * nothing and exit 0).
 */
export function assertNoDowngrade(specs: PackageSpec[], inventory: InstalledPackage[]): void {
  const downgrades = [...new Set(findDowngrades(specs, inventory, rpm.compare).map((d) => d.spec))];
  if (downgrades.length > 0) {
    throw new DriverError(
      'DOWNGRADE_NOT_ALLOWED',
      `older than installed, pass allowDowngrade: ${downgrades.map((s) => `${s.name} ${s.version}`).join(', ')}`,
    );
  }
}

/** Specs whose exact version is not installed in `inventory`. */
export function missingRpmSpecs(specs: PackageSpec[], inventory: InstalledPackage[]): PackageSpec[] {
  return missingSpecs(
    specs,
    inventory,
    (spec, pkg) => isInstanceOf(spec, pkg) && isVersionOf(spec, pkg.version),
  );
}

/** Header of a package file, as read by `rpm -qp`. */
export interface RpmFileHeader {
  path: string;
  name: string;
  version: string;
  architecture: string;
}

/** Reads the headers of package files (`rpm -qp`); throws DriverError `PACKAGE_FILE_UNREADABLE`. */
export async function readRpmFileHeaders(
  paths: string[],
  root: string | null,
  context: CommandContext,
): Promise<RpmFileHeader[]> {
  const headers: RpmFileHeader[] = [];
  for (const path of paths) {
    const command = await run(
      [...rpmArgv(root), '-qp', '--nosignature', '--nodigest', '--queryformat', RPM_QA_QUERY_FORMAT, path],
      context,
    );
    const parsed = command.exitCode === 0 ? parseRpmQa(command.stdout, path) : [];
    const pkg = parsed[0];
    if (pkg === undefined || pkg.architecture === null) {
      throw new DriverError(
        'PACKAGE_FILE_UNREADABLE',
        `rpm -qp ${path} failed (exit ${command.exitCode}): ${command.stderr.trim().slice(-500)}`,
        'unknown',
        command,
      );
    }
    headers.push({ path, name: pkg.name, version: pkg.version, architecture: pkg.architecture });
  }
  return headers;
}

/** The spec a package file satisfies, if any. */
export function specOfFile(header: RpmFileHeader, specs: PackageSpec[]): PackageSpec | undefined {
  return specs.find((spec) => isInstanceOf(spec, header) && isVersionOf(spec, header.version));
}

/** Every `.rpm` under `dir`, recursively; empty when `dir` does not exist. */
export async function findRpmFiles(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries.filter((entry) => entry.endsWith('.rpm')).map((entry) => join(dir, entry));
}

/** The newest of several installed versions (install-only packages), in rpm order. */
export function newestVersion(packages: InstalledPackage[]): string | null {
  let newest: string | null = null;
  for (const pkg of packages) {
    if (newest === null || rpm.compare(pkg.version, newest) > 0) newest = pkg.version;
  }
  return newest;
}

/** What both rpm drivers do through their manager. */
export interface RpmOperations {
  /** The installed packages (`rpm -qa`). */
  inventory(): Promise<InstalledPackage[]>;
  /** One run of the manager with `args` after its own options. */
  run(args: readonly string[]): Promise<CommandResult>;
  /** The result of one run, judged by its exit, with these changes. */
  outcome(command: CommandResult, changes: PackageChange[]): OperationResult;
  /**
   * A changing run between two inventory reads; success also needs `specs` installed after (dnf
   * and zypper both exit 0 when they ignore a request, e.g. zypper's "Nothing to do.").
   */
  change(args: readonly string[], specs?: PackageSpec[]): Promise<OperationResult>;
}

export function rpmOperations(manager: RpmManager): RpmOperations {
  const inventory = async () => (await readRpmInventory(manager.root, manager.context)).packages;
  const runArgs = (args: readonly string[]) => run([...manager.argv, ...args], manager.context);
  return {
    inventory,
    run: runArgs,
    outcome: (command, changes) => outcomeOf([command], changes, manager.judge),
    change: (args, specs = []) =>
      runChange<InstalledPackage>({
        read: inventory,
        run: () => runArgs(args),
        diff: diffRpmInventories,
        judge: manager.judge,
        verify: (_result, after) => (missingRpmSpecs(specs, after).length > 0 ? 'unknown' : null),
      }),
  };
}

/** `name[.arch]`, how dnf and zypper name an installed package to remove. */
export function rpmPackageArg(pkg: { name: string; architecture?: string | null }): string {
  return pkg.architecture == null ? pkg.name : `${pkg.name}.${pkg.architecture}`;
}

/** How a manager downloads package files that its cache does not hold. */
export interface RpmDownload {
  /** Runs the manager's download of `specs` into `dir`; the commands it ran. */
  run(specs: PackageSpec[], dir: string): Promise<CommandResult[]>;
  /** The error for specs still without a file after `commands`. */
  unavailable(specs: PackageSpec[], commands: CommandResult[]): DriverError;
}

/**
 * The package files of these exact versions, in `dir`: copied from the manager's cache (which works
 * after the repository dropped the version), the rest downloaded into a private directory and moved.
 */
export async function fetchRpmPackageFiles(
  manager: RpmManager,
  packages: PackageSpec[],
  dir: string,
  download: RpmDownload,
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const found = new Map<PackageSpec, string>();
  const cached = (await findRpmFiles(manager.cacheDir)).filter((file) =>
    packages.some((spec) => basename(file).startsWith(`${spec.name}-`)),
  );
  await collect(cached, false);
  const missing = packages.filter((spec) => !found.has(spec));
  if (missing.length === 0) return packages.map((spec) => found.get(spec) as string);
  const temp = await mkdtemp(join(dir, `.${basename(manager.argv[0] ?? 'rpm')}-download-`));
  try {
    const commands = await download.run(missing, temp);
    await collect(await findRpmFiles(temp), true);
    const stillMissing = packages.filter((spec) => !found.has(spec));
    if (stillMissing.length > 0) throw download.unavailable(stillMissing, commands);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return packages.map((spec) => found.get(spec) as string);

  /** Copies (moves, from our own temp dir) the files matching still-unfound specs into `dir`. */
  async function collect(files: string[], isOwn: boolean): Promise<void> {
    for (const header of await readRpmFileHeaders(files, manager.root, manager.context)) {
      const spec = specOfFile(
        header,
        packages.filter((s) => !found.has(s)),
      );
      if (spec === undefined) continue;
      const target = join(dir, basename(header.path));
      if (isOwn) await rename(header.path, target);
      else await copyFile(header.path, target);
      found.set(spec, target);
    }
  }
}
