import type { InstalledPackage, OsIdentity } from '@patchwarden/core';

/** Debian 12 as `parseOsRelease` reads its os-release. */
export const DEBIAN_12: OsIdentity = {
  family: 'debian',
  distro: 'debian',
  version: '12',
  versionId: '12',
  codename: 'bookworm',
  prettyName: 'Debian GNU/Linux 12 (bookworm)',
  ecosystem: 'deb',
};

/** An amd64 deb package, built from source package `source` (same version) when given. */
export function deb(name: string, version: string, source: string | null = null): InstalledPackage {
  return {
    name,
    version,
    architecture: 'amd64',
    source: source === null ? null : { name: source, version },
    ecosystem: 'deb',
  };
}
