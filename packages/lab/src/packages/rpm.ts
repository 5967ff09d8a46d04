import { execFile } from 'node:child_process';
import {
  access,
  constants,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { PatchwardenError } from '@patchwarden/core';

const execFileAsync = promisify(execFile);

/** PATH for the rpm tools; fixed so that nothing here depends on the caller's environment. */
export const LAB_TOOL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * One tiny noarch rpm. Its payload is `/usr/share/<name>/VERSION` (text `<name> <evr>`) plus
 * `files`; scriptlets are Lua (`-p <lua>`), which rpm runs itself, so the package needs no
 * `/bin/sh` inside the root (a shell scriptlet would add an unsatisfiable `Requires: /bin/sh`).
 */
export interface RpmPackageDefinition {
  name: string;
  /** rpm VERSION, without release or epoch (no `-`). */
  version: string;
  /** rpm RELEASE; default `1`. */
  release?: string;
  /** Default: none (epoch 0). */
  epoch?: number | null;
  summary?: string;
  /** `Requires:` entries as rpm writes them (`pw-lib >= 1.0`). */
  requires?: string[];
  provides?: string[];
  conflicts?: string[];
  obsoletes?: string[];
  /**
   * A Lua scriptlet that fails on purpose. `pre` aborts the package's installation (dnf exits 1,
   * zypper 8, rpm 1, nothing changes); `post` only warns (dnf, rpm and zypper 1.14 all exit 0 and
   * the package stays installed).
   */
  failingScript?: 'pre' | 'post' | null;
  /**
   * A package whose installation needs a reboot (a kernel stand-in): it provides
   * `installhint(reboot-needed)` (zypper then touches `/run/reboot-needed` in the root) and its
   * `%post` writes `/run/reboot-required` and appends its name to `/run/reboot-required.pkgs`
   * inside the root (the Debian convention, which the agent also reads).
   */
  rebootRequired?: boolean;
  /** Extra payload: absolute path in the root → file content. */
  files?: Record<string, string>;
}

/** A built package file. */
export interface BuiltRpm {
  name: string;
  /** `[epoch:]version-release`, as `@patchwarden/core`'s rpm ecosystem writes it. */
  version: string;
  architecture: 'noarch';
  /** Absolute path of the `.rpm`. */
  path: string;
  fileName: string;
}

/** A local rpm-md repository made by createrepo_c. */
export interface RpmRepository {
  dir: string;
  /** `file://` URL for `baseurl=` (dnf) and `zypper addrepo`. */
  url: string;
  /** The package files it holds, by file name. */
  files: string[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const VERSION_PART = /^[A-Za-z0-9._+~^]+$/;
const DEPENDENCY = /^[^\n\r]+$/;
const FILE_PATH = /^\/[A-Za-z0-9._+/-]+$/;

/** The tools `buildRpmPackages` and `createRpmRepository` need. */
export const RPM_BUILD_TOOLS = ['rpm', 'rpmbuild', 'createrepo_c'] as const;

/** Which of `tools` are not on `LAB_TOOL_PATH` (empty when all are present). */
export async function missingTools(tools: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const tool of tools) {
    if (!(await isOnPath(tool))) missing.push(tool);
  }
  return missing;
}

async function isOnPath(tool: string): Promise<boolean> {
  for (const dir of LAB_TOOL_PATH.split(':')) {
    try {
      await access(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      // Not in this directory; try the next one.
    }
  }
  return false;
}

/**
 * The `.rpmmacros` every rpm tool of the lab reads from its private `HOME`. Debian's rpm sets
 * `%_dbpath` to `~/.rpmdb` (it follows `$HOME`); pinning it to `/var/lib/rpm` puts the database of a
 * root at `<root>/var/lib/rpm`, where rpm, dnf and zypper all look with this HOME.
 */
export function rpmMacrosText(extra: Record<string, string> = {}): string {
  const lines = ['%_dbpath /var/lib/rpm', '%debug_package %{nil}'];
  for (const [name, value] of Object.entries(extra)) lines.push(`%${name} ${value}`);
  return `${lines.join('\n')}\n`;
}

/** Writes `<home>/.rpmmacros` (see `rpmMacrosText`), creating `home`. */
export async function writeRpmMacros(home: string, extra: Record<string, string> = {}): Promise<void> {
  await mkdir(home, { recursive: true });
  await writeFile(join(home, '.rpmmacros'), rpmMacrosText(extra));
}

/** The environment for rpm tools run with the private `home` (see `writeRpmMacros`). */
export function rpmToolEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: LAB_TOOL_PATH, HOME: home, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };
}

/** `[epoch:]version-release` of a definition. */
export function rpmEvr(definition: RpmPackageDefinition): string {
  const epoch = definition.epoch ? `${definition.epoch}:` : '';
  return `${epoch}${definition.version}-${definition.release ?? '1'}`;
}

/**
 * Builds the packages with one `rpmbuild -bb` run over generated spec files and moves them into
 * `outDir` (created). Work files go to a temporary directory that is removed afterwards. Throws
 * PatchwardenError `INVALID_PACKAGE_DEFINITION` before building anything when a definition is
 * unusable, and `RPMBUILD_FAILED` (with rpmbuild's stderr) when rpmbuild fails.
 */
export async function buildRpmPackages(
  definitions: readonly RpmPackageDefinition[],
  outDir: string,
): Promise<BuiltRpm[]> {
  for (const definition of definitions) validateDefinition(definition);
  await mkdir(outDir, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'pw-rpmbuild-'));
  try {
    const home = join(work, 'home');
    const topdir = join(work, 'rpmbuild');
    await writeRpmMacros(home, { _topdir: topdir });
    const specs: string[] = [];
    for (const [index, definition] of definitions.entries()) {
      const stage = join(work, 'stage', String(index));
      const payload = payloadOf(definition);
      for (const [path, content] of Object.entries(payload)) {
        await mkdir(dirname(join(stage, path)), { recursive: true });
        await writeFile(join(stage, path), content);
      }
      const spec = join(work, `${index}-${definition.name}.spec`);
      await writeFile(spec, specText(definition, stage, Object.keys(payload)));
      specs.push(spec);
    }
    if (specs.length > 0) {
      try {
        await execFileAsync('rpmbuild', ['--quiet', '-bb', ...specs], {
          env: rpmToolEnv(home),
          cwd: work,
          maxBuffer: 16 * 1024 * 1024,
        });
      } catch (err) {
        const stderr = (err as { stderr?: string }).stderr ?? '';
        throw new PatchwardenError('RPMBUILD_FAILED', `rpmbuild failed: ${stderr.trim()}`, 500, {
          cause: err,
        });
      }
    }
    const built: BuiltRpm[] = [];
    for (const definition of definitions) {
      const fileName = `${definition.name}-${definition.version}-${definition.release ?? '1'}.noarch.rpm`;
      const path = join(outDir, fileName);
      await moveFile(join(topdir, 'RPMS', 'noarch', fileName), path);
      built.push({
        name: definition.name,
        version: rpmEvr(definition),
        architecture: 'noarch',
        path,
        fileName,
      });
    }
    return built;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Makes `dir` (created) an rpm-md repository holding copies of `packageFiles` plus any `.rpm`
 * already there, by running `createrepo_c`. Call it again after adding or deleting files (e.g. to
 * drop an old version that a rollback must then restore from the agent's archive).
 */
export async function createRpmRepository(
  dir: string,
  packageFiles: readonly string[] = [],
): Promise<RpmRepository> {
  await mkdir(dir, { recursive: true });
  for (const file of packageFiles) await copyFile(file, join(dir, basename(file)));
  try {
    await execFileAsync('createrepo_c', ['--quiet', '--no-database', dir], { env: { PATH: LAB_TOOL_PATH } });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new PatchwardenError('CREATEREPO_FAILED', `createrepo_c ${dir} failed: ${stderr.trim()}`, 500, {
      cause: err,
    });
  }
  const files = (await readdir(dir)).filter((name) => name.endsWith('.rpm')).sort();
  return { dir, url: `file://${dir}`, files };
}

/**
 * The lab's standard rpm package set: `pw-hello` 1.0, 1.1 and 2.0 (2.0 needs the new `pw-lib`),
 * `pw-openssl` 3.0.1/3.0.2/3.0.7 (older ones are the targets of lab advisories), `pw-broken` whose
 * `%pre` fails on purpose, `pw-kernel` 6.1.0/6.1.1 that needs a reboot, and `pw-needs-missing`
 * whose dependency nothing provides.
 */
export function standardRpmSet(): RpmPackageDefinition[] {
  return [
    { name: 'pw-hello', version: '1.0' },
    { name: 'pw-hello', version: '1.1' },
    { name: 'pw-hello', version: '2.0', requires: ['pw-lib >= 1.0'] },
    { name: 'pw-lib', version: '1.0' },
    { name: 'pw-openssl', version: '3.0.1' },
    { name: 'pw-openssl', version: '3.0.2' },
    { name: 'pw-openssl', version: '3.0.7' },
    { name: 'pw-broken', version: '1.0' },
    { name: 'pw-broken', version: '1.1', failingScript: 'pre' },
    { name: 'pw-kernel', version: '6.1.0', rebootRequired: true },
    { name: 'pw-kernel', version: '6.1.1', rebootRequired: true },
    { name: 'pw-needs-missing', version: '1.0', requires: ['pw-not-in-any-repo'] },
  ];
}

function validateDefinition(definition: RpmPackageDefinition): void {
  const problems: string[] = [];
  if (!NAME.test(definition.name))
    problems.push(`name ${JSON.stringify(definition.name)} is not an rpm name`);
  if (!VERSION_PART.test(definition.version)) {
    problems.push(`version ${JSON.stringify(definition.version)} must be non-empty without '-'`);
  }
  const release = definition.release ?? '1';
  if (!VERSION_PART.test(release))
    problems.push(`release ${JSON.stringify(release)} must be non-empty without '-'`);
  if (definition.epoch != null && (!Number.isInteger(definition.epoch) || definition.epoch < 0)) {
    problems.push(`epoch ${definition.epoch} must be a non-negative integer`);
  }
  const dependencies = [
    ...(definition.requires ?? []),
    ...(definition.provides ?? []),
    ...(definition.conflicts ?? []),
    ...(definition.obsoletes ?? []),
  ];
  for (const dependency of dependencies) {
    if (!DEPENDENCY.test(dependency))
      problems.push(`dependency ${JSON.stringify(dependency)} must be one line`);
  }
  for (const path of Object.keys(definition.files ?? {})) {
    if (!FILE_PATH.test(path) || path.split('/').includes('..')) {
      problems.push(`file path ${JSON.stringify(path)} must be absolute, without spaces or '..'`);
    }
  }
  if (problems.length > 0) {
    throw new PatchwardenError(
      'INVALID_PACKAGE_DEFINITION',
      `rpm package ${definition.name}: ${problems.join('; ')}`,
      400,
    );
  }
}

function payloadOf(definition: RpmPackageDefinition): Record<string, string> {
  return {
    [`/usr/share/${definition.name}/VERSION`]: `${definition.name} ${rpmEvr(definition)}\n`,
    ...definition.files,
  };
}

function specText(definition: RpmPackageDefinition, stage: string, paths: string[]): string {
  const lines = [
    `Name: ${definition.name}`,
    `Version: ${definition.version}`,
    `Release: ${definition.release ?? '1'}`,
  ];
  if (definition.epoch) lines.push(`Epoch: ${definition.epoch}`);
  lines.push(
    `Summary: ${definition.summary ?? `Patchwarden lab package ${definition.name}`}`,
    'License: MIT',
    'BuildArch: noarch',
    'AutoReqProv: no',
  );
  for (const requirement of definition.requires ?? []) lines.push(`Requires: ${requirement}`);
  const provides = [...(definition.provides ?? [])];
  if (definition.rebootRequired) provides.push('installhint(reboot-needed)');
  for (const provide of provides) lines.push(`Provides: ${provide}`);
  for (const conflict of definition.conflicts ?? []) lines.push(`Conflicts: ${conflict}`);
  for (const obsolete of definition.obsoletes ?? []) lines.push(`Obsoletes: ${obsolete}`);
  lines.push(
    '%description',
    'A tiny package generated by the Patchwarden lab.',
    '%install',
    `mkdir -p %{buildroot}`,
    `cp -a '${stage}/.' %{buildroot}/`,
    '%files',
    ...paths,
  );
  const failure = (which: string) => `error("${definition.name} %${which} failing on purpose")`;
  if (definition.failingScript === 'pre') lines.push('%pre -p <lua>', failure('pre'));
  const post: string[] = [];
  if (definition.rebootRequired) {
    // rpm chroots into the root before running scriptlets, so these paths are inside the root.
    post.push(
      'posix.mkdir("/run")',
      'local flag = io.open("/run/reboot-required", "w")',
      'if flag then flag:write("*** System restart required ***\\n"); flag:close() end',
      'local list = io.open("/run/reboot-required.pkgs", "a")',
      `if list then list:write("${definition.name}\\n"); list:close() end`,
    );
  }
  if (definition.failingScript === 'post') post.push(failure('post'));
  if (post.length > 0) lines.push('%post -p <lua>', ...post);
  return `${lines.join('\n')}\n`;
}

async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to);
    await rm(from);
  }
}
