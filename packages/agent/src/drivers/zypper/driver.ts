import { copyFile, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { InstalledPackage } from '@patchwarden/core';
import {
  areExecutablesPresent,
  assertNoDowngrade,
  type CommandContext,
  DriverError,
  diffInventories,
  findRpmFiles,
  missingSpecs,
  readRpmFileHeaders,
  readRpmInventory,
  rpmEnv,
  run,
  specOfFile,
} from '../dnf/rpm.js';
import type {
  AvailableUpdate,
  CommandResult,
  DriverOptions,
  OperationResult,
  PackageChange,
  PackageDriver,
  PackageSpec,
} from '../types.js';
import { classifyZypperFailure, ZYPPER_SUCCESS_EXITS } from './errors.js';
import { xmlTags } from './xml.js';

export type ZypperDriverOptions = DriverOptions;

/**
 * The zypper driver. With `options.root` it drives the private root laid out as in this folder's
 * readme: `zypper --root <root> --non-interactive --no-gpg-checks` (the lab's repositories are
 * unsigned), `HOME=<root>/root` (its `.rpmmacros` pins the rpm database to `<root>/var/lib/rpm`),
 * `ZYPP_CONF=<root>/etc/zypp/zypp.conf` and `ZYPP_LOGFILE=<root>/var/log/zypper.log` (zypper
 * otherwise logs to the host's /var/log/zypper.log even with --root).
 */
export function createZypperDriver(options: ZypperDriverOptions): PackageDriver {
  const root = options.root;
  const zyppEnv: Record<string, string> = { ZYPP_LOCK_TIMEOUT: '0' };
  if (root !== null) {
    zyppEnv.ZYPP_CONF = join(root, 'etc', 'zypp', 'zypp.conf');
    zyppEnv.ZYPP_LOGFILE = join(root, 'var', 'log', 'zypper.log');
  }
  const context: CommandContext = {
    env: rpmEnv(root, zyppEnv),
    timeoutMs: options.timeoutMs,
    maxOutputBytes: options.maxOutputBytes,
  };
  const zypper =
    root === null
      ? ['zypper', '--non-interactive']
      : ['zypper', '--root', root, '--non-interactive', '--no-gpg-checks'];
  const cacheDir = join(root ?? '/', 'var', 'cache', 'zypp', 'packages');

  async function inventory(): Promise<InstalledPackage[]> {
    return (await readRpmInventory(root, context)).packages;
  }

  function isOk(command: CommandResult): boolean {
    return !command.timedOut && command.exitCode !== null && ZYPPER_SUCCESS_EXITS.has(command.exitCode);
  }

  function outcome(commands: CommandResult[], changes: PackageChange[]): OperationResult {
    const last = commands[commands.length - 1];
    if (last === undefined || isOk(last)) return { isSuccess: true, reason: null, changes, commands };
    return { isSuccess: false, reason: classifyZypperFailure(last), changes, commands };
  }

  /** A changing zypper command between two inventory reads; success also needs the specs installed after. */
  async function change(args: string[], specs: PackageSpec[] = []): Promise<OperationResult> {
    const before = await inventory();
    const command = await run([...zypper, ...args], context);
    const after = await inventory();
    const result = outcome([command], diffInventories(before, after));
    if (result.isSuccess && missingSpecs(specs, after).length > 0) {
      // zypper says "Nothing to do." and exits 0 when it ignores a request (e.g. an older version).
      return { ...result, isSuccess: false, reason: 'unknown' };
    }
    return result;
  }

  return {
    id: 'zypper',
    ecosystem: 'rpm',

    isAvailable: () => areExecutablesPresent(['zypper', 'rpm']),

    readInventory: inventory,

    async refresh() {
      return outcome([await run([...zypper, 'refresh'], context)], []);
    },

    async listUpdates() {
      const command = await run([...zypper, '--xmlout', 'list-updates'], context);
      if (!isOk(command)) {
        const reason = classifyZypperFailure(command);
        throw new DriverError(
          'LIST_UPDATES_FAILED',
          `zypper list-updates failed (exit ${command.exitCode}, ${reason}): ${command.stderr.trim().slice(-500)}`,
          reason,
          command,
        );
      }
      return parseListUpdates(command.stdout);
    },

    async simulate(operation) {
      let args: string[];
      if (operation.kind === 'install') {
        if (!operation.allowDowngrade) assertNoDowngrade(operation.packages, await inventory());
        args = [
          'install',
          '--dry-run',
          ...(operation.allowDowngrade ? ['--oldpackage'] : []),
          ...operation.packages.map(capabilityOf),
        ];
      } else {
        args = ['update', '--dry-run', ...(operation.names ?? [])];
      }
      const command = await run([...zypper, '--xmlout', ...args], context);
      return outcome([command], parseInstallSummary(command.stdout));
    },

    async install(packages, installOptions) {
      if (!installOptions?.allowDowngrade) assertNoDowngrade(packages, await inventory());
      const oldpackage = installOptions?.allowDowngrade ? ['--oldpackage'] : [];
      return change(['install', ...oldpackage, ...packages.map(capabilityOf)], packages);
    },

    upgrade(names) {
      return change(['update', ...(names ?? [])]);
    },

    async fetchPackageFiles(packages, dir) {
      await mkdir(dir, { recursive: true });
      const found = new Map<PackageSpec, string>();
      // 1. zypp's package cache (repositories with keeppackages=1): works after the repository dropped the version.
      const cached = (await findRpmFiles(cacheDir)).filter((file) =>
        packages.some((spec) => basename(file).startsWith(`${spec.name}-`)),
      );
      await collect(cached, packages, found, dir, true);
      const missing = packages.filter((spec) => !found.has(spec));
      if (missing.length === 0) return packages.map((spec) => found.get(spec) as string);
      // 2. `zypper download NAME=VERSION` into a private cache dir.
      const temp = await mkdtemp(join(dir, '.zypper-download-'));
      try {
        const command = await run(
          [...zypper, '--pkg-cache-dir', temp, 'download', ...missing.map(capabilityOf)],
          context,
        );
        await collect(await findRpmFiles(temp), missing, found, dir, false);
        const stillMissing = packages.filter((spec) => !found.has(spec));
        if (stillMissing.length > 0) {
          const reason = isOk(command) ? 'not-found' : classifyZypperFailure(command);
          throw new DriverError(
            'PACKAGE_FILES_UNAVAILABLE',
            `cannot fetch ${stillMissing.map(capabilityOf).join(', ')} (zypper download exit ${command.exitCode})`,
            reason,
            command,
          );
        }
      } finally {
        await rm(temp, { recursive: true, force: true });
      }
      return packages.map((spec) => found.get(spec) as string);
    },

    installFiles(paths) {
      // zypper puts local files in a temporary "@commandline" repository; --oldpackage lets them downgrade.
      return change(['install', '--oldpackage', ...paths]);
    },

    classify: classifyZypperFailure,
  };

  async function collect(
    files: string[],
    specs: PackageSpec[],
    found: Map<PackageSpec, string>,
    dir: string,
    isCache: boolean,
  ): Promise<void> {
    for (const header of await readRpmFileHeaders(files, root, context)) {
      const spec = specOfFile(
        header,
        specs.filter((s) => !found.has(s)),
      );
      if (spec === undefined) continue;
      const target = join(dir, basename(header.path));
      if (isCache) await copyFile(header.path, target);
      else await rename(header.path, target);
      found.set(spec, target);
    }
  }
}

/** `name[.arch]=[epoch:]version-release`, the capability zypper resolves to one exact package. */
export function capabilityOf(spec: PackageSpec): string {
  return `${spec.name}${spec.architecture ? `.${spec.architecture}` : ''}=${spec.version}`;
}

/** `zypper --xmlout list-updates`: `<update kind="package" name= edition= arch= edition-old=>`. */
export function parseListUpdates(xml: string): AvailableUpdate[] {
  const updates: AvailableUpdate[] = [];
  for (const tag of xmlTags(xml)) {
    if (tag.name !== 'update' || tag.kind === 'close' || tag.attributes.kind !== 'package') continue;
    const { name, edition, arch } = tag.attributes;
    const old = tag.attributes['edition-old'];
    if (name === undefined || edition === undefined || old === undefined) continue;
    updates.push({ name, architecture: arch ?? null, installedVersion: old, candidateVersion: edition });
  }
  return updates;
}

const SUMMARY_SECTIONS = new Set(['to-install', 'to-upgrade', 'to-downgrade', 'to-reinstall', 'to-remove']);

/**
 * The `<install-summary>` of `zypper --xmlout install|update --dry-run`: `<solvable type="package"
 * name= edition= arch= edition-old=>` inside `<to-install>`, `<to-upgrade>`, `<to-downgrade>`,
 * `<to-reinstall>` and `<to-remove>`.
 */
export function parseInstallSummary(xml: string): PackageChange[] {
  const changes: PackageChange[] = [];
  let section: string | null = null;
  for (const tag of xmlTags(xml)) {
    if (SUMMARY_SECTIONS.has(tag.name)) {
      section = tag.kind === 'open' ? tag.name : null;
      continue;
    }
    if (section === null || tag.name !== 'solvable' || tag.kind === 'close') continue;
    const { name, edition, arch, type } = tag.attributes;
    if (type !== 'package' || name === undefined || edition === undefined) continue;
    const architecture = arch ?? null;
    if (section === 'to-remove') changes.push({ name, architecture, from: edition, to: null });
    else if (section === 'to-install') changes.push({ name, architecture, from: null, to: edition });
    else changes.push({ name, architecture, from: tag.attributes['edition-old'] ?? edition, to: edition });
  }
  return changes.sort((a, b) => a.name.localeCompare(b.name));
}
