import type { EcosystemId } from './ecosystem.js';

/** One installed package, the same shape for every ecosystem. */
export interface InstalledPackage {
  /** The installed (binary) package name. */
  name: string;
  /** The full version in the ecosystem's own notation, epoch included when it is not 0. */
  version: string;
  /** Architecture as the package manager names it (`amd64`, `x86_64`, `noarch`, `all`), or null. */
  architecture: string | null;
  /**
   * The source package it was built from, where the ecosystem has one (dpkg `Source:`, rpm
   * SOURCERPM, apk origin `o:`, pacman `%BASE%`). Its version is the binary's when none is given.
   */
  source: { name: string; version: string } | null;
  ecosystem: EcosystemId;
}

/** The distribution family, i.e. which advisory sources apply and how packages are built. */
export type OsFamily = 'debian' | 'rhel' | 'suse' | 'arch' | 'alpine' | 'unknown';

/** A host's operating system, normalised so that advisories can be scoped by it. */
export interface OsIdentity {
  family: OsFamily;
  /** os-release `ID`, lower case: `debian`, `ubuntu`, `rocky`, `almalinux`, `rhel`, `alpine`, `arch`, `opensuse-leap`, `sles`. */
  distro: string;
  /**
   * The release as advisories name it: Debian `12`, Ubuntu `22.04`, Rocky `9`, Alpine `3.19`,
   * SUSE `15.5`; null for rolling releases (Arch, Debian sid) and unknown ones.
   */
  version: string | null;
  /** os-release `VERSION_ID` as written (e.g. `3.19.1`, `9.3`), or null. */
  versionId: string | null;
  /** Release codename (`bookworm`, `jammy`), or null. */
  codename: string | null;
  /** os-release `PRETTY_NAME` (or NAME), for people. */
  prettyName: string;
  /** Package ecosystem of the OS packages, or null when unknown. */
  ecosystem: EcosystemId | null;
}

/** What a host has installed, with the OS it runs. */
export interface Inventory {
  os: OsIdentity | null;
  packages: InstalledPackage[];
}
