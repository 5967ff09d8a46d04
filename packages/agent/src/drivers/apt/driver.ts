import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { deb, type InstalledPackage, PatchwardenError, parseDpkgStatus } from '@patchwarden/core/host';
import {
  assertNoDowngrade,
  collectPackageFiles,
  commandError,
  diffInventories,
  exitedZero,
  type Judge,
  missingSpecs,
  nameAndArchitecture,
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
import { classifyAptFailure } from './errors.js';

export interface AptDriverOptions extends DriverOptions {
  /** PATH for the manager's processes (and maintainer scripts). Default: the usual system dirs. */
  path?: string;
}

/** The apt driver, plus what the agent needs beyond `PackageDriver`. */
export interface AptDriver extends PackageDriver {
  readonly id: 'apt';
  /**
   * Every package dpkg has unpacked, in any state but `not-installed`/`config-files`, with dpkg's
   * three-letter `db:Status-Abbrev` (`ii ` = installed, `iF ` = half-configured after a failed
   * postinst, `iU ` = unpacked). `readInventory` keeps only the configured ones.
   */
  readPackageStates(): Promise<DpkgPackageState[]>;
  /**
   * Finishes what an interrupted or failed dpkg run left (`dpkg --configure --pending`), which apt
   * otherwise refuses to go past ("dpkg was interrupted, you must manually run 'dpkg --configure
   * -a'"). Runs the pending maintainer scripts again; a script that fails again fails this.
   */
  repair(): Promise<OperationResult>;
}

export interface DpkgPackageState {
  name: string;
  architecture: string | null;
  version: string;
  /** `db:Status-Abbrev`: want, state, error flag (dpkg-query(1)). */
  status: string;
}

const JUDGE: Judge = { isOk: exitedZero, classify: classifyAptFailure };
const APT_ARCHIVES = 'var/cache/apt/archives';
// dpkg-query's own ${Field} syntax (dpkg-query(1) --showformat), not a template.
// biome-ignore lint/suspicious/noTemplateCurlyInString: see above
const STATES_FORMAT = '${Package}\\t${Architecture}\\t${Version}\\t${db:Status-Abbrev}\\n';

/**
 * Drives apt-get and dpkg. With `root` set it works on a private root laid out as
 * `createAptRoot` (lab) makes it: `APT_CONFIG=<root>/etc/apt/apt.conf` for apt-get, and dpkg /
 * dpkg-query with `--root` / `--admindir` (see readme.md).
 */
export function createAptDriver(options: AptDriverOptions): AptDriver {
  const root = options.root === null ? null : resolve(options.root);
  const admindir = root === null ? '/var/lib/dpkg' : join(root, 'var/lib/dpkg');
  const archives = root === null ? `/${APT_ARCHIVES}` : join(root, APT_ARCHIVES);
  const env: NodeJS.ProcessEnv = {
    PATH: options.path ?? DRIVER_PATH,
    LC_ALL: 'C',
    LANG: 'C',
    DEBIAN_FRONTEND: 'noninteractive',
    APT_LISTCHANGES_FRONTEND: 'none',
    ...(root === null ? {} : { APT_CONFIG: join(root, 'etc/apt/apt.conf') }),
  };

  const context = { env, timeoutMs: options.timeoutMs, maxOutputBytes: options.maxOutputBytes };

  function run(argv: string[], cwd?: string): Promise<CommandResult> {
    return runCommand(argv, { ...context, cwd });
  }

  function query(argv: string[]): Promise<{ full: CommandResult; result: CommandResult }> {
    return runQuery(argv, context);
  }

  function aptGet(args: string[]): string[] {
    // In a private root these dpkg options come from its apt.conf; on a host they are given here so
    // that a changed conffile never stops an unattended run at a prompt.
    const confOptions =
      root === null ? ['-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold'] : [];
    return ['apt-get', '-q', '-y', '-o', 'Dpkg::Use-Pty=0', ...confOptions, ...args];
  }

  function dpkg(args: string[]): string[] {
    const rootOptions =
      root === null
        ? []
        : [
            `--root=${root}`,
            `--log=${root}/var/log/dpkg.log`,
            '--force-script-chrootless',
            '--force-not-root',
          ];
    return ['dpkg', ...rootOptions, '--force-confdef', '--force-confold', ...args];
  }

  function dpkgQuery(args: string[]): string[] {
    return ['dpkg-query', `--admindir=${admindir}`, ...args];
  }

  async function readPackageStates(): Promise<DpkgPackageState[]> {
    const { full: result } = await query(dpkgQuery(['-W', `-f=${STATES_FORMAT}`]));
    // dpkg-query -W exits 1 with "no packages found matching" on an empty database.
    if (result.exitCode !== 0 && !(result.exitCode === 1 && result.stdout === '')) {
      throw commandError('DPKG_QUERY_FAILED', result, classifyAptFailure);
    }
    const states: DpkgPackageState[] = [];
    for (const line of result.stdout.split('\n')) {
      const [name, architecture, version, status] = line.split('\t');
      if (name === undefined || version === undefined || status === undefined || version === '') continue;
      // Second letter is the state: n = not-installed, c = config-files (only conffiles left).
      if (status[1] === 'n' || status[1] === 'c') continue;
      states.push({
        name,
        architecture: architecture === '' ? null : (architecture ?? null),
        version,
        status,
      });
    }
    return states;
  }

  async function readInventory(): Promise<InstalledPackage[]> {
    const { full: result } = await query(dpkgQuery(['--status']));
    if (result.exitCode !== 0 && !(result.exitCode === 1 && result.stdout === '')) {
      throw commandError('DPKG_QUERY_FAILED', result, classifyAptFailure);
    }
    return parseDpkgStatus(result.stdout, `${admindir}/status`);
  }

  /** Runs a changing apt-get command between two reads of dpkg's state. */
  function change(argv: string[], expected: PackageSpec[] = []): Promise<OperationResult> {
    return runChange({
      read: readPackageStates,
      run: () => run(argv),
      diff: (before, after) =>
        diffInventories(before, after, { identity: nameAndArchitecture, compareVersions: deb.compare }),
      judge: JUDGE,
      verify(_result, after, before) {
        const wasBroken = new Set(before.filter(isBroken).map(nameAndArchitecture));
        const broken = after.filter((s) => isBroken(s) && !wasBroken.has(nameAndArchitecture(s)));
        const missing = missingSpecs(
          expected,
          after,
          (spec, s) => s.name === spec.name && s.version === spec.version && s.status[1] === 'i',
        );
        return broken.length > 0 || missing.length > 0 ? 'unknown' : null;
      },
    });
  }

  async function refuseDowngrades(packages: PackageSpec[]): Promise<void> {
    assertNoDowngrade(packages, await readPackageStates(), deb.compare);
  }

  async function simulateArgs(argv: string[]): Promise<OperationResult> {
    const { full, result } = await query(argv);
    if (!exitedZero(full)) {
      return { isSuccess: false, reason: classifyAptFailure(full), changes: [], commands: [result] };
    }
    return { isSuccess: true, reason: null, changes: parseSimulation(full.stdout), commands: [result] };
  }

  function upgradeArgs(names: string[] | undefined): string[] {
    // Plain `upgrade` keeps back a package whose new version needs a new package; --with-new-pkgs
    // installs those, and --no-remove refuses plans that would remove anything.
    return names === undefined
      ? ['upgrade', '--with-new-pkgs', '--no-remove']
      : ['install', '--only-upgrade', '--no-remove', ...names];
  }

  async function findInArchives(spec: PackageSpec): Promise<string | null> {
    const prefix = `${spec.name}_${encodeVersion(spec.version)}_`;
    let entries: string[];
    try {
      entries = await readdir(archives);
    } catch {
      return null;
    }
    for (const entry of entries) {
      if (!entry.startsWith(prefix) || !entry.endsWith('.deb')) continue;
      const path = join(archives, entry);
      if (await isPackageFile(path, spec)) return path;
    }
    return null;
  }

  async function isPackageFile(path: string, spec: PackageSpec): Promise<boolean> {
    const { full: result } = await query(['dpkg-deb', '-f', path, 'Package', 'Version', 'Architecture']);
    if (result.exitCode !== 0) return false;
    const fields = new Map<string, string>();
    for (const line of result.stdout.split('\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    const arch = spec.architecture ?? null;
    return (
      fields.get('Package') === spec.name &&
      fields.get('Version') === spec.version &&
      (arch === null || fields.get('Architecture') === arch)
    );
  }

  async function download(spec: PackageSpec, target: string): Promise<string> {
    const before = new Set(await readdir(target));
    const result = await run(aptGet(['download', specArg(spec)]), target);
    if (!exitedZero(result)) {
      throw commandError(
        'PACKAGE_FILE_UNAVAILABLE',
        result,
        classifyAptFailure,
        `${spec.name} ${spec.version}`,
      );
    }
    const prefix = `${spec.name}_${encodeVersion(spec.version)}_`;
    const fresh = (await readdir(target)).filter((f) => f.startsWith(prefix) && f.endsWith('.deb'));
    const found = fresh.find((f) => !before.has(f)) ?? fresh[0];
    if (found === undefined || !(await isPackageFile(join(target, found), spec))) {
      throw new PatchwardenError(
        'PACKAGE_FILE_UNAVAILABLE',
        `apt-get download ${specArg(spec)} left no matching file in ${target}`,
        502,
      );
    }
    return join(target, found);
  }

  const driver: AptDriver = {
    id: 'apt',
    ecosystem: 'deb',

    isAvailable: () => areExecutablesPresent(['apt-get', 'dpkg', 'dpkg-query', 'dpkg-deb'], env.PATH),

    readInventory,
    readPackageStates,

    async repair() {
      return change(dpkg(['--configure', '--pending']));
    },

    async refresh() {
      const result = await run(aptGet(['update']));
      // apt-get update exits 0 when an index could not be fetched ("W: Some index files failed to
      // download. They have been ignored, or old ones used instead.").
      return outcomeOf([result], [], {
        isOk: (r) => exitedZero(r) && !/^E: |Failed to fetch|failed to download/m.test(r.stderr),
        classify: classifyAptFailure,
      });
    },

    async listUpdates() {
      // A simulated dist-upgrade lists every installed package with a newer candidate (plain
      // `upgrade` would hide those that need a new dependency).
      const { full: result } = await query(aptGet(['-s', 'dist-upgrade']));
      if (!exitedZero(result)) throw commandError('APT_LIST_UPDATES_FAILED', result, classifyAptFailure);
      const updates: AvailableUpdate[] = [];
      for (const change of parseSimulation(result.stdout)) {
        if (change.from === null || change.to === null || deb.compare(change.to, change.from) <= 0) continue;
        updates.push({
          name: change.name,
          architecture: change.architecture,
          installedVersion: change.from,
          candidateVersion: change.to,
        });
      }
      return updates;
    },

    async simulate(operation) {
      if (operation.kind === 'upgrade') return simulateArgs(aptGet(['-s', ...upgradeArgs(operation.names)]));
      if (operation.allowDowngrade !== true) await refuseDowngrades(operation.packages);
      const downgrade = operation.allowDowngrade === true ? ['--allow-downgrades'] : [];
      return simulateArgs(
        aptGet(['-s', 'install', '--no-remove', ...downgrade, ...operation.packages.map(specArg)]),
      );
    },

    async install(packages, installOptions = {}) {
      if (installOptions.allowDowngrade !== true) await refuseDowngrades(packages);
      const downgrade = installOptions.allowDowngrade === true ? ['--allow-downgrades'] : [];
      return change(aptGet(['install', '--no-remove', ...downgrade, ...packages.map(specArg)]), packages);
    },

    async upgrade(names) {
      return change(aptGet(upgradeArgs(names)));
    },

    fetchPackageFiles(packages, dir) {
      return collectPackageFiles(packages, dir, { findCached: findInArchives, download });
    },

    async installFiles(paths) {
      // apt-get (not dpkg -i) so that dependencies are resolved from the repositories; the files
      // themselves are installed even when no repository has their version any more.
      const files = paths.map((path) => resolve(path));
      return change(aptGet(['install', '--allow-downgrades', '--no-remove', ...files]));
    },

    async remove(packages) {
      const names = packages.map((p) => (p.architecture == null ? p.name : `${p.name}:${p.architecture}`));
      return change(aptGet(['remove', ...names]));
    },

    classify: classifyAptFailure,
  };
  return driver;
}

/** Anything but installed and configured (`ii `, or `hi ` on hold). */
function isBroken(state: DpkgPackageState): boolean {
  return state.status !== 'ii ' && state.status !== 'hi ';
}

function specArg(spec: PackageSpec): string {
  const arch = spec.architecture ?? null;
  return arch === null ? `${spec.name}=${spec.version}` : `${spec.name}:${arch}=${spec.version}`;
}

/** How apt names a version in a file name: the epoch's ':' becomes `%3a`. */
function encodeVersion(version: string): string {
  return version.replace(/:/g, '%3a');
}

// "Inst NAME [OLD] (NEW RELEASE… [ARCH])", "Remv NAME [OLD]", "Purg NAME [OLD]" (apt-get -s).
const INST_LINE = /^Inst (\S+) (?:\[([^\]]*)\] )?\((\S+) .*\[([^\]]+)\]\)/;
const REMOVE_LINE = /^(?:Remv|Purg) (\S+)(?: \[([^\]]*)\])?/;

/** The changes an `apt-get -s` run plans, in its order. */
export function parseSimulation(stdout: string): PackageChange[] {
  const changes: PackageChange[] = [];
  for (const line of stdout.split('\n')) {
    const inst = INST_LINE.exec(line);
    if (inst !== null) {
      const [name, architecture] = splitArch(inst[1] ?? '', inst[4] ?? null);
      changes.push({ name, architecture, from: inst[2] ?? null, to: inst[3] ?? null });
      continue;
    }
    const remove = REMOVE_LINE.exec(line);
    if (remove !== null) {
      const [name, architecture] = splitArch(remove[1] ?? '', null);
      changes.push({ name, architecture, from: remove[2] ?? null, to: null });
    }
  }
  return changes;
}

function splitArch(name: string, architecture: string | null): [string, string | null] {
  const colon = name.indexOf(':');
  if (colon < 0) return [name, architecture];
  return [name.slice(0, colon), architecture ?? name.slice(colon + 1)];
}
