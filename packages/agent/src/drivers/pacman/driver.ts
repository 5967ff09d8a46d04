import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { alpm, type InstalledPackage, PatchwardenError, parsePacmanLocalDb } from '@patchwarden/core/host';
import {
  assertNoDowngrade,
  collectPackageFiles,
  commandError,
  diffInventories,
  exitedZero,
  type Judge,
  missingSpecs,
  outcomeOf,
  runChange,
} from '../operation.js';
import { areExecutablesPresent, DRIVER_PATH, runCommand, runQuery } from '../run-command.js';
import type {
  AvailableUpdate,
  CommandResult,
  DriverOptions,
  OperationResult,
  PackageChange,
  PackageDriver,
  PackageSpec,
} from '../types.js';
import { classifyPacmanFailure, hasScriptletFailure } from './errors.js';

export interface PacmanDriverOptions extends DriverOptions {
  /** PATH for pacman (and scriptlets). Default: the usual system dirs. */
  path?: string;
}

export interface PacmanDriver extends PackageDriver {
  readonly id: 'pacman';
}

const JUDGE: Judge = { isOk: exitedZero, classify: classifyPacmanFailure };
// Marked so that other lines --print writes ("loading packages...") never parse as targets.
const PRINT_FORMAT = 'pw-target %n %v';
const NOT_FOUND_TARGET = /target not found: (\S+)/g;

/**
 * Drives pacman. With `root` set it works on a private root laid out as `createPacmanRoot` (lab)
 * makes it: `--config <root>/etc/pacman.conf --root <root> --dbpath <root>/var/lib/pacman/`
 * (see readme.md).
 */
export function createPacmanDriver(options: PacmanDriverOptions): PacmanDriver {
  const root = options.root === null ? null : resolve(options.root);
  const config = root === null ? null : join(root, 'etc/pacman.conf');
  const env: NodeJS.ProcessEnv = { PATH: options.path ?? DRIVER_PATH, LC_ALL: 'C', LANG: 'C' };
  const context = { env, timeoutMs: options.timeoutMs, maxOutputBytes: options.maxOutputBytes };
  let paths: Promise<{ dbPath: string; cacheDirs: string[] }> | null = null;

  function run(argv: string[]): Promise<CommandResult> {
    return runCommand(argv, context);
  }

  function query(argv: string[]): Promise<{ full: CommandResult; result: CommandResult }> {
    return runQuery(argv, context);
  }

  function pacman(args: string[]): string[] {
    const where =
      root === null || config === null
        ? []
        : ['--config', config, '--root', root, '--dbpath', join(root, 'var/lib/pacman/')];
    return ['pacman', '--noconfirm', ...where, ...args];
  }

  /** DBPath and CacheDir as pacman resolves them (`pacman-conf`), read once. */
  function configuredPaths(): Promise<{ dbPath: string; cacheDirs: string[] }> {
    paths ??= (async () => {
      const { full: result } = await query([
        'pacman-conf',
        ...(config === null ? [] : ['--config', config]),
        'DBPath',
        'CacheDir',
      ]);
      if (result.exitCode !== 0) throw commandError('PACMAN_CONF_FAILED', result, classifyPacmanFailure);
      let dbPath = root === null ? '/var/lib/pacman/' : join(root, 'var/lib/pacman/');
      const cacheDirs: string[] = [];
      for (const line of result.stdout.split('\n')) {
        const match = /^(\w+) = (.*)$/.exec(line);
        if (match?.[1] === 'DBPath' && match[2] !== undefined) dbPath = match[2];
        if (match?.[1] === 'CacheDir' && match[2] !== undefined) cacheDirs.push(match[2]);
      }
      return { dbPath, cacheDirs };
    })();
    return paths;
  }

  async function readInventory(): Promise<InstalledPackage[]> {
    const local = join((await configuredPaths()).dbPath, 'local');
    let dirs: string[];
    try {
      dirs = await readdir(local);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const entries: Array<{ path: string; text: string }> = [];
    for (const dir of dirs) {
      if (dir === 'ALPM_DB_VERSION') continue;
      const path = join(local, dir, 'desc');
      entries.push({ path, text: await readFile(path, 'utf8') });
    }
    return parsePacmanLocalDb(entries);
  }

  /** Runs a changing pacman command between two inventory reads. */
  function change(argv: string[], expected: PackageSpec[], earlier: CommandResult[] = []) {
    return runChange({
      read: readInventory,
      run: () => run(argv),
      // One version per name: a package whose architecture changes is one change, not two.
      diff: (before, after) =>
        diffInventories(before, after, { identity: (p) => p.name, compareVersions: alpm.compare }),
      judge: JUDGE,
      earlier,
      verify(result, after) {
        // pacman 6 exits 0 when a scriptlet fails; the package is installed all the same.
        if (hasScriptletFailure(result)) return 'script-failed';
        const missing = missingSpecs(
          expected,
          after,
          (spec, p) => p.name === spec.name && p.version === spec.version,
        );
        return missing.length > 0 ? 'unknown' : null;
      },
    });
  }

  async function refuseDowngrades(packages: PackageSpec[]): Promise<void> {
    assertNoDowngrade(packages, await readInventory(), alpm.compare, (spec, p) => p.name === spec.name);
  }

  /** A package file of exactly this version in pacman's cache dirs, or null. */
  async function findCached(spec: PackageSpec): Promise<string | null> {
    for (const dir of (await configuredPaths()).cacheDirs) {
      const found = await findPackageFile(dir, spec);
      if (found !== null) return found;
    }
    return null;
  }

  async function findPackageFile(dir: string, spec: PackageSpec): Promise<string | null> {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      return null;
    }
    // name-pkgver-pkgrel-arch.pkg.tar.<compression>; the name itself may contain '-'.
    const prefix = `${spec.name}-${spec.version}-`;
    for (const entry of entries) {
      if (!entry.startsWith(prefix) || entry.endsWith('.sig') || !/\.pkg\.tar(?:\.\w+)?$/.test(entry))
        continue;
      const arch = entry.slice(prefix.length).replace(/\.pkg\.tar(?:\.\w+)?$/, '');
      if (arch.includes('-') || (spec.architecture != null && arch !== spec.architecture)) continue;
      const path = join(dir, entry);
      if (await isPackageFile(path, spec)) return path;
    }
    return null;
  }

  async function isPackageFile(path: string, spec: PackageSpec): Promise<boolean> {
    const { full: result } = await query(pacman(['-Qp', path]));
    return result.exitCode === 0 && result.stdout.trim() === `${spec.name} ${spec.version}`;
  }

  /**
   * How to install these exact versions. A repository holds one version per name, so a version it
   * does not have (`target not found`) comes from a package file in the cache; then the whole set
   * goes through `-U` (repository ones by their URL), in one transaction.
   */
  async function plan(
    packages: PackageSpec[],
  ): Promise<{ argv: string[]; commands: CommandResult[] } | { failure: OperationResult }> {
    const targets = packages.map((spec) => `${spec.name}=${spec.version}`);
    const { full: probe } = await query(pacman(['-Sp', '--print-format', '%n %v %l', ...targets]));
    if (exitedZero(probe)) return { argv: ['-S', '--needed', ...targets], commands: [] };
    const notFound = new Set(
      [...`${probe.stderr}\n${probe.stdout}`.matchAll(NOT_FOUND_TARGET)].map((m) => m[1]),
    );
    if (notFound.size === 0) {
      return {
        failure: { isSuccess: false, reason: classifyPacmanFailure(probe), changes: [], commands: [probe] },
      };
    }
    const files: string[] = [];
    const fromRepo: PackageSpec[] = [];
    for (const spec of packages) {
      if (!notFound.has(`${spec.name}=${spec.version}`)) {
        fromRepo.push(spec);
        continue;
      }
      const cached = await findCached(spec);
      if (cached === null) {
        return { failure: { isSuccess: false, reason: 'not-found', changes: [], commands: [probe] } };
      }
      files.push(cached);
    }
    const commands = [probe];
    if (fromRepo.length > 0) {
      const { full: urls } = await query(
        pacman(['-Sp', '--print-format', '%n %v %l', ...fromRepo.map((s) => `${s.name}=${s.version}`)]),
      );
      commands.push(urls);
      if (!exitedZero(urls)) {
        return { failure: { isSuccess: false, reason: classifyPacmanFailure(urls), changes: [], commands } };
      }
      for (const spec of fromRepo) {
        const line = urls.stdout.split('\n').find((l) => l.startsWith(`${spec.name} ${spec.version} `));
        if (line === undefined) {
          return { failure: { isSuccess: false, reason: 'not-found', changes: [], commands } };
        }
        files.push(line.slice(`${spec.name} ${spec.version} `.length));
      }
    }
    return { argv: ['-U', '--needed', ...files], commands };
  }

  async function simulateArgs(args: string[], earlier: CommandResult[] = []): Promise<OperationResult> {
    const installed = await readInventory();
    const { full, result } = await query(pacman([...args, '--print', '--print-format', PRINT_FORMAT]));
    const commands = [...earlier, result];
    if (!exitedZero(full)) {
      return { isSuccess: false, reason: classifyPacmanFailure(full), changes: [], commands };
    }
    const changes: PackageChange[] = [];
    for (const line of full.stdout.split('\n')) {
      const match = /^pw-target (\S+) (\S+)$/.exec(line);
      if (match === null || match[1] === undefined || match[2] === undefined) continue;
      if (alpm.parseVersion(match[2]) === null) continue;
      const current = installed.find((p) => p.name === match[1]);
      if (current?.version === match[2]) continue;
      changes.push({
        name: match[1],
        architecture: current?.architecture ?? null,
        from: current?.version ?? null,
        to: match[2],
      });
    }
    return { isSuccess: true, reason: null, changes, commands };
  }

  async function download(spec: PackageSpec, target: string): Promise<string> {
    // -Sw into `target` only; -dd: this exact file, not its dependencies.
    const result = await run(pacman(['-Sw', '-dd', '--cachedir', target, `${spec.name}=${spec.version}`]));
    if (!exitedZero(result)) {
      throw commandError(
        'PACKAGE_FILE_UNAVAILABLE',
        result,
        classifyPacmanFailure,
        `${spec.name} ${spec.version}`,
      );
    }
    const found = await findPackageFile(target, spec);
    if (found === null) {
      throw new PatchwardenError(
        'PACKAGE_FILE_UNAVAILABLE',
        `pacman -Sw ${spec.name}=${spec.version} left no matching file in ${target}`,
        502,
      );
    }
    return found;
  }

  async function installedNames(names: string[]): Promise<string[]> {
    const installed = new Set((await readInventory()).map((p) => p.name));
    return names.filter((name) => installed.has(name));
  }

  return {
    id: 'pacman',
    ecosystem: 'alpm',

    isAvailable: () => areExecutablesPresent(['pacman', 'pacman-conf'], env.PATH),

    readInventory,

    async refresh() {
      // -yy: with file:// servers the db is re-copied only when newer (1 s mtime resolution), so a
      // plain -y can miss a repository republished within the same second.
      return outcomeOf([await run(pacman(['-Syy']))], [], JUDGE);
    },

    async listUpdates() {
      const { full: result } = await query(pacman(['-Qu']));
      // -Qu exits 1 with no output when nothing is upgradable.
      if (result.exitCode === 1 && result.stdout.trim() === '' && !result.timedOut) return [];
      if (!exitedZero(result))
        throw commandError('PACMAN_LIST_UPDATES_FAILED', result, classifyPacmanFailure);
      const installed = await readInventory();
      const updates: AvailableUpdate[] = [];
      for (const line of result.stdout.split('\n')) {
        // "name old -> new", with " [ignored]" for IgnorePkg entries.
        const match = /^(\S+) (\S+) -> (\S+)/.exec(line);
        if (match === null || match[1] === undefined || match[2] === undefined || match[3] === undefined)
          continue;
        const name = match[1];
        updates.push({
          name,
          architecture: installed.find((p) => p.name === name)?.architecture ?? null,
          installedVersion: match[2],
          candidateVersion: match[3],
        });
      }
      return updates;
    },

    async simulate(operation) {
      if (operation.kind === 'upgrade') {
        if (operation.names === undefined) return simulateArgs(['-Su']);
        const names = await installedNames(operation.names);
        if (names.length === 0) return { isSuccess: true, reason: null, changes: [], commands: [] };
        return simulateArgs(['-S', '--needed', ...names]);
      }
      if (operation.allowDowngrade !== true) await refuseDowngrades(operation.packages);
      const planned = await plan(operation.packages);
      if ('failure' in planned) return planned.failure;
      return simulateArgs(planned.argv, planned.commands);
    },

    async install(packages, installOptions = {}) {
      if (installOptions.allowDowngrade !== true) await refuseDowngrades(packages);
      const planned = await plan(packages);
      if ('failure' in planned) return planned.failure;
      return change(pacman(planned.argv), packages, planned.commands);
    },

    async upgrade(names) {
      if (names === undefined) return change(pacman(['-Su']), []);
      const installed = await installedNames(names);
      if (installed.length === 0) return { isSuccess: true, reason: null, changes: [], commands: [] };
      return change(pacman(['-S', '--needed', ...installed]), []);
    },

    fetchPackageFiles(packages, dir) {
      return collectPackageFiles(packages, dir, { findCached, download });
    },

    async installFiles(files) {
      return change(pacman(['-U', ...files.map((file) => resolve(file))]), []);
    },

    async remove(packages) {
      return change(pacman(['-R', ...packages.map((p) => p.name)]), []);
    },

    classify: classifyPacmanFailure,
  };
}
