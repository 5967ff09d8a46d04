import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { alpm, PatchwardenError } from '@patchwarden/core';

const exec = promisify(execFile);

/** The repository (db) name the lab uses when none is given: `[lab]` in pacman.conf. */
export const DEFAULT_PACMAN_DB_NAME = 'lab';

/** A tiny generated pacman package (`.pkg.tar.gz`) for the lab and the driver tests. */
export interface PacmanPackageSpec {
  name: string;
  /** `pkgver-pkgrel` (`1.0-1`, `1:2.0-3`); a version without `-pkgrel` gets `-1`. */
  version: string;
  /** Default `any`. */
  architecture?: string;
  /** `depend` entries (`pms-lib>=1.0`). */
  depends?: string[];
  /** `conflict` entries. */
  conflicts?: string[];
  /**
   * `post_install` and `post_upgrade` print a message and return 1, on purpose. pacman 6 reports
   * "error: command failed to execute correctly" and still exits 0 with the package installed.
   * Needs `/bin/sh` in the root (`createPacmanRoot` copies one).
   */
  failingScriptlet?: boolean;
  /** `post_install`/`post_upgrade` write `/run/reboot-required` and append the name to `/run/reboot-required.pkgs`. */
  requiresReboot?: boolean;
  /** `post_install`/`post_upgrade` sleep this many seconds first (needs `/bin/sleep` in the root). */
  scriptletSleepSeconds?: number;
  /** Payload: path relative to `/` → content. Default: `usr/share/<name>/VERSION` holding "name version". */
  files?: Record<string, string>;
}

/** The full alpm version of a spec: `pkgver-pkgrel`. */
export function pacmanVersion(version: string): string {
  return version.includes('-') ? version : `${version}-1`;
}

/** `name-pkgver-pkgrel-arch.pkg.tar.gz`, as makepkg names it. */
export function pacmanFileName(spec: Pick<PacmanPackageSpec, 'name' | 'version' | 'architecture'>): string {
  return `${spec.name}-${pacmanVersion(spec.version)}-${spec.architecture ?? 'any'}.pkg.tar.gz`;
}

/**
 * Builds one package by hand (makepkg refuses to run as root): `.PKGINFO`, an optional `.INSTALL`
 * and the payload, tarred by bsdtar with `.PKGINFO` first. Returns the file's path in `outDir`.
 */
export async function buildPacmanPackage(spec: PacmanPackageSpec, outDir: string): Promise<string> {
  const stage = await mkdtemp(join(tmpdir(), 'pw-pacman-'));
  try {
    const files = spec.files ?? { [`usr/share/${spec.name}/VERSION`]: `${spec.name} ${spec.version}\n` };
    let size = 0;
    for (const [path, content] of Object.entries(files)) {
      const target = join(stage, path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, content);
      size += Buffer.byteLength(content);
    }
    await writeFile(join(stage, '.PKGINFO'), pkgInfo(spec, size));
    const members = ['.PKGINFO'];
    const install = installScript(spec);
    if (install !== null) {
      await writeFile(join(stage, '.INSTALL'), install);
      members.push('.INSTALL');
    }
    const topLevel = [...new Set(Object.keys(files).map((path) => path.split('/')[0] ?? path))];
    await mkdir(outDir, { recursive: true });
    const out = join(outDir, pacmanFileName(spec));
    await exec(
      'bsdtar',
      [
        '-czf',
        out,
        '--uid',
        '0',
        '--gid',
        '0',
        '--uname',
        'root',
        '--gname',
        'root',
        ...members,
        ...topLevel,
      ],
      { cwd: stage },
    );
    return out;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

function pkgInfo(spec: PacmanPackageSpec, size: number): string {
  const lines = [
    `pkgname = ${spec.name}`,
    `pkgbase = ${spec.name}`,
    `pkgver = ${pacmanVersion(spec.version)}`,
    `pkgdesc = Patchwarden lab package ${spec.name}`,
    'url = https://example.invalid',
    // Fixed: the same spec always gives the same package metadata.
    'builddate = 1700000000',
    'packager = Patchwarden Lab <lab@example.invalid>',
    `size = ${size}`,
    `arch = ${spec.architecture ?? 'any'}`,
    'license = MIT',
    ...(spec.depends ?? []).map((dep) => `depend = ${dep}`),
    ...(spec.conflicts ?? []).map((conflict) => `conflict = ${conflict}`),
  ];
  return `${lines.join('\n')}\n`;
}

function installScript(spec: PacmanPackageSpec): string | null {
  const body: string[] = [];
  if (spec.scriptletSleepSeconds !== undefined && spec.scriptletSleepSeconds > 0) {
    body.push(
      `  echo started > /run/${spec.name}.scriptlet-started`,
      `  sleep ${spec.scriptletSleepSeconds}`,
    );
  }
  if (spec.requiresReboot === true) {
    body.push(
      `  echo '*** System restart required ***' > /run/reboot-required`,
      `  echo ${spec.name} >> /run/reboot-required.pkgs`,
    );
  }
  if (spec.failingScriptlet === true) {
    body.push(`  echo "${spec.name} scriptlet: failing on purpose" >&2`, '  return 1');
  }
  if (body.length === 0) return null;
  // Scriptlets run chrooted into the root with /bin/sh; only shell builtins and what the root has.
  const fn = (name: string) => [`${name}() {`, ...body, '}'].join('\n');
  return `${fn('post_install')}\n\n${fn('post_upgrade')}\n`;
}

export interface PacmanRepository {
  /** The repository directory: `<db>.db.tar.gz` (and the `<db>.db` link) plus the published files. */
  repoDir: string;
  /** Every package file built, all versions (older versions are kept here, not in the repository). */
  poolDir: string;
  /** The db name, i.e. the `[section]` in pacman.conf. */
  dbName: string;
  /** Pool paths of all the files built, in the order of the specs. */
  files: string[];
  /** Repository paths of the published files: the newest version of each name. */
  published: string[];
}

/**
 * Builds every spec into `<dir>/pool` and publishes the newest version of each name (by alpm
 * ordering) into `<dir>/repo` with `repo-add`. A pacman repository holds one version per name, so
 * the older files stay in the pool, to publish later (`publishPacmanPackages`) or to install with
 * `pacman -U`.
 */
export async function buildPacmanRepository(
  dir: string,
  specs: PacmanPackageSpec[],
  options: { dbName?: string } = {},
): Promise<PacmanRepository> {
  const dbName = options.dbName ?? DEFAULT_PACMAN_DB_NAME;
  const poolDir = join(dir, 'pool');
  const repoDir = join(dir, 'repo');
  await mkdir(repoDir, { recursive: true });
  const files: string[] = [];
  const newest = new Map<string, { version: string; file: string }>();
  for (const spec of specs) {
    const file = await buildPacmanPackage(spec, poolDir);
    files.push(file);
    const version = pacmanVersion(spec.version);
    const current = newest.get(spec.name);
    if (current === undefined || alpm.compare(version, current.version) > 0)
      newest.set(spec.name, { version, file });
  }
  const published = await publishPacmanPackages(
    repoDir,
    [...newest.values()].map((entry) => entry.file),
    { dbName },
  );
  return { repoDir, poolDir, dbName, files, published };
}

/**
 * Copies package files into the repository and adds them to its db with `repo-add`; an entry of
 * the same name is replaced (with `removeOld`, repo-add also deletes the replaced file: the
 * distribution no longer serves that version). Returns the repository paths.
 */
export async function publishPacmanPackages(
  repoDir: string,
  files: string[],
  options: { dbName?: string; removeOld?: boolean } = {},
): Promise<string[]> {
  const dbName = options.dbName ?? DEFAULT_PACMAN_DB_NAME;
  await mkdir(repoDir, { recursive: true });
  const published: string[] = [];
  for (const file of files) {
    const target = join(repoDir, basename(file));
    if (target !== file) await copyFile(file, target);
    published.push(target);
  }
  if (published.length === 0) return published;
  const flags = options.removeOld === true ? ['-q', '-R'] : ['-q'];
  await exec('repo-add', [...flags, join(repoDir, `${dbName}.db.tar.gz`), ...published]);
  return published;
}

/** Removes packages (by name) from the repository's db with `repo-remove`; their files stay. */
export async function unpublishPacmanPackages(
  repoDir: string,
  names: string[],
  options: { dbName?: string } = {},
): Promise<void> {
  const dbName = options.dbName ?? DEFAULT_PACMAN_DB_NAME;
  if (names.length === 0) return;
  try {
    await exec('repo-remove', ['-q', join(repoDir, `${dbName}.db.tar.gz`), ...names]);
  } catch (err) {
    throw new PatchwardenError(
      'LAB_REPO_REMOVE_FAILED',
      `repo-remove ${names.join(' ')} failed in ${repoDir}`,
      500,
      {
        cause: err,
      },
    );
  }
}
