import { copyFile, mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { PatchwardenError } from '@patchwarden/core/host';
import type { CommandResult, FailureReason, OperationResult, PackageChange, PackageSpec } from './types.js';

/**
 * What every driver does around a manager run, whatever the manager: the before/after inventory
 * diff, the OperationResult, the downgrade guard, copying package files for the rollback archive
 * and the errors it throws. How a manager's output is parsed and classified stays in its folder.
 */

/** An installed package as the diff and the downgrade guard see it. */
export interface VersionedPackage {
  name: string;
  architecture: string | null;
  version: string;
}

/** How a manager's runs are judged. */
export interface Judge {
  /** Whether the run did what it was asked (most managers: exit 0 within the time limit). */
  isOk(result: CommandResult): boolean;
  /** Why a run that was not ok failed. */
  classify(result: CommandResult): FailureReason;
}

/** Exit 0 within the time limit: success for apt-get, dpkg, pacman and dnf. */
export function exitedZero(result: CommandResult): boolean {
  return result.exitCode === 0 && !result.timedOut;
}

/** The result of `commands` as the last one went: success when none ran or `judge.isOk(last)`. */
export function outcomeOf(
  commands: CommandResult[],
  changes: PackageChange[],
  judge: Judge,
): OperationResult {
  const last = commands[commands.length - 1];
  if (last === undefined || judge.isOk(last)) return { isSuccess: true, reason: null, changes, commands };
  return { isSuccess: false, reason: judge.classify(last), changes, commands };
}

/** One changing manager run between two reads of the installed packages. */
export interface ChangeRun<T extends VersionedPackage> {
  read(): Promise<T[]>;
  run(): Promise<CommandResult>;
  diff(before: T[], after: T[]): PackageChange[];
  judge: Judge;
  /** Commands this operation ran before (probes); listed ahead of the run. */
  earlier?: CommandResult[];
  /**
   * After a run the judge passed: why the operation failed all the same (a manager that exits 0
   * although a script failed or a request was ignored), or null.
   */
  verify?(result: CommandResult, after: T[], before: T[]): FailureReason | null;
}

/** Runs a change; `changes` are what the reads before and after it differ in, also on failure. */
export async function runChange<T extends VersionedPackage>(change: ChangeRun<T>): Promise<OperationResult> {
  const before = await change.read();
  const result = await change.run();
  const after = await change.read();
  const outcome = outcomeOf([...(change.earlier ?? []), result], change.diff(before, after), change.judge);
  if (!outcome.isSuccess) return outcome;
  const reason = change.verify?.(result, after, before) ?? null;
  return reason === null ? outcome : { ...outcome, isSuccess: false, reason };
}

/** Specs with no installed package that `isInstance` accepts. */
export function missingSpecs<T extends VersionedPackage>(
  specs: PackageSpec[],
  installed: T[],
  isInstance: (spec: PackageSpec, pkg: T) => boolean,
): PackageSpec[] {
  return specs.filter((spec) => !installed.some((pkg) => isInstance(spec, pkg)));
}

export interface DiffRules<T extends VersionedPackage> {
  /** What one installed instance is: name and architecture (dpkg, rpm) or name alone (pacman). */
  identity(pkg: T): string;
  /** The ecosystem's version order; pairs old and new versions of an install-only package (rpm kernels). */
  compareVersions(a: string, b: string): number;
}

/** `identity` for managers that keep one version per name and architecture. */
export function nameAndArchitecture(pkg: VersionedPackage): string {
  return `${pkg.name}\u0000${pkg.architecture ?? ''}`;
}

/**
 * What changed between two reads of the installed packages, sorted by name (code-point order; equal
 * names in the order of `after`, then of `before`). Several versions of one identity are compared
 * as sets and paired oldest first; a change names the package as `after` has it.
 */
export function diffInventories<T extends VersionedPackage>(
  before: T[],
  after: T[],
  rules: DiffRules<T>,
): PackageChange[] {
  const group = (packages: T[]) => {
    const map = new Map<string, { name: string; architecture: string | null; versions: string[] }>();
    for (const pkg of packages) {
      const key = rules.identity(pkg);
      const entry = map.get(key) ?? { name: pkg.name, architecture: pkg.architecture, versions: [] };
      entry.versions.push(pkg.version);
      map.set(key, entry);
    }
    return map;
  };
  const old = group(before);
  const now = group(after);
  const changes: PackageChange[] = [];
  for (const key of [...now.keys(), ...[...old.keys()].filter((k) => !now.has(k))]) {
    const from = old.get(key);
    const to = now.get(key);
    const gone = (from?.versions ?? []).filter((v) => !to?.versions.includes(v)).sort(rules.compareVersions);
    const added = (to?.versions ?? []).filter((v) => !from?.versions.includes(v)).sort(rules.compareVersions);
    const entry = (to ?? from) as { name: string; architecture: string | null };
    for (let i = 0; i < Math.max(gone.length, added.length); i++) {
      changes.push({
        name: entry.name,
        architecture: entry.architecture,
        from: gone[i] ?? null,
        to: added[i] ?? null,
      });
    }
  }
  return changes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Whether `pkg` is an instance of the spec's package: same name, and architecture when the spec names one. */
export function isInstanceOf(spec: PackageSpec, pkg: VersionedPackage): boolean {
  return pkg.name === spec.name && (spec.architecture == null || pkg.architecture === spec.architecture);
}

export interface Downgrade {
  spec: PackageSpec;
  installedVersion: string;
}

/** Each installed instance a spec would replace by an older version, in the order of `specs`, then `installed`. */
export function findDowngrades<T extends VersionedPackage>(
  specs: PackageSpec[],
  installed: T[],
  compareVersions: (a: string, b: string) => number,
  isInstance: (spec: PackageSpec, pkg: T) => boolean = isInstanceOf,
): Downgrade[] {
  const downgrades: Downgrade[] = [];
  for (const spec of specs) {
    for (const pkg of installed) {
      if (isInstance(spec, pkg) && compareVersions(spec.version, pkg.version) < 0) {
        downgrades.push({ spec, installedVersion: pkg.version });
      }
    }
  }
  return downgrades;
}

/** Throws DOWNGRADE_NOT_ALLOWED (409) naming the first downgrade among `specs`. */
export function assertNoDowngrade<T extends VersionedPackage>(
  specs: PackageSpec[],
  installed: T[],
  compareVersions: (a: string, b: string) => number,
  isInstance: (spec: PackageSpec, pkg: T) => boolean = isInstanceOf,
): void {
  const [first] = findDowngrades(specs, installed, compareVersions, isInstance);
  if (first === undefined) return;
  throw new PatchwardenError(
    'DOWNGRADE_NOT_ALLOWED',
    `${first.spec.name} ${first.installedVersion} -> ${first.spec.version} is a downgrade; pass allowDowngrade`,
    409,
  );
}

/** Where `collectPackageFiles` gets a package file from. */
export interface PackageFileSource {
  /** A file of exactly this version in the manager's cache, or null. */
  findCached(spec: PackageSpec): Promise<string | null>;
  /** Has the manager download exactly this version into `dir`; returns the file's path or throws. */
  download(spec: PackageSpec, dir: string): Promise<string>;
}

/** Copies each spec's package file into `dir` (created) from the cache, or downloads it there; the paths, in order. */
export async function collectPackageFiles(
  packages: PackageSpec[],
  dir: string,
  source: PackageFileSource,
): Promise<string[]> {
  const target = resolve(dir);
  await mkdir(target, { recursive: true });
  const paths: string[] = [];
  for (const spec of packages) {
    const cached = await source.findCached(spec);
    if (cached === null) {
      paths.push(await source.download(spec, target));
      continue;
    }
    const path = join(target, basename(cached));
    await copyFile(cached, path);
    paths.push(path);
  }
  return paths;
}

/** `<what>: <argv> failed (exit N, reason): <last lines>`, a 502 with `code`. */
export function commandError(
  code: string,
  result: CommandResult,
  classify: (result: CommandResult) => FailureReason,
  what?: string,
): PatchwardenError {
  const tail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3).join(' | ');
  const subject = what === undefined ? '' : `${what}: `;
  return new PatchwardenError(
    code,
    `${subject}${result.command.join(' ')} failed (exit ${result.exitCode ?? 'signal'}, ${classify(result)}): ${tail}`,
    502,
  );
}

/** A driver method could not do its job; `reason` is the classified failure of `command` when there is one. */
export class DriverError extends PatchwardenError {
  constructor(
    code: string,
    message: string,
    readonly reason: FailureReason | null = null,
    readonly command: CommandResult | null = null,
  ) {
    super(code, message, 500);
  }
}

/** DriverError `code`: `<label> failed (exit N, reason): <stderr tail>`. */
export function failedCommandError(
  code: string,
  label: string,
  command: CommandResult,
  classify: (result: CommandResult) => FailureReason,
): DriverError {
  const reason = classify(command);
  return new DriverError(
    code,
    `${label} failed (exit ${command.exitCode}, ${reason}): ${command.stderr.trim().slice(-500)}`,
    reason,
    command,
  );
}

/** A failure rule: the first whose pattern appears in a run's output gives the reason. */
export interface FailureRule {
  reason: FailureReason;
  pattern: RegExp;
}

/** `timeout` when the runner killed the run; else the first rule matching stderr then stdout; else `unknown`. */
export function classifyByRules(result: CommandResult, rules: readonly FailureRule[]): FailureReason {
  if (result.timedOut) return 'timeout';
  const text = `${result.stderr}\n${result.stdout}`;
  for (const rule of rules) {
    if (rule.pattern.test(text)) return rule.reason;
  }
  return 'unknown';
}
