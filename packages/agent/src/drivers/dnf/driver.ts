import { copyFile, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { InstalledPackage } from '@patchwarden/core';
import type {
  AvailableUpdate,
  CommandResult,
  DriverOptions,
  OperationResult,
  PackageChange,
  PackageDriver,
  PackageSpec,
} from '../types.js';
import { classifyDnfFailure } from './errors.js';
import {
  areExecutablesPresent,
  assertNoDowngrade,
  type CommandContext,
  DriverError,
  diffInventories,
  findRpmFiles,
  installedFor,
  isVersionOf,
  missingSpecs,
  newestVersion,
  readRpmFileHeaders,
  readRpmInventory,
  rpmEnv,
  run,
  specOfFile,
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
  const context: CommandContext = {
    env: rpmEnv(root),
    timeoutMs: options.timeoutMs,
    maxOutputBytes: options.maxOutputBytes,
  };
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
  const cacheDir = join(root ?? '/', 'var', 'cache', 'dnf');

  async function inventory(): Promise<InstalledPackage[]> {
    return (await readRpmInventory(root, context)).packages;
  }

  function outcome(
    commands: CommandResult[],
    changes: PackageChange[],
    isOk: (last: CommandResult) => boolean = (last) => last.exitCode === 0 && !last.timedOut,
  ): OperationResult {
    const last = commands[commands.length - 1];
    if (last === undefined || isOk(last)) return { isSuccess: true, reason: null, changes, commands };
    return { isSuccess: false, reason: classifyDnfFailure(last), changes, commands };
  }

  /** Runs a changing dnf command between two inventory reads; success also needs the specs installed after. */
  async function change(args: string[], specs: PackageSpec[] = []): Promise<OperationResult> {
    const before = await inventory();
    const command = await run([...dnf, ...args], context);
    const after = await inventory();
    const result = outcome([command], diffInventories(before, after));
    if (result.isSuccess && missingSpecs(specs, after).length > 0) {
      return { ...result, isSuccess: false, reason: 'unknown' };
    }
    return result;
  }

  return {
    id: 'dnf',
    ecosystem: 'rpm',

    isAvailable: () => areExecutablesPresent(['dnf', 'rpm']),

    readInventory: inventory,

    async refresh() {
      const command = await run([...dnf, 'makecache', '--refresh'], context);
      return outcome([command], []);
    },

    async listUpdates() {
      const installed = await inventory();
      const command = await run([...dnf, '-q', 'check-update'], context);
      if (command.timedOut || (command.exitCode !== 0 && command.exitCode !== EXIT_UPDATES_AVAILABLE)) {
        const reason = classifyDnfFailure(command);
        throw new DriverError(
          'LIST_UPDATES_FAILED',
          `dnf check-update failed (exit ${command.exitCode}, ${reason}): ${command.stderr.trim().slice(-500)}`,
          reason,
          command,
        );
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
      const command = await run([...dnf, '--setopt=tsflags=test', ...args], context);
      return outcome([command], plannedChanges(command.stdout, installed));
    },

    async install(packages, installOptions) {
      if (!installOptions?.allowDowngrade) assertNoDowngrade(packages, await inventory());
      return change(['install', ...packages.map(nevraOf)], packages);
    },

    upgrade(names) {
      return change(['upgrade', ...(names ?? [])]);
    },

    async fetchPackageFiles(packages, dir) {
      await mkdir(dir, { recursive: true });
      const found = new Map<PackageSpec, string>();
      // 1. dnf's own cache (keepcache): works even after the repository dropped the version.
      const cached = (await findRpmFiles(cacheDir)).filter((file) =>
        packages.some((spec) => basename(file).startsWith(`${spec.name}-`)),
      );
      await collect(cached, packages, found, dir);
      // 2. Download what is still missing: reinstall for installed versions, install otherwise.
      let missing = packages.filter((spec) => !found.has(spec));
      if (missing.length > 0) {
        const installed = await inventory();
        const temp = await mkdtemp(join(dir, '.dnf-download-'));
        try {
          const commands: CommandResult[] = [];
          const isInstalled = (spec: PackageSpec) =>
            installedFor(spec, installed).some((pkg) => isVersionOf(spec, pkg.version));
          const groups: Array<[string, PackageSpec[]]> = [
            ['reinstall', missing.filter(isInstalled)],
            ['install', missing.filter((spec) => !isInstalled(spec))],
          ];
          for (const [verb, specs] of groups) {
            if (specs.length === 0) continue;
            commands.push(
              await run(
                [...dnf, verb, '--downloadonly', `--destdir=${temp}`, ...specs.map(nevraOf)],
                context,
              ),
            );
          }
          await collect(await findRpmFiles(temp), missing, found, dir);
          missing = packages.filter((spec) => !found.has(spec));
          if (missing.length > 0) {
            const failed = commands.find((c) => c.exitCode !== 0) ?? commands[commands.length - 1] ?? null;
            const reason = failed === null ? null : classifyDnfFailure(failed);
            throw new DriverError(
              'PACKAGE_FILES_UNAVAILABLE',
              `cannot fetch ${missing.map(nevraOf).join(', ')}: ${failed?.stderr.trim().slice(-500) ?? ''}`,
              reason,
              failed,
            );
          }
        } finally {
          await rm(temp, { recursive: true, force: true });
        }
      }
      return packages.map((spec) => found.get(spec) as string);
    },

    installFiles(paths) {
      // dnf installs local files as given: upgrades, downgrades and new installs alike.
      return change(['install', ...paths]);
    },

    classify: classifyDnfFailure,
  };

  /** Copies (moves, for our own temp dir) the files matching still-unfound specs into `dir`. */
  async function collect(
    files: string[],
    specs: PackageSpec[],
    found: Map<PackageSpec, string>,
    dir: string,
  ): Promise<void> {
    const headers = await readRpmFileHeaders(files, root, context);
    for (const header of headers) {
      const spec = specOfFile(
        header,
        specs.filter((s) => !found.has(s)),
      );
      if (spec === undefined) continue;
      const target = join(dir, basename(header.path));
      if (header.path.startsWith(cacheDir)) {
        await copyFile(header.path, target);
      } else {
        await rename(header.path, target);
      }
      found.set(spec, target);
    }
  }
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
