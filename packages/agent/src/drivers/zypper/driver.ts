import { join } from 'node:path';
import {
  assertNoDowngrade,
  fetchRpmPackageFiles,
  type RpmManager,
  rpmEnv,
  rpmOperations,
  rpmPackageArg,
} from '../dnf/rpm.js';
import { DriverError, failedCommandError } from '../operation.js';
import { areExecutablesPresent } from '../run-command.js';
import type {
  AvailableUpdate,
  CommandResult,
  DriverOptions,
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
  const zypper =
    root === null
      ? ['zypper', '--non-interactive']
      : ['zypper', '--root', root, '--non-interactive', '--no-gpg-checks'];
  const manager: RpmManager = {
    root,
    context: {
      env: rpmEnv(root, zyppEnv),
      timeoutMs: options.timeoutMs,
      maxOutputBytes: options.maxOutputBytes,
    },
    argv: zypper,
    judge: { isOk, classify: classifyZypperFailure },
    cacheDir: join(root ?? '/', 'var', 'cache', 'zypp', 'packages'),
  };
  const { inventory, run, outcome, change } = rpmOperations(manager);

  return {
    id: 'zypper',
    ecosystem: 'rpm',

    isAvailable: () => areExecutablesPresent(['zypper', 'rpm']),

    readInventory: inventory,

    async refresh() {
      return outcome(await run(['refresh']), []);
    },

    async listUpdates() {
      const command = await run(['--xmlout', 'list-updates']);
      if (!isOk(command)) {
        throw failedCommandError(
          'LIST_UPDATES_FAILED',
          'zypper list-updates',
          command,
          classifyZypperFailure,
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
      const command = await run(['--xmlout', ...args]);
      return outcome(command, parseInstallSummary(command.stdout));
    },

    async install(packages, installOptions) {
      if (!installOptions?.allowDowngrade) assertNoDowngrade(packages, await inventory());
      const oldpackage = installOptions?.allowDowngrade ? ['--oldpackage'] : [];
      return change(['install', ...oldpackage, ...packages.map(capabilityOf)], packages);
    },

    upgrade(names) {
      return change(['update', ...(names ?? [])]);
    },

    remove(packages) {
      return change(['remove', ...packages.map(rpmPackageArg)]);
    },

    fetchPackageFiles(packages, dir) {
      // zypp's package cache holds files of repositories with keeppackages=1; the rest comes from
      // `zypper download NAME=VERSION` into a private cache dir.
      return fetchRpmPackageFiles(manager, packages, dir, {
        run: async (missing, temp) => [
          await run(['--pkg-cache-dir', temp, 'download', ...missing.map(capabilityOf)]),
        ],
        unavailable(missing, [command]) {
          return new DriverError(
            'PACKAGE_FILES_UNAVAILABLE',
            `cannot fetch ${missing.map(capabilityOf).join(', ')} (zypper download exit ${command?.exitCode})`,
            command === undefined || isOk(command) ? 'not-found' : classifyZypperFailure(command),
            command ?? null,
          );
        },
      });
    },

    installFiles(paths) {
      // zypper puts local files in a temporary "@commandline" repository; --oldpackage lets them downgrade.
      return change(['install', '--oldpackage', ...paths]);
    },

    classify: classifyZypperFailure,
  };
}

function isOk(command: CommandResult): boolean {
  return !command.timedOut && command.exitCode !== null && ZYPPER_SUCCESS_EXITS.has(command.exitCode);
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
