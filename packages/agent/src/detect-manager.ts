import { type OsIdentity, PatchwardenError, parseOsRelease } from '@patchwarden/core/host';
import type { ManagerId } from './drivers/types.js';

// Core's OS family (from os-release ID and ID_LIKE) → the manager that family uses. SUSE before
// RHEL matters not: core already resolved the family.
const BY_FAMILY: Readonly<Partial<Record<OsIdentity['family'], ManagerId>>> = {
  debian: 'apt',
  rhel: 'dnf',
  suse: 'zypper',
  arch: 'pacman',
};

/** The package manager of the OS whose /etc/os-release text is given; null when none is known. */
export function managerForOsRelease(text: string): ManagerId | null {
  return BY_FAMILY[parseOsRelease(text).family] ?? null;
}

/** As `managerForOsRelease`, throwing UNKNOWN_MANAGER (the operator then passes `--manager`). */
export function detectManager(osRelease: string): ManagerId {
  const manager = managerForOsRelease(osRelease);
  if (manager === null) {
    const os = parseOsRelease(osRelease);
    throw new PatchwardenError(
      'UNKNOWN_MANAGER',
      `cannot tell the package manager of ${JSON.stringify(os.prettyName)} (family ${os.family}); pass --manager apt|dnf|zypper|pacman`,
      400,
    );
  }
  return manager;
}
