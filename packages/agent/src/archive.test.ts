import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRollbackArchive } from './archive.js';

describe('rollback archive', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pw-archive-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A job's archive as `keep` leaves it: one file of `bytes` and its manifest, dated `ageSeconds` ago. */
  async function archived(job: string, version: string, bytes: number, ageSeconds: number): Promise<void> {
    const jobDir = join(dir, job);
    await mkdir(jobDir);
    const file = join(jobDir, `pkg_${version}_all.deb`);
    await writeFile(file, Buffer.alloc(bytes));
    const manifest = join(jobDir, 'manifest.json');
    await writeFile(manifest, JSON.stringify([{ name: 'pkg', architecture: 'all', version, file }]));
    const at = new Date(Date.now() - ageSeconds * 1000);
    await utimes(manifest, at, at);
  }

  it('finds the newest kept file of an exact version', async () => {
    await archived('job-a', '1.0', 10, 30);
    await archived('job-b', '1.1', 10, 20);
    const archive = openRollbackArchive(dir);

    expect((await archive.find({ name: 'pkg', version: '1.0' }))?.file).toBe(
      join(dir, 'job-a', 'pkg_1.0_all.deb'),
    );
    expect(await archive.find({ name: 'pkg', version: '9.9' })).toBeNull();
    expect(await archive.find({ name: 'pkg', version: '1.1', architecture: 'amd64' })).toBeNull();
  });

  it('keeps at most maxJobs jobs and maxBytes, oldest out first, the newest always', async () => {
    await archived('job-1', '1', 400, 40);
    await archived('job-2', '2', 400, 30);
    await archived('job-3', '3', 400, 20);
    await archived('job-4', '4', 400, 10);

    await openRollbackArchive(dir, { maxJobs: 3, maxBytes: 10_000 }).prune();
    const afterCount = (await readdir(dir)).sort();
    await openRollbackArchive(dir, { maxJobs: 10, maxBytes: 900 }).prune();
    const afterBytes = (await readdir(dir)).sort();
    await openRollbackArchive(dir, { maxJobs: 10, maxBytes: 1 }).prune();

    expect(afterCount).toEqual(['job-2', 'job-3', 'job-4']);
    expect(afterBytes).toEqual(['job-3', 'job-4']);
    expect(await readdir(dir)).toEqual(['job-4']);
  });
});
