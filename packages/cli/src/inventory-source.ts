import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type InstalledPackage,
  type Inventory,
  isEcosystemId,
  type OsIdentity,
  parseApkInstalled,
  parseDpkgStatus,
  parseOsRelease,
  parsePacmanLocalDb,
  parseRpmQa,
  RPM_QA_QUERY_FORMAT,
} from '@patchwarden/core';
import { UsageError } from './errors.js';

/** The flags every inventory-reading command accepts. */
export const INVENTORY_OPTIONS = {
  local: { type: 'boolean' },
  'dpkg-status': { type: 'string' },
  'rpm-qa': { type: 'string' },
  'pacman-db': { type: 'string' },
  'apk-db': { type: 'string' },
  inventory: { type: 'string' },
  'os-release': { type: 'string' },
} as const;

export interface InventoryFlags {
  local?: boolean;
  'dpkg-status'?: string;
  'rpm-qa'?: string;
  'pacman-db'?: string;
  'apk-db'?: string;
  inventory?: string;
  'os-release'?: string;
}

const SOURCES = ['local', 'dpkg-status', 'rpm-qa', 'pacman-db', 'apk-db', 'inventory'] as const;

/** Reads the one inventory the flags name, with its OS identity. Throws UsageError unless exactly one source is given. */
export async function readInventory(flags: InventoryFlags): Promise<Inventory> {
  const given = SOURCES.filter((name) => flags[name] !== undefined && flags[name] !== false);
  if (given.length !== 1) {
    throw new UsageError(
      `give exactly one inventory source (${SOURCES.map((s) => `--${s}`).join(', ')}); got ${given.length === 0 ? 'none' : given.map((s) => `--${s}`).join(' ')}`,
    );
  }
  const osReleasePath = flags['os-release'];
  const os = osReleasePath !== undefined ? await readOsRelease(osReleasePath) : null;
  if (flags.inventory !== undefined) {
    const inventory = parseInventoryJson(await readFile(flags.inventory, 'utf8'), flags.inventory);
    return { os: os ?? inventory.os, packages: inventory.packages };
  }
  if (flags.local) return readLocalInventory(os);
  return { os, packages: await readPackages(flags) };
}

async function readPackages(flags: InventoryFlags): Promise<InstalledPackage[]> {
  if (flags['dpkg-status'] !== undefined) {
    return parseDpkgStatus(await readFile(flags['dpkg-status'], 'utf8'), flags['dpkg-status']);
  }
  if (flags['rpm-qa'] !== undefined)
    return parseRpmQa(await readFile(flags['rpm-qa'], 'utf8'), flags['rpm-qa']);
  if (flags['apk-db'] !== undefined)
    return parseApkInstalled(await readFile(flags['apk-db'], 'utf8'), flags['apk-db']);
  return readPacmanDb(flags['pacman-db']!);
}

async function readOsRelease(path: string): Promise<OsIdentity> {
  return parseOsRelease(await readFile(path, 'utf8'), path);
}

/** Accepts pacman's database path (`/var/lib/pacman`) or its `local` directory. */
async function readPacmanDb(dir: string): Promise<InstalledPackage[]> {
  const local = existsSync(join(dir, 'local')) ? join(dir, 'local') : dir;
  const entries: Array<{ path: string; text: string }> = [];
  for (const name of (await readdir(local)).sort()) {
    const entryDir = join(local, name);
    if (!(await stat(entryDir)).isDirectory()) continue;
    const path = join(entryDir, 'desc');
    entries.push({ path, text: await readFile(path, 'utf8') });
  }
  return parsePacmanLocalDb(entries);
}

/** This machine: its os-release and the package manager it runs. */
async function readLocalInventory(os: OsIdentity | null): Promise<Inventory> {
  const identity =
    os ?? (await readOsRelease(existsSync('/etc/os-release') ? '/etc/os-release' : '/usr/lib/os-release'));
  if (identity.ecosystem === 'deb' || (identity.ecosystem === null && existsSync('/var/lib/dpkg/status'))) {
    return {
      os: identity,
      packages: parseDpkgStatus(await readFile('/var/lib/dpkg/status', 'utf8'), '/var/lib/dpkg/status'),
    };
  }
  if (identity.ecosystem === 'rpm') {
    const { stdout } = await promisify(execFile)('rpm', ['-qa', '--queryformat', RPM_QA_QUERY_FORMAT], {
      maxBuffer: 256 * 1024 * 1024,
    });
    return { os: identity, packages: parseRpmQa(stdout, 'rpm -qa') };
  }
  if (identity.ecosystem === 'alpm') return { os: identity, packages: await readPacmanDb('/var/lib/pacman') };
  if (identity.ecosystem === 'apk') {
    return {
      os: identity,
      packages: parseApkInstalled(await readFile('/lib/apk/db/installed', 'utf8'), '/lib/apk/db/installed'),
    };
  }
  throw new UsageError(
    `cannot tell how to read installed packages on ${identity.prettyName}; name an inventory file instead`,
  );
}

/** An `Inventory` as `patchwarden inventory --format json` writes it. Checks every package and reports all problems at once. */
export function parseInventoryJson(text: string, source: string): Inventory {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${source}: not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const problems: string[] = [];
  const record = raw as { os?: unknown; packages?: unknown };
  if (typeof raw !== 'object' || raw === null || !Array.isArray(record.packages)) {
    throw new UsageError(
      `${source}: expected an object with a "packages" array (the output of \`patchwarden inventory --format json\`)`,
    );
  }
  for (const [index, item] of (record.packages as unknown[]).entries()) {
    const pkg = item as Partial<InstalledPackage> | null;
    if (typeof pkg !== 'object' || pkg === null) {
      problems.push(`packages[${index}] is not an object`);
      continue;
    }
    for (const field of ['name', 'version', 'ecosystem'] as const) {
      if (typeof pkg[field] !== 'string' || pkg[field] === '') {
        problems.push(`packages[${index}].${field} must be a non-empty string`);
      }
    }
    if (
      typeof pkg.ecosystem === 'string' &&
      (pkg.ecosystem as string).length > 0 &&
      !isEcosystemId(pkg.ecosystem)
    ) {
      problems.push(
        `packages[${index}].ecosystem ${JSON.stringify(pkg.ecosystem)} is not one of deb, rpm, alpm, apk, semver`,
      );
    }
  }
  if (problems.length > 0) {
    throw new UsageError(
      `${source}: invalid inventory: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? `; and ${problems.length - 10} more` : ''}`,
    );
  }
  const packages = (record.packages as Array<Partial<InstalledPackage>>).map((pkg) => ({
    name: pkg.name!,
    version: pkg.version!,
    architecture: pkg.architecture ?? null,
    source: pkg.source ?? null,
    ecosystem: pkg.ecosystem!,
  })) as InstalledPackage[];
  return { os: (record.os as OsIdentity | undefined) ?? null, packages };
}
