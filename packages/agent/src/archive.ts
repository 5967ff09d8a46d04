import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackageDriver, PackageSpec } from './drivers/types.js';
import { isNotFound, writeFileAtomic } from './state.js';

/** Archives kept (one per job that changed packages), newest first; older ones are deleted. */
export const DEFAULT_ARCHIVE_MAX_JOBS = 10;
/** Total size of the archive; the oldest job's files go first when it is exceeded. */
export const DEFAULT_ARCHIVE_MAX_BYTES = 512 * 1024 * 1024;

export interface ArchivedFile {
  name: string;
  architecture: string | null;
  version: string;
  /** Absolute path of the package file. */
  file: string;
}

export interface KeepReport {
  kept: ArchivedFile[];
  /** Packages whose file could not be had (neither cached nor in a repository), with why. */
  missing: Array<{ name: string; version: string; error: string }>;
}

/**
 * The rollback archive (`<state>/archive/<jobId>/`): before a job changes packages the agent copies
 * the package files of the versions installed *now* here (from the manager's cache, or downloaded
 * while the repository still has them), so a rollback can reinstall the exact previous version even
 * after the repository dropped it. Bounded by `maxJobs` and `maxBytes` (oldest first out).
 */
export interface RollbackArchive {
  keep(jobId: string, packages: PackageSpec[], driver: PackageDriver): Promise<KeepReport>;
  /** The newest archived file of exactly this version, or null. */
  find(spec: { name: string; version: string; architecture?: string | null }): Promise<ArchivedFile | null>;
  prune(): Promise<void>;
}

export function openRollbackArchive(
  dir: string,
  limits: { maxJobs?: number; maxBytes?: number } = {},
): RollbackArchive {
  const maxJobs = limits.maxJobs ?? DEFAULT_ARCHIVE_MAX_JOBS;
  const maxBytes = limits.maxBytes ?? DEFAULT_ARCHIVE_MAX_BYTES;

  /** Job folders, newest first. */
  async function jobDirs(): Promise<Array<{ path: string; mtimeMs: number }>> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    const dirs: Array<{ path: string; mtimeMs: number }> = [];
    for (const name of names) {
      const path = join(dir, name);
      try {
        const manifest = await stat(join(path, 'manifest.json'));
        dirs.push({ path, mtimeMs: manifest.mtimeMs });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return dirs.sort((a, b) => b.mtimeMs - a.mtimeMs);
  }

  async function manifest(path: string): Promise<ArchivedFile[]> {
    try {
      return JSON.parse(await readFile(join(path, 'manifest.json'), 'utf8')) as ArchivedFile[];
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  }

  async function prune(): Promise<void> {
    const dirs = await jobDirs();
    let total = 0;
    for (const [index, entry] of dirs.entries()) {
      let size = 0;
      for (const file of await manifest(entry.path)) {
        try {
          size += (await stat(file.file)).size;
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
      total += size;
      // The newest job's files are always kept, whatever their size.
      if (index > 0 && (index >= maxJobs || total > maxBytes)) {
        await rm(entry.path, { recursive: true, force: true });
      }
    }
  }

  return {
    async keep(jobId, packages, driver) {
      const target = join(dir, jobId.replace(/[^A-Za-z0-9._-]/g, '_'));
      await mkdir(target, { recursive: true, mode: 0o700 });
      const kept: ArchivedFile[] = [];
      const missing: KeepReport['missing'] = [];
      const record = (spec: PackageSpec, file: string) =>
        kept.push({ name: spec.name, architecture: spec.architecture ?? null, version: spec.version, file });
      try {
        // All at once first (one download run); one by one only when some file cannot be had.
        const files = await driver.fetchPackageFiles(packages, target);
        if (files.length === packages.length) {
          for (const [index, spec] of packages.entries()) record(spec, files[index] as string);
          await writeFileAtomic(join(target, 'manifest.json'), JSON.stringify(kept), 0o600);
          await prune();
          return { kept, missing };
        }
      } catch {
        // Some version is neither cached nor in a repository: find out which, below.
      }
      for (const spec of packages) {
        try {
          const [file] = await driver.fetchPackageFiles([spec], target);
          if (file !== undefined) {
            kept.push({
              name: spec.name,
              architecture: spec.architecture ?? null,
              version: spec.version,
              file,
            });
          }
        } catch (err) {
          missing.push({
            name: spec.name,
            version: spec.version,
            error: err instanceof Error ? err.message : String(err),
          });
        }
      }
      await writeFileAtomic(join(target, 'manifest.json'), JSON.stringify(kept), 0o600);
      await prune();
      return { kept, missing };
    },

    async find(spec) {
      for (const entry of await jobDirs()) {
        for (const file of await manifest(entry.path)) {
          if (file.name !== spec.name || file.version !== spec.version) continue;
          const arch = spec.architecture ?? null;
          if (arch !== null && file.architecture !== null && file.architecture !== arch) continue;
          try {
            await stat(file.file);
            return file;
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
        }
      }
      return null;
    },

    prune,
  };
}
