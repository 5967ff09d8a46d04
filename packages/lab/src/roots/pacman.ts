import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PatchwardenError } from '@patchwarden/core';
import { DEFAULT_PACMAN_DB_NAME } from '../packages/pacman.js';

const exec = promisify(execFile);

/** A private pacman root: the layout `createPacmanDriver({ root })` expects. */
export interface PacmanRoot {
  root: string;
  /** `<root>/etc/pacman.conf`. */
  config: string;
}

export interface PacmanRootOptions {
  /** The repository's db name (`[section]`). Default `lab`, as `buildPacmanRepository` uses. */
  dbName?: string;
  /**
   * Host programs copied into the root with the libraries `ldd` names, so that scriptlets (run by
   * pacman chrooted into the root with `/bin/sh`) work. Default: dash as `/bin/sh`, and `/bin/sleep`.
   * An empty list leaves the root without a shell: scriptlets then fail with "call to execv failed".
   */
  programs?: Array<{ from: string; to: string }>;
}

const DEFAULT_PROGRAMS = [
  { from: '/bin/dash', to: 'bin/sh' },
  { from: '/bin/sleep', to: 'bin/sleep' },
];

/**
 * Prepares a private root at `dir` with `<root>/etc/pacman.conf`: RootDir, DBPath, CacheDir,
 * LogFile, GPGDir and HookDir all inside the root, signatures off (`SigLevel = Never`), and one
 * repository `[dbName]` served from `repoDir` (`file://`). Idempotent: rewrites the config.
 */
export async function createPacmanRoot(
  dir: string,
  repoDir: string,
  options: PacmanRootOptions = {},
): Promise<PacmanRoot> {
  const root = resolve(dir);
  for (const sub of [
    'var/lib/pacman',
    'var/cache/pacman/pkg',
    'var/log',
    'etc/pacman.d/hooks',
    'run',
    'tmp',
  ]) {
    await mkdir(join(root, sub), { recursive: true });
  }
  for (const program of options.programs ?? DEFAULT_PROGRAMS)
    await copyProgram(root, program.from, program.to);
  const config = join(root, 'etc/pacman.conf');
  await writeFile(config, pacmanConf(root, resolve(repoDir), options.dbName ?? DEFAULT_PACMAN_DB_NAME));
  return { root, config };
}

function pacmanConf(root: string, repoDir: string, dbName: string): string {
  return [
    '# Written by the Patchwarden lab (createPacmanRoot).',
    '[options]',
    `RootDir = ${root}`,
    `DBPath = ${root}/var/lib/pacman/`,
    `CacheDir = ${root}/var/cache/pacman/pkg/`,
    `LogFile = ${root}/var/log/pacman.log`,
    `GPGDir = ${root}/etc/pacman.d/gnupg/`,
    `HookDir = ${root}/etc/pacman.d/hooks/`,
    'Architecture = auto',
    'SigLevel = Never',
    'LocalFileSigLevel = Never',
    '',
    `[${dbName}]`,
    'SigLevel = Never',
    `Server = file://${repoDir}`,
    '',
  ].join('\n');
}

async function copyProgram(root: string, from: string, to: string): Promise<void> {
  let libraries: string[];
  try {
    const { stdout } = await exec('ldd', [from]);
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" and "/lib64/ld-linux-x86-64.so.2 (0x…)".
    libraries = [...stdout.matchAll(/(?:=> )?(\/\S+) \(0x/g)].map((match) => match[1] ?? '');
  } catch (err) {
    throw new PatchwardenError(
      'LAB_PROGRAM_UNAVAILABLE',
      `cannot copy ${from} into ${root}: ldd failed`,
      500,
      {
        cause: err,
      },
    );
  }
  for (const library of libraries) {
    if (library === '') continue;
    const target = join(root, library);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(library, target);
  }
  const target = join(root, to);
  await mkdir(dirname(target), { recursive: true });
  await copyFile(from, target);
  await chmod(target, 0o755);
}
