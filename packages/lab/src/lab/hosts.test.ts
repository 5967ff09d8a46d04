import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOsRelease } from '@patchwarden/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_MANAGERS, type LabManager, versionsForLevel } from '../catalog.js';
import { rpmToolEnv } from '../packages/rpm.js';
import { buildLabRepository, createLabRoot, LAB_TOOLS, nativeQuery } from './hosts.js';

function skipReasonOf(manager: LabManager): string | null {
  const missing = LAB_TOOLS[manager].filter(
    (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
  );
  if (missing.length > 0) return `missing ${missing.join(', ')}`;
  // dnf refuses to run without superuser privileges, even in an installroot.
  if (manager === 'dnf' && process.getuid?.() !== 0) return 'dnf needs root';
  return null;
}

/** name → version from the manager's own listing. */
function listed(manager: LabManager, root: string): Record<string, string> {
  const [command, ...args] = nativeQuery(manager, root);
  const env = manager === 'dnf' || manager === 'zypper' ? rpmToolEnv(join(root, 'root')) : process.env;
  const out = execFileSync(command ?? '', args, { encoding: 'utf8', env });
  const result: Record<string, string> = {};
  for (const line of out.trim().split('\n')) {
    if (manager === 'apt' || manager === 'pacman') {
      const [name, version] = line.split(/\s+/);
      if (name !== undefined && version !== undefined) result[name] = version;
    } else {
      // rpm -qa: name-version-release.arch
      const match = /^(.+)-([^-]+)-([^-]+)\.[^.]+$/.exec(line);
      if (match?.[1] !== undefined) result[match[1]] = `${match[2]}-${match[3]}`;
    }
  }
  return result;
}

const managers = LAB_MANAGERS.map((manager) => ({ manager, skipReason: skipReasonOf(manager) }));
if (process.env.PATCHWARDEN_REQUIRE_TOOLS === '1') {
  const skipped = managers.filter((m) => m.skipReason !== null);
  if (skipped.length > 0) {
    throw new Error(
      `PATCHWARDEN_REQUIRE_TOOLS=1 but ${skipped.map((m) => `${m.manager}: ${m.skipReason}`).join('; ')}`,
    );
  }
}

describe('lab/hosts createLabRoot with the real package managers', () => {
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'pw-lab-hosts-'));
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  for (const { manager, skipReason } of managers) {
    it.skipIf(skipReason !== null)(
      `${manager}: installs the exact versions of a patch level, presents its OS, leaves no reboot pending${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
      async () => {
        const repo = await buildLabRepository(manager, join(work, manager, 'repo'));
        const outdated = await createLabRoot(
          manager,
          join(work, manager, 'h1'),
          `lab-${manager}-01`,
          repo,
          'outdated',
        );
        const partial = await createLabRoot(
          manager,
          join(work, manager, 'h2'),
          `lab-${manager}-02`,
          repo,
          'partial',
        );

        for (const [created, level] of [
          [outdated, 'outdated'],
          [partial, 'partial'],
        ] as const) {
          const expected = Object.fromEntries(versionsForLevel(level).map((v) => [v.name, v.version]));
          expect(listed(manager, created.root)).toEqual(expected);
          expect(created.installed).toEqual(expected);
          // pw-kernel's script ran at install; a provisioned host has rebooted since.
          expect(existsSync(join(created.root, 'run/reboot-required'))).toBe(false);
          expect(readFileSync(join(created.root, 'etc/machine-id'), 'utf8').trim()).toBe(created.machineId);
        }
        expect(outdated.machineId).not.toBe(partial.machineId);
        const os = parseOsRelease(readFileSync(join(outdated.root, 'etc/os-release'), 'utf8'));
        expect(os.ecosystem).toBe(manager === 'apt' ? 'deb' : manager === 'pacman' ? 'alpm' : 'rpm');
        expect(readFileSync(join(partial.root, 'etc/hostname'), 'utf8')).toBe(`lab-${manager}-02\n`);
      },
    );
  }
});
