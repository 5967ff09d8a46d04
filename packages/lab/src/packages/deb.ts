import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { PatchwardenError } from '@patchwarden/core';

const exec = promisify(execFile);

/** A tiny generated .deb for the lab and the driver tests. */
export interface DebPackageSpec {
  name: string;
  /** A Debian version (`1.0`, `1:2.0-3`). */
  version: string;
  /** Default `all`. */
  architecture?: string;
  /** Depends entries, each as written in a control file (`pms-lib (>= 1.0)`). */
  depends?: string[];
  /** Conflicts entries. */
  conflicts?: string[];
  /** This maintainer script prints a message and exits 1, on purpose. */
  failingScript?: 'preinst' | 'postinst' | null;
  /**
   * postinst marks the host as needing a reboot the Debian way: `$DPKG_ROOT/run/reboot-required`
   * and the package name appended to `$DPKG_ROOT/run/reboot-required.pkgs`.
   */
  requiresReboot?: boolean;
  /**
   * postinst first writes `$DPKG_ROOT/run/<name>.postinst-started`, then sleeps this many seconds
   * (lock and timeout tests); only the first time: a configure retried after a kill runs through.
   */
  postinstSleepSeconds?: number;
  /** Payload: path relative to `/` → content. Default: `usr/share/<name>/VERSION` holding "name version". */
  files?: Record<string, string>;
}

/**
 * The file name dpkg-deb and apt use for a package: `name_version_arch.deb`, the epoch dropped
 * (dpkg-name(1)).
 */
export function debFileName(spec: Pick<DebPackageSpec, 'name' | 'version' | 'architecture'>): string {
  const version = spec.version.replace(/^\d+:/, '');
  return `${spec.name}_${version}_${spec.architecture ?? 'all'}.deb`;
}

/**
 * Builds one package with `dpkg-deb --root-owner-group --build` into `outDir` and returns its path.
 * Maintainer scripts only touch `"$DPKG_ROOT"/…`, so they work with dpkg's
 * `--force-script-chrootless` in a private root (and on a real host, where DPKG_ROOT is empty).
 */
export async function buildDebPackage(spec: DebPackageSpec, outDir: string): Promise<string> {
  const stage = await mkdtemp(join(tmpdir(), 'pw-deb-'));
  try {
    await mkdir(join(stage, 'DEBIAN'), { recursive: true });
    const files = spec.files ?? { [`usr/share/${spec.name}/VERSION`]: `${spec.name} ${spec.version}\n` };
    for (const [path, content] of Object.entries(files)) {
      const target = join(stage, path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, content);
    }
    await writeFile(join(stage, 'DEBIAN', 'control'), controlFile(spec));
    for (const [script, body] of Object.entries(maintainerScripts(spec))) {
      const path = join(stage, 'DEBIAN', script);
      await writeFile(path, body);
      await chmod(path, 0o755);
    }
    await mkdir(outDir, { recursive: true });
    const out = join(outDir, debFileName(spec));
    await exec('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', stage, out]);
    return out;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

function controlFile(spec: DebPackageSpec): string {
  const lines = [
    `Package: ${spec.name}`,
    `Version: ${spec.version}`,
    `Architecture: ${spec.architecture ?? 'all'}`,
    'Maintainer: Patchwarden Lab <lab@example.invalid>',
    'Section: misc',
    'Priority: optional',
  ];
  if (spec.depends !== undefined && spec.depends.length > 0)
    lines.push(`Depends: ${spec.depends.join(', ')}`);
  if (spec.conflicts !== undefined && spec.conflicts.length > 0) {
    lines.push(`Conflicts: ${spec.conflicts.join(', ')}`);
  }
  lines.push(`Description: Patchwarden lab package ${spec.name}`);
  return `${lines.join('\n')}\n`;
}

function maintainerScripts(spec: DebPackageSpec): Record<string, string> {
  const scripts: Record<string, string[]> = {};
  const add = (script: string, lines: string[]) => {
    scripts[script] = [...(scripts[script] ?? []), ...lines];
  };
  if (spec.failingScript === 'preinst') {
    add('preinst', [`echo "${spec.name} preinst: failing on purpose" >&2`, 'exit 1']);
  }
  if (spec.postinstSleepSeconds !== undefined && spec.postinstSleepSeconds > 0) {
    const marker = `"$DPKG_ROOT/run/${spec.name}.postinst-started"`;
    add('postinst', [
      'mkdir -p "$DPKG_ROOT/run"',
      `if [ ! -e ${marker} ]; then`,
      `  echo $$ > ${marker}`,
      `  sleep ${spec.postinstSleepSeconds}`,
      'fi',
    ]);
  }
  if (spec.requiresReboot === true) {
    add('postinst', [
      'mkdir -p "$DPKG_ROOT/run"',
      `echo '*** System restart required ***' > "$DPKG_ROOT/run/reboot-required"`,
      `echo ${spec.name} >> "$DPKG_ROOT/run/reboot-required.pkgs"`,
    ]);
  }
  if (spec.failingScript === 'postinst') {
    add('postinst', [`echo "${spec.name} postinst: failing on purpose" >&2`, 'exit 1']);
  }
  const result: Record<string, string> = {};
  for (const [script, lines] of Object.entries(scripts)) {
    result[script] = ['#!/bin/sh', 'set -e', ...lines, 'exit 0', ''].join('\n');
  }
  return result;
}

/**
 * (Re)writes the index of a flat apt repository: `Packages` with every version of every package
 * (`dpkg-scanpackages --multiversion`; without it only the newest is listed) and a `Release` naming
 * its size and checksums (what `apt-ftparchive release` writes for a flat repository, written here so
 * the lab needs only dpkg-dev, not apt-utils). Clients use `deb [trusted=yes] file:<dir> ./`.
 */
export async function indexAptRepository(repoDir: string): Promise<void> {
  const { stdout } = await exec('dpkg-scanpackages', ['--multiversion', '.', '/dev/null'], {
    cwd: repoDir,
    maxBuffer: 64 * 1024 * 1024,
  });
  await writeFile(join(repoDir, 'Packages'), stdout);
  await writeFile(join(repoDir, 'Release'), releaseFile(Buffer.from(stdout), new Date()));
}

/** A flat repository's `Release` for one `Packages` file. */
function releaseFile(packages: Buffer, now: Date): string {
  const line = (algorithm: string) =>
    ` ${createHash(algorithm).update(packages).digest('hex')} ${packages.length} Packages`;
  return [
    `Date: ${now.toUTCString()}`,
    'MD5Sum:',
    line('md5'),
    'SHA1:',
    line('sha1'),
    'SHA256:',
    line('sha256'),
    'SHA512:',
    line('sha512'),
    '',
  ].join('\n');
}

export interface AptRepository {
  /** The flat repository directory (package files, `Packages`, `Release`). */
  dir: string;
  /** The package files built, in the order of the specs. */
  files: string[];
}

/** Builds every spec into `repoDir` (all versions kept) and indexes it. */
export async function buildAptRepository(repoDir: string, specs: DebPackageSpec[]): Promise<AptRepository> {
  await mkdir(repoDir, { recursive: true });
  const files: string[] = [];
  for (const spec of specs) files.push(await buildDebPackage(spec, repoDir));
  await indexAptRepository(repoDir);
  return { dir: repoDir, files };
}

/**
 * Drops package files from the repository (a version the distribution no longer serves) and
 * re-indexes it. `fileNames` are names inside `repoDir`, as `debFileName` gives them.
 */
export async function removeFromAptRepository(repoDir: string, fileNames: string[]): Promise<void> {
  const present = new Set(await readdir(repoDir));
  for (const name of fileNames) {
    if (!present.has(name))
      throw new PatchwardenError(
        'LAB_PACKAGE_FILE_MISSING',
        `${join(repoDir, name)} is not in the repository`,
        400,
      );
    await rm(join(repoDir, name));
  }
  await indexAptRepository(repoDir);
}
