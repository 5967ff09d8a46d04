import { join } from 'node:path';
import type { InstalledPackage } from '@patchwarden/core/host';
import { DriverError, exitedZero, failedCommandError } from '../operation.js';
import { areExecutablesPresent } from '../run-command.js';
import type {
  AvailableUpdate,
  CommandResult,
  DriverOptions,
  PackageChange,
  PackageDriver,
  PackageSpec,
} from '../types.js';
import { classifyDnfFailure } from './errors.js';
import {
  assertNoDowngrade,
  fetchRpmPackageFiles,
  installedFor,
  isVersionOf,
  newestVersion,
  type RpmManager,
  rpmEnv,
  rpmOperations,
  rpmPackageArg,
} from './rpm.js';

export interface DnfDriverOptions extends DriverOptions {
  /**
   * `--releasever` in a private root, where dnf cannot detect it (no `system-release` package).
   * Default `1`. Ignored without a root.
   */
  releasever?: string;
}

/** dnf check-update: 100 = updates available, 0 = none. */
const EXIT_UPDATES_AVAILABLE = 100;

/**
 * The dnf (4) driver. With `options.root` it drives the private root laid out as in this folder's
 * readme: `--installroot=<root>`, `--config=<root>/etc/dnf/dnf.conf`,
 * `--setopt=reposdir=<root>/etc/yum.repos.d`, `HOME=<root>/root` (its `.rpmmacros` pins the rpm
 * database to `<root>/var/lib/rpm`) and no plugins.
 */
export function createDnfDriver(options: DnfDriverOptions): PackageDriver {
  const root = options.root;
  // exit_on_lock: fail at once with "already locked by PID" (exit 200) instead of waiting forever.
  const dnf =
    root === null
      ? ['dnf', '-y', '--color=never', '--setopt=exit_on_lock=True']
      : [
          'dnf',
          '-y',
          '--color=never',
          '--setopt=exit_on_lock=True',
          `--installroot=${root}`,
          `--config=${join(root, 'etc', 'dnf', 'dnf.conf')}`,
          `--setopt=reposdir=${join(root, 'etc', 'yum.repos.d')}`,
          `--releasever=${options.releasever ?? '1'}`,
          '--noplugins',
        ];
  const manager: RpmManager = {
    root,
    context: { env: rpmEnv(root), timeoutMs: options.timeoutMs, maxOutputBytes: options.maxOutputBytes },
    argv: dnf,
    judge: { isOk: exitedZero, classify: classifyDnfFailure },
    cacheDir: join(root ?? '/', 'var', 'cache', 'dnf'),
  };
  const { inventory, run, outcome, change } = rpmOperations(manager);

  return {
    id: 'dnf',
    ecosystem: 'rpm',

    isAvailable: () => areExecutablesPresent(['dnf', 'rpm']),

    readInventory: inventory,

    async refresh() {
      return outcome(await run(['makecache', '--refresh']), []);
    },

    async listUpdates() {
      const installed = await inventory();
      const command = await run(['-q', 'check-update']);
      if (command.timedOut || (command.exitCode !== 0 && command.exitCode !== EXIT_UPDATES_AVAILABLE)) {
        throw failedCommandError('LIST_UPDATES_FAILED', 'dnf check-update', command, classifyDnfFailure);
      }
      const updates: AvailableUpdate[] = [];
      for (const row of parseCheckUpdate(command.stdout)) {
        const current = newestVersion(installedFor(row, installed));
        if (current === null) continue;
        updates.push({
          name: row.name,
          architecture: row.architecture,
          installedVersion: current,
          candidateVersion: row.version,
        });
      }
      return updates;
    },

    async simulate(operation) {
      const installed = await inventory();
      let args: string[];
      if (operation.kind === 'install') {
        if (!operation.allowDowngrade) assertNoDowngrade(operation.packages, installed);
        args = ['install', ...operation.packages.map(nevraOf)];
      } else {
        args = ['upgrade', ...(operation.names ?? [])];
      }
      // tsflags=test: resolve, download and run rpm's test transaction; nothing is changed (exit 0).
      const command = await run(['--setopt=tsflags=test', ...args]);
      return outcome(command, plannedChanges(command.stdout, installed));
    },

    async install(packages, installOptions) {
      if (!installOptions?.allowDowngrade) assertNoDowngrade(packages, await inventory());
      return change(['install', ...packages.map(nevraOf)], packages);
    },

    upgrade(names) {
      return change(['upgrade', ...(names ?? [])]);
    },

    remove(packages) {
      return change(['remove', ...packages.map(rpmPackageArg)]);
    },

    fetchPackageFiles(packages, dir) {
      // Download what the cache lacks: reinstall for installed versions, install otherwise.
      return fetchRpmPackageFiles(manager, packages, dir, {
        async run(missing, temp) {
          const installed = await inventory();
          const isInstalled = (spec: PackageSpec) =>
            installedFor(spec, installed).some((pkg) => isVersionOf(spec, pkg.version));
          const commands: CommandResult[] = [];
          const groups: Array<[string, PackageSpec[]]> = [
            ['reinstall', missing.filter(isInstalled)],
            ['install', missing.filter((spec) => !isInstalled(spec))],
          ];
          for (const [verb, specs] of groups) {
            if (specs.length === 0) continue;
            commands.push(await run([verb, '--downloadonly', `--destdir=${temp}`, ...specs.map(nevraOf)]));
          }
          return commands;
        },
        unavailable(missing, commands) {
          const failed = commands.find((c) => c.exitCode !== 0) ?? commands[commands.length - 1] ?? null;
          return new DriverError(
            'PACKAGE_FILES_UNAVAILABLE',
            `cannot fetch ${missing.map(nevraOf).join(', ')}: ${failed?.stderr.trim().slice(-500) ?? ''}`,
            failed === null ? null : classifyDnfFailure(failed),
            failed,
          );
        },
      });
    },

    installFiles(paths) {
      // dnf installs local files as given: upgrades, downgrades and new installs alike.
      return change(['install', ...paths]);
    },

    classify: classifyDnfFailure,
  };
}

/** `name-[epoch:]version-release[.arch]`, the form dnf resolves to one exact package. */
export function nevraOf(spec: PackageSpec): string {
  return `${spec.name}-${spec.version}${spec.architecture ? `.${spec.architecture}` : ''}`;
}

interface CheckUpdateRow {
  name: string;
  architecture: string;
  version: string;
}

/**
 * `dnf -q check-update` rows: `name.arch  [epoch:]version-release  repo`. A long name makes dnf
 * wrap the row, so tokens are gathered across lines; the list ends at `Obsoleting Packages`.
 */
export function parseCheckUpdate(text: string): CheckUpdateRow[] {
  const rows: CheckUpdateRow[] = [];
  let pending: string[] = [];
  for (const line of text.split('\n')) {
    if (/^Obsoleting Packages/i.test(line)) break;
    if (/^Security:/.test(line) || line.trim() === '') {
      pending = [];
      continue;
    }
    pending.push(...line.trim().split(/\s+/));
    if (pending.length < 3) continue;
    const [nameArch, version] = pending as [string, string];
    pending = [];
    const dot = nameArch.lastIndexOf('.');
    if (dot <= 0) continue;
    rows.push({ name: nameArch.slice(0, dot), architecture: nameArch.slice(dot + 1), version });
  }
  return rows;
}

/**
 * The transaction table dnf prints before acting (`Installing:`, `Upgrading:`, `Downgrading:`,
 * `Reinstalling:`, `Removing:`, `Installing dependencies:` …), as changes against `installed`.
 * Rows are ` name  arch  version  repo  size`; a long name wraps onto the next line.
 */
export function plannedChanges(text: string, installed: InstalledPackage[]): PackageChange[] {
  const changes: PackageChange[] = [];
  let section: string | null = null;
  let pending: string[] = [];
  for (const line of text.split('\n')) {
    if (/^(Transaction Summary|Total|Skipping packages|Downloading|Running transaction)/.test(line)) {
      section = null;
      continue;
    }
    const header = /^([A-Z][A-Za-z ]*):\s*$/.exec(line);
    if (header) {
      section = (header[1] as string).toLowerCase();
      pending = [];
      continue;
    }
    if (section === null || !line.startsWith(' ') || /^\s*replacing\s/.test(line)) continue;
    pending.push(...line.trim().split(/\s+/));
    if (pending.length < 4) continue;
    const [name, architecture, version] = pending as [string, string, string];
    pending = [];
    const current = installed.filter((pkg) => pkg.name === name && pkg.architecture === architecture);
    const from = newestVersion(current);
    if (section.startsWith('removing')) {
      changes.push({ name, architecture, from: version, to: null });
    } else if (section.startsWith('installing')) {
      // New, or an install-only package (kernel) getting one more version beside the installed ones.
      changes.push({ name, architecture, from: null, to: version });
    } else {
      changes.push({ name, architecture, from, to: version });
    }
  }
  return changes.sort((a, b) => a.name.localeCompare(b.name));
}
