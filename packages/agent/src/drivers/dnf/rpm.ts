import { access, constants, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type InstalledPackage,
  PatchwardenError,
  parseRpmQa,
  RPM_QA_QUERY_FORMAT,
  rpm,
} from '@patchwarden/core';
import { runCommand } from '../run-command.js';
import type { CommandResult, FailureReason, PackageChange, PackageSpec } from '../types.js';

/**
 * Shared by the dnf and zypper drivers: both manage an rpm database, so inventory, package-file
 * headers and before/after diffs are read with the `rpm` CLI the same way.
 */

/** PATH the drivers run the managers with; fixed so that nothing depends on the agent's environment. */
export const DRIVER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A driver method could not do its job; `reason` is the classified failure of `command` when there is one. */
export class DriverError extends PatchwardenError {
  constructor(
    code: string,
    message: string,
    readonly reason: FailureReason | null = null,
    readonly command: CommandResult | null = null,
  ) {
    super(code, message, 500);
  }
}

/** How one driver runs its commands. */
export interface CommandContext {
  env: NodeJS.ProcessEnv;
  timeoutMs: number | undefined;
  maxOutputBytes: number | undefined;
}

export function run(argv: readonly string[], context: CommandContext): Promise<CommandResult> {
  return runCommand(argv, {
    env: context.env,
    timeoutMs: context.timeoutMs,
    maxOutputBytes: context.maxOutputBytes,
  });
}

/** Whether every program is an executable file in one of `DRIVER_PATH`'s directories. */
export async function areExecutablesPresent(programs: readonly string[]): Promise<boolean> {
  for (const program of programs) {
    let isFound = false;
    for (const dir of DRIVER_PATH.split(':')) {
      try {
        await access(join(dir, program), constants.X_OK);
        isFound = true;
        break;
      } catch {
        // Not in this directory.
      }
    }
    if (!isFound) return false;
  }
  return true;
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
  const command = await run([...rpmArgv(root), '-qa', '--queryformat', RPM_QA_QUERY_FORMAT], {
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

/** Identity of one installed instance: name and architecture (rpm allows one version of each, install-only packages aside). */
function keyOf(name: string, architecture: string | null): string {
  return `${name}\u0000${architecture ?? ''}`;
}

/**
 * What changed between two inventories, sorted by name then architecture. Install-only packages
 * (several versions of one name.arch, e.g. kernels) are compared as sets of versions.
 */
export function diffInventories(before: InstalledPackage[], after: InstalledPackage[]): PackageChange[] {
  const versions = (packages: InstalledPackage[]) => {
    const map = new Map<string, { name: string; architecture: string | null; versions: string[] }>();
    for (const pkg of packages) {
      const key = keyOf(pkg.name, pkg.architecture);
      const entry = map.get(key) ?? { name: pkg.name, architecture: pkg.architecture, versions: [] };
      entry.versions.push(pkg.version);
      map.set(key, entry);
    }
    return map;
  };
  const old = versions(before);
  const now = versions(after);
  const changes: PackageChange[] = [];
  for (const key of new Set([...old.keys(), ...now.keys()])) {
    const from = old.get(key);
    const to = now.get(key);
    const gone = (from?.versions ?? []).filter((v) => !to?.versions.includes(v)).sort(rpm.compare);
    const added = (to?.versions ?? []).filter((v) => !from?.versions.includes(v)).sort(rpm.compare);
    const entry = (from ?? to) as { name: string; architecture: string | null };
    for (let i = 0; i < Math.max(gone.length, added.length); i++) {
      changes.push({
        name: entry.name,
        architecture: entry.architecture,
        from: gone[i] ?? null,
        to: added[i] ?? null,
      });
    }
  }
  return changes.sort(
    (a, b) => a.name.localeCompare(b.name) || (a.architecture ?? '').localeCompare(b.architecture ?? ''),
  );
}

/** The installed instances of a spec's name (and architecture when the spec names one). */
export function installedFor(spec: PackageSpec, inventory: InstalledPackage[]): InstalledPackage[] {
  return inventory.filter(
    (pkg) => pkg.name === spec.name && (spec.architecture == null || pkg.architecture === spec.architecture),
  );
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
  const downgrades = specs.filter((spec) =>
    installedFor(spec, inventory).some((pkg) => rpm.compare(spec.version, pkg.version) < 0),
  );
  if (downgrades.length > 0) {
    throw new DriverError(
      'DOWNGRADE_NOT_ALLOWED',
      `older than installed, pass allowDowngrade: ${downgrades.map((s) => `${s.name} ${s.version}`).join(', ')}`,
    );
  }
}

/** Specs whose exact version is not installed in `inventory`. */
export function missingSpecs(specs: PackageSpec[], inventory: InstalledPackage[]): PackageSpec[] {
  return specs.filter((spec) => !installedFor(spec, inventory).some((pkg) => isVersionOf(spec, pkg.version)));
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
  return specs.find(
    (spec) =>
      spec.name === header.name &&
      (spec.architecture == null || spec.architecture === header.architecture) &&
      isVersionOf(spec, header.version),
  );
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
