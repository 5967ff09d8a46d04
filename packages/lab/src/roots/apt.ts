import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** A private apt/dpkg root: the layout `createAptDriver({ root })` expects. */
export interface AptRoot {
  root: string;
  /** `<root>/etc/apt/apt.conf`, the file to pass as `APT_CONFIG`. */
  aptConfig: string;
  /** `<root>/etc/apt/sources.list`. */
  sourcesList: string;
}

const DIRS = [
  'etc/apt/apt.conf.d',
  'etc/apt/preferences.d',
  'etc/apt/sources.list.d',
  'etc/apt/trusted.gpg.d',
  'var/lib/apt/lists/partial',
  'var/cache/apt/archives/partial',
  'var/log/apt',
  'var/lib/dpkg/info',
  'var/lib/dpkg/updates',
  'var/lib/dpkg/triggers',
  'var/lib/dpkg/alternatives',
  'run',
];

/**
 * Prepares an empty private root at `dir` whose apt reads only `<root>/etc/apt/apt.conf` (never
 * the host's `/etc/apt/apt.conf.d`) and installs with dpkg `--root=<root>`, logging to
 * `<root>/var/log/dpkg.log`, running maintainer scripts on the host with `DPKG_ROOT=<root>`
 * (`--force-script-chrootless`, so the root needs no `/bin/sh`) and `--force-not-root`. Each of
 * `repoDirs` is a flat unsigned repository (`deb [trusted=yes] file:<dir> ./`), as
 * `buildAptRepository` makes. Idempotent: rewrites the config files.
 */
export async function createAptRoot(dir: string, repoDirs: string | string[]): Promise<AptRoot> {
  const root = resolve(dir);
  for (const sub of DIRS) await mkdir(join(root, sub), { recursive: true });
  for (const file of ['var/lib/dpkg/status', 'var/lib/dpkg/available']) {
    await writeFile(join(root, file), '', { flag: 'a' });
  }
  const repos = (Array.isArray(repoDirs) ? repoDirs : [repoDirs]).map((repo) => resolve(repo));
  const sourcesList = join(root, 'etc/apt/sources.list');
  await writeFile(sourcesList, repos.map((repo) => `deb [trusted=yes] file:${repo} ./\n`).join(''));
  const aptConfig = join(root, 'etc/apt/apt.conf');
  await writeFile(aptConfig, aptConf(root));
  return { root, aptConfig, sourcesList };
}

function aptConf(root: string): string {
  const quoted = (value: string) => JSON.stringify(value);
  return [
    '// Written by the Patchwarden lab (createAptRoot). Read through APT_CONFIG, before any other file.',
    `Dir ${quoted(`${root}/`)};`,
    // Relative to Dir::Etc (etc/apt/): the host's /etc/apt/apt.conf.d is never read.
    'Dir::Etc::parts "apt.conf.d";',
    `Dir::State::status ${quoted(`${root}/var/lib/dpkg/status`)};`,
    'Dir::Bin::dpkg "/usr/bin/dpkg";',
    `DPkg::Options:: ${quoted(`--root=${root}`)};`,
    // dpkg logs to the host's /var/log/dpkg.log even with --root.
    `DPkg::Options:: ${quoted(`--log=${root}/var/log/dpkg.log`)};`,
    'DPkg::Options:: "--force-script-chrootless";',
    'DPkg::Options:: "--force-not-root";',
    'DPkg::Options:: "--force-confdef";',
    'DPkg::Options:: "--force-confold";',
    'DPkg::Use-Pty "false";',
    // The binary caches are validated by the status file's mtime (1 s) and size: stale when dpkg
    // runs directly within the same second.
    'Dir::Cache::pkgcache "";',
    'Dir::Cache::srcpkgcache "";',
    'APT::Sandbox::User "root";',
    'APT::Get::AllowUnauthenticated "true";',
    'APT::Install-Recommends "false";',
    'APT::Install-Suggests "false";',
    'Acquire::Languages "none";',
    'Acquire::GzipIndexes "false";',
    '',
  ].join('\n');
}
