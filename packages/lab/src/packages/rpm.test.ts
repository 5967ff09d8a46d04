import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDnfRoot } from '../roots/dnf.js';
import { createZypperRoot } from '../roots/zypper.js';
import {
  type BuiltRpm,
  buildRpmPackages,
  createRpmRepository,
  missingTools,
  RPM_BUILD_TOOLS,
  rpmToolEnv,
  standardRpmSet,
} from './rpm.js';

const execFileAsync = promisify(execFile);
const missing = await missingTools(RPM_BUILD_TOOLS);
const skipReason = missing.length > 0 ? `missing ${missing.join(', ')}` : null;
if (skipReason !== null && process.env.PATCHWARDEN_REQUIRE_TOOLS === '1') {
  throw new Error(`PATCHWARDEN_REQUIRE_TOOLS=1 but the rpm lab tests cannot run: ${skipReason}`);
}

async function query(args: string[], home: string): Promise<string> {
  const { stdout } = await execFileAsync('rpm', args, { env: rpmToolEnv(home) });
  return stdout;
}

describe.skipIf(skipReason !== null)(
  `lab/packages/rpm${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let work = '';
    let built: BuiltRpm[] = [];

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'pw-lab-rpm-test-'));
      built = await buildRpmPackages(
        [
          ...standardRpmSet(),
          {
            name: 'pw-epoch',
            version: '0.9',
            release: '3.lab',
            epoch: 2,
            provides: ['pw-virtual = 1'],
            conflicts: ['pw-hello < 1.1'],
            files: { '/etc/pw-epoch.conf': 'setting = 1\n' },
          },
        ],
        join(work, 'out'),
      );
    });

    afterAll(async () => {
      if (work !== '') await rm(work, { recursive: true, force: true });
    });

    it('builds one noarch rpm per definition with the requested header', async () => {
      const epoch = built.find((p) => p.name === 'pw-epoch');

      const header = await query(
        ['-qp', '--queryformat', '%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE} %{ARCH}\n', epoch?.path ?? ''],
        work,
      );
      const provides = await query(['-qp', '--provides', epoch?.path ?? ''], work);
      const conflicts = await query(['-qp', '--conflicts', epoch?.path ?? ''], work);
      const files = await query(['-qpl', epoch?.path ?? ''], work);

      expect(built).toHaveLength(standardRpmSet().length + 1);
      expect(built.every((p) => existsSync(p.path) && p.path.endsWith(p.fileName))).toBe(true);
      expect(epoch).toMatchObject({ version: '2:0.9-3.lab', fileName: 'pw-epoch-0.9-3.lab.noarch.rpm' });
      expect(header).toBe('pw-epoch 2:0.9-3.lab noarch\n');
      expect(provides).toContain('pw-virtual = 1');
      expect(conflicts.trim()).toBe('pw-hello < 1.1');
      expect(files.trim().split('\n').sort()).toEqual(['/etc/pw-epoch.conf', '/usr/share/pw-epoch/VERSION']);
    });

    it('writes the failing %pre, the reboot marker and the requirements into the packages', async () => {
      const path = (name: string, version: string) =>
        built.find((p) => p.name === name && p.version === version)?.path ?? '';

      const brokenScripts = await query(['-qp', '--scripts', path('pw-broken', '1.1-1')], work);
      const fineScripts = await query(['-qp', '--scripts', path('pw-broken', '1.0-1')], work);
      const kernelProvides = await query(['-qp', '--provides', path('pw-kernel', '6.1.1-1')], work);
      const kernelScripts = await query(['-qp', '--scripts', path('pw-kernel', '6.1.1-1')], work);
      const requires = await query(['-qp', '--requires', path('pw-hello', '2.0-1')], work);

      expect(brokenScripts).toContain('preinstall scriptlet (using <lua>)');
      expect(brokenScripts).toContain('error("pw-broken %pre failing on purpose")');
      expect(fineScripts).toBe('');
      expect(kernelProvides).toContain('installhint(reboot-needed)');
      expect(kernelScripts).toContain('/run/reboot-required');
      expect(requires).toContain('pw-lib >= 1.0');
      expect(requires).not.toContain('/bin/sh');
    });

    it('rejects unusable definitions before building anything', async () => {
      const out = join(work, 'rejected');

      const failure = buildRpmPackages(
        [
          { name: 'ok', version: '1.0' },
          { name: 'bad name', version: '1-0', files: { 'relative/path': '' } },
        ],
        out,
      );

      await expect(failure).rejects.toMatchObject({ code: 'INVALID_PACKAGE_DEFINITION', status: 400 });
      await expect(failure).rejects.toThrow(/"bad name".*version "1-0".*"relative\/path"/);
      expect(existsSync(join(out, 'ok-1.0-1.noarch.rpm'))).toBe(false);
    });

    it('makes an rpm-md repository holding every version, and re-indexes after a file is dropped', async () => {
      const dir = join(work, 'repo');

      const repo = await createRpmRepository(
        dir,
        built.filter((p) => p.name === 'pw-hello').map((p) => p.path),
      );
      const primaryBefore = await readFile(join(dir, 'repodata', 'repomd.xml'), 'utf8');
      await unlink(join(dir, 'pw-hello-1.0-1.noarch.rpm'));
      const after = await createRpmRepository(dir);

      expect(repo).toEqual({
        dir,
        url: `file://${dir}`,
        files: ['pw-hello-1.0-1.noarch.rpm', 'pw-hello-1.1-1.noarch.rpm', 'pw-hello-2.0-1.noarch.rpm'],
      });
      expect(primaryBefore).toContain('primary');
      expect(after.files).toEqual(['pw-hello-1.1-1.noarch.rpm', 'pw-hello-2.0-1.noarch.rpm']);
    });

    it('lays out empty dnf and zypper roots with their config and an empty rpm database inside', async () => {
      const repo = join(work, 'repo');
      const dnfRoot = await createDnfRoot(join(work, 'dnf-root'), repo);
      const zypperRoot = await createZypperRoot(join(work, 'zypper-root'), repo);

      const dnfRepo = await readFile(join(dnfRoot.reposDir, 'patchwarden-lab.repo'), 'utf8');
      const zypperRepo = await readFile(join(zypperRoot.reposDir, 'patchwarden-lab.repo'), 'utf8');
      const empty = await query(['--root', dnfRoot.root, '-qa'], dnfRoot.home);

      expect(dnfRoot).toEqual({
        root: join(work, 'dnf-root'),
        home: join(work, 'dnf-root', 'root'),
        configFile: join(work, 'dnf-root', 'etc', 'dnf', 'dnf.conf'),
        reposDir: join(work, 'dnf-root', 'etc', 'yum.repos.d'),
      });
      expect(await readFile(join(dnfRoot.home, '.rpmmacros'), 'utf8')).toContain('%_dbpath /var/lib/rpm');
      expect(dnfRepo).toContain(`baseurl=file://${repo}`);
      expect(zypperRepo).toContain(`baseurl=file:${repo}`);
      expect(zypperRepo).toContain('keeppackages=1');
      expect(existsSync(join(dnfRoot.root, 'var', 'lib', 'rpm'))).toBe(true);
      expect(existsSync(join(zypperRoot.root, 'var', 'lib', 'rpm'))).toBe(true);
      expect(existsSync(join(dnfRoot.root, 'root', '.rpmdb'))).toBe(false);
      expect(empty).toBe('');
    });
  },
);
