import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type InstalledPackage, rpm } from '@patchwarden/core/host';
import { runCommand } from './drivers/run-command.js';
import type { ManagerId } from './drivers/types.js';
import { isNotFound } from './state.js';

export interface RebootState {
  isRebootRequired: boolean;
  /** The packages that asked for it, where the OS says (Debian's reboot-required.pkgs). */
  packages: string[];
}

// Binary packages that carry the kernel on RPM distributions (the running one is `uname -r`).
const RPM_KERNEL_PACKAGES = new Set(['kernel', 'kernel-core', 'kernel-default', 'kernel-uek']);

/**
 * Whether the host needs a reboot:
 * - apt: `<root>/run/reboot-required` exists (written by packages' postinst), the packages from
 *   `reboot-required.pkgs`;
 * - dnf/zypper: the newest installed kernel package (`version-release.arch`) is not the running
 *   kernel, or, on the machine itself, `needs-restarting -r` exits 1;
 * - pacman: the running kernel's modules directory is gone (the package was upgraded).
 */
export async function readRebootState(options: {
  manager: ManagerId;
  root: string | null;
  runningKernel: string;
  inventory: InstalledPackage[];
}): Promise<RebootState> {
  const root = options.root ?? '/';
  switch (options.manager) {
    case 'apt':
      return readDebianRebootRequired(root);
    case 'dnf':
    case 'zypper':
      return readRpmRebootState(options);
    case 'pacman':
      return readPacmanRebootState(options);
  }
}

export async function readDebianRebootRequired(root: string): Promise<RebootState> {
  try {
    await readFile(join(root, 'run/reboot-required'));
  } catch (err) {
    if (isNotFound(err)) return { isRebootRequired: false, packages: [] };
    throw err;
  }
  let packages: string[] = [];
  try {
    const text = await readFile(join(root, 'run/reboot-required.pkgs'), 'utf8');
    packages = [
      ...new Set(
        text
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== ''),
      ),
    ];
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return { isRebootRequired: true, packages };
}

/** The newest installed kernel package, as `version-release.arch` (uname -r's form), or null. */
export function newestRpmKernel(inventory: InstalledPackage[]): { name: string; release: string } | null {
  let newest: InstalledPackage | null = null;
  for (const pkg of inventory) {
    if (!RPM_KERNEL_PACKAGES.has(pkg.name)) continue;
    if (newest === null || rpm.compare(pkg.version, newest.version) > 0) newest = pkg;
  }
  if (newest === null) return null;
  // uname -r has no epoch: 5.14.0-362.el9.x86_64.
  const version = newest.version.replace(/^\d+:/, '');
  return {
    name: newest.name,
    release: newest.architecture === null ? version : `${version}.${newest.architecture}`,
  };
}

async function readRpmRebootState(options: {
  root: string | null;
  runningKernel: string;
  inventory: InstalledPackage[];
}): Promise<RebootState> {
  const kernel = newestRpmKernel(options.inventory);
  if (kernel !== null && kernel.release !== options.runningKernel) {
    return { isRebootRequired: true, packages: [kernel.name] };
  }
  if (options.root === null) {
    try {
      // needs-restarting -r (dnf-utils / yum-utils): exit 1 = reboot needed, 0 = not.
      const result = await runCommand(['needs-restarting', '-r'], { timeoutMs: 60_000 });
      if (result.exitCode === 1) return { isRebootRequired: true, packages: [] };
    } catch {
      // Not installed: the kernel comparison above is all there is.
    }
  }
  return { isRebootRequired: false, packages: [] };
}

async function readPacmanRebootState(options: {
  root: string | null;
  runningKernel: string;
  inventory: InstalledPackage[];
}): Promise<RebootState> {
  const hasKernel = options.inventory.some((p) => p.name === 'linux' || p.name.startsWith('linux-'));
  if (!hasKernel || options.root !== null) return { isRebootRequired: false, packages: [] };
  try {
    await readFile(join('/usr/lib/modules', options.runningKernel, 'modules.dep'));
    return { isRebootRequired: false, packages: [] };
  } catch (err) {
    if (isNotFound(err)) return { isRebootRequired: true, packages: ['linux'] };
    throw err;
  }
}
