import type { DebPackageSpec } from './packages/deb.js';
import type { PacmanPackageSpec } from './packages/pacman.js';
import type { RpmPackageDefinition } from './packages/rpm.js';

/** The package managers a lab host can use. */
export type LabManager = 'apt' | 'dnf' | 'zypper' | 'pacman';

export const LAB_MANAGERS: readonly LabManager[] = ['apt', 'dnf', 'zypper', 'pacman'];

/**
 * One version of one lab package. `version-release` reads the same in all three ecosystems
 * (`1.0-1`: a Debian upstream-revision, an rpm version-release, a pacman pkgver-pkgrel), so one
 * catalog and one advisory feed serve every manager.
 */
export interface LabPackageVersion {
  version: string;
  release: string;
  /** Its maintainer script fails on purpose (deb postinst, rpm %pre, pacman post_install). */
  isBroken?: boolean;
  /** Installing it marks the host as needing a reboot. */
  requiresReboot?: boolean;
}

export interface LabPackage {
  name: string;
  description: string;
  /** Oldest first. */
  versions: LabPackageVersion[];
}

export type LabSeverity = 'critical' | 'high' | 'medium' | 'low';

/** One advisory of the lab feed: the versions of `name` before `fixed` are affected. */
export interface LabAdvisory {
  id: string;
  summary: string;
  severity: LabSeverity;
  /** A CVSS 3.1 vector matching the severity. */
  cvss: string;
  name: string;
  /** `version-release`. */
  fixed: string;
  published: string;
}

/** The lab's packages. */
export const LAB_PACKAGES: readonly LabPackage[] = [
  {
    name: 'pw-openssl',
    description: 'TLS library stand-in: two advisories, fixed in 1.0-2 and 1.1-1',
    versions: [
      { version: '1.0', release: '1' },
      { version: '1.0', release: '2' },
      { version: '1.1', release: '1' },
    ],
  },
  {
    name: 'pw-curl',
    description: 'HTTP client stand-in: one advisory fixed in 7.88-2',
    versions: [
      { version: '7.88', release: '1' },
      { version: '7.88', release: '2' },
    ],
  },
  {
    name: 'pw-zlib',
    description: 'compression library stand-in: a low-severity advisory fixed in 1.3-1',
    versions: [
      { version: '1.2', release: '1' },
      { version: '1.3', release: '1' },
    ],
  },
  {
    name: 'pw-kernel',
    description: 'kernel stand-in: every version needs a reboot; an advisory fixed in 6.1-2',
    versions: [
      { version: '6.1', release: '1', requiresReboot: true },
      { version: '6.1', release: '2', requiresReboot: true },
    ],
  },
  {
    name: 'pw-broken',
    description: 'its newest version (the fix of an advisory) has a maintainer script that fails on purpose',
    versions: [
      { version: '1.0', release: '1' },
      { version: '1.1', release: '1', isBroken: true },
    ],
  },
  {
    name: 'pw-hello',
    description: 'a plain package with no advisory',
    versions: [
      { version: '1.0', release: '1' },
      { version: '2.0', release: '1' },
    ],
  },
  {
    name: 'pw-tools',
    description: 'a plain package with one version',
    versions: [{ version: '1.0', release: '1' }],
  },
];

/** The lab feed's advisories (OSV ids of a private database prefix, `PWLAB-`). */
export const LAB_ADVISORIES: readonly LabAdvisory[] = [
  {
    id: 'PWLAB-2026-0001',
    summary: 'pw-openssl: remote heap overflow in the handshake',
    severity: 'critical',
    cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
    name: 'pw-openssl',
    fixed: '1.0-2',
    published: '2026-10-01T00:00:00Z',
  },
  {
    id: 'PWLAB-2026-0002',
    summary: 'pw-openssl: timing side channel in signature checks',
    severity: 'medium',
    cvss: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N',
    name: 'pw-openssl',
    fixed: '1.1-1',
    published: '2026-10-15T00:00:00Z',
  },
  {
    id: 'PWLAB-2026-0003',
    summary: 'pw-curl: credentials leaked on redirect',
    severity: 'high',
    cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:N',
    name: 'pw-curl',
    fixed: '7.88-2',
    published: '2026-10-20T00:00:00Z',
  },
  {
    id: 'PWLAB-2026-0004',
    summary: 'pw-zlib: out-of-bounds read on crafted input',
    severity: 'low',
    cvss: 'CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:N/A:N',
    name: 'pw-zlib',
    fixed: '1.3-1',
    published: '2026-09-01T00:00:00Z',
  },
  {
    id: 'PWLAB-2026-0005',
    summary: 'pw-kernel: local privilege escalation',
    severity: 'high',
    cvss: 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H',
    name: 'pw-kernel',
    fixed: '6.1-2',
    published: '2026-11-01T00:00:00Z',
  },
  {
    id: 'PWLAB-2026-0006',
    summary: 'pw-broken: denial of service (its fixed version fails to install, on purpose)',
    severity: 'medium',
    cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L',
    name: 'pw-broken',
    fixed: '1.1-1',
    published: '2026-11-05T00:00:00Z',
  },
];

/** The OS a lab host of each manager presents, and the OSV ecosystem string its advisories use. */
export interface LabOs {
  /** `/etc/os-release` of the root. */
  osRelease: string;
  /** The OSV `package.ecosystem` core scopes to this OS; null when OSV has none (Arch). */
  osvEcosystem: string | null;
}

export const LAB_OS: Readonly<Record<LabManager, LabOs>> = {
  apt: {
    osRelease: osRelease({
      PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm) [Patchwarden lab]',
      NAME: 'Debian GNU/Linux',
      VERSION_ID: '12',
      VERSION: '12 (bookworm)',
      VERSION_CODENAME: 'bookworm',
      ID: 'debian',
    }),
    osvEcosystem: 'Debian:12',
  },
  dnf: {
    osRelease: osRelease({
      NAME: 'AlmaLinux',
      VERSION: '9.4 (Seafoam Ocelot)',
      ID: 'almalinux',
      ID_LIKE: 'rhel centos fedora',
      VERSION_ID: '9.4',
      PRETTY_NAME: 'AlmaLinux 9.4 (Seafoam Ocelot) [Patchwarden lab]',
    }),
    osvEcosystem: 'AlmaLinux:9',
  },
  zypper: {
    osRelease: osRelease({
      NAME: 'openSUSE Leap',
      VERSION: '15.5',
      ID: 'opensuse-leap',
      ID_LIKE: 'suse opensuse',
      VERSION_ID: '15.5',
      PRETTY_NAME: 'openSUSE Leap 15.5 [Patchwarden lab]',
    }),
    osvEcosystem: 'openSUSE:Leap 15.5',
  },
  pacman: {
    osRelease: osRelease({
      NAME: 'Arch Linux',
      PRETTY_NAME: 'Arch Linux [Patchwarden lab]',
      ID: 'arch',
      BUILD_ID: 'rolling',
    }),
    // OSV has no Arch Linux ecosystem: pacman lab hosts are inventoried but get no findings.
    osvEcosystem: null,
  },
};

function osRelease(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}=${JSON.stringify(value)}\n`)
    .join('');
}

/** `version-release`, the full version string in every lab ecosystem. */
export function fullVersion(version: LabPackageVersion): string {
  return `${version.version}-${version.release}`;
}

/** The catalog as .deb specs. */
export function debSpecs(): DebPackageSpec[] {
  return LAB_PACKAGES.flatMap((pkg) =>
    pkg.versions.map((v) => ({
      name: pkg.name,
      version: fullVersion(v),
      failingScript: v.isBroken === true ? ('postinst' as const) : null,
      requiresReboot: v.requiresReboot === true,
    })),
  );
}

/** The catalog as rpm definitions. */
export function rpmDefinitions(): RpmPackageDefinition[] {
  return LAB_PACKAGES.flatMap((pkg) =>
    pkg.versions.map((v) => ({
      name: pkg.name,
      version: v.version,
      release: v.release,
      summary: pkg.description,
      failingScript: v.isBroken === true ? ('pre' as const) : null,
      rebootRequired: v.requiresReboot === true,
    })),
  );
}

/** The catalog as pacman specs. */
export function pacmanSpecs(): PacmanPackageSpec[] {
  return LAB_PACKAGES.flatMap((pkg) =>
    pkg.versions.map((v) => ({
      name: pkg.name,
      version: fullVersion(v),
      failingScriptlet: v.isBroken === true,
      requiresReboot: v.requiresReboot === true,
    })),
  );
}

/** How up to date a lab host starts. */
export type PatchLevel = 'outdated' | 'partial' | 'current';

export const PATCH_LEVELS: readonly PatchLevel[] = ['outdated', 'partial', 'current'];

/** Host `index` (0-based) of a lab: the levels take turns, so any three hosts cover all of them. */
export function patchLevelOf(index: number): PatchLevel {
  return PATCH_LEVELS[index % PATCH_LEVELS.length] ?? 'outdated';
}

/**
 * The exact versions a host at `level` starts with: `outdated` the oldest of each package,
 * `current` the newest that installs cleanly, `partial` the newest for every other package and the
 * oldest for the rest. A broken version is never chosen (it would not install).
 */
export function versionsForLevel(level: PatchLevel): Array<{ name: string; version: string }> {
  return LAB_PACKAGES.map((pkg, index) => {
    const installable = pkg.versions.filter((v) => v.isBroken !== true);
    const oldest = installable[0];
    const newest = installable[installable.length - 1];
    if (oldest === undefined || newest === undefined) {
      throw new Error(`lab package ${pkg.name} has no installable version`);
    }
    const pick =
      level === 'outdated' ? oldest : level === 'current' ? newest : index % 2 === 0 ? newest : oldest;
    return { name: pkg.name, version: fullVersion(pick) };
  });
}

/**
 * The lab feed: one OSV record per advisory, with one affected entry per OS the lab emulates
 * (`Debian:12` names source packages, which for the lab packages are the binary names).
 */
export function labOsvRecords(modified: string): Array<Record<string, unknown>> {
  const ecosystems = LAB_MANAGERS.map((m) => LAB_OS[m].osvEcosystem).filter((e): e is string => e !== null);
  return LAB_ADVISORIES.map((advisory) => ({
    schema_version: '1.6.0',
    id: advisory.id,
    modified,
    published: advisory.published,
    summary: advisory.summary,
    details: `${advisory.summary}. A Patchwarden lab advisory: it affects only the lab's generated packages.`,
    severity: [{ type: 'CVSS_V3', score: advisory.cvss }],
    affected: ecosystems.map((ecosystem) => ({
      package: { ecosystem, name: advisory.name },
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: advisory.fixed }] }],
      database_specific: { severity: advisory.severity },
    })),
    database_specific: { severity: advisory.severity, source: 'patchwarden-lab' },
  }));
}
