import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InstalledPackage } from '@patchwarden/core';
import { describe, expect, it } from 'vitest';
import { newestRpmKernel, readRebootState } from './reboot.js';

function kernel(version: string): InstalledPackage {
  return { name: 'kernel-core', version, architecture: 'x86_64', source: null, ecosystem: 'rpm' };
}

describe('reboot', () => {
  it('reads Debian’s /run/reboot-required and its package list in a root', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pw-reboot-'));
    try {
      const none = await readRebootState({ manager: 'apt', root, runningKernel: '6.1.0', inventory: [] });
      await mkdir(join(root, 'run'));
      await writeFile(join(root, 'run/reboot-required'), '*** System restart required ***\n');
      await writeFile(join(root, 'run/reboot-required.pkgs'), 'linux-image-amd64\nlibc6\nlibc6\n');

      const required = await readRebootState({ manager: 'apt', root, runningKernel: '6.1.0', inventory: [] });

      expect(none).toEqual({ isRebootRequired: false, packages: [] });
      expect(required).toEqual({ isRebootRequired: true, packages: ['linux-image-amd64', 'libc6'] });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('compares the running kernel with the newest installed RPM kernel', async () => {
    const inventory = [kernel('5.14.0-362.8.1.el9_3'), kernel('5.14.0-427.13.1.el9_4')];
    const current = '5.14.0-427.13.1.el9_4.x86_64';

    const upToDate = await readRebootState({
      manager: 'dnf',
      root: '/nonexistent',
      runningKernel: current,
      inventory,
    });
    const stale = await readRebootState({
      manager: 'dnf',
      root: '/nonexistent',
      runningKernel: '5.14.0-362.8.1.el9_3.x86_64',
      inventory,
    });

    expect(newestRpmKernel(inventory)).toEqual({ name: 'kernel-core', release: current });
    expect(upToDate.isRebootRequired).toBe(false);
    expect(stale).toEqual({ isRebootRequired: true, packages: ['kernel-core'] });
  });
});
