import { alpm, rpm } from '@patchwarden/core/host';
import { describe, expect, it } from 'vitest';
import { diffRpmInventories } from './dnf/rpm.js';
import {
  assertNoDowngrade,
  diffInventories,
  nameAndArchitecture,
  type VersionedPackage,
} from './operation.js';

function pkg(name: string, version: string, architecture: string | null = 'x86_64'): VersionedPackage {
  return { name, version, architecture };
}

describe('drivers/operation', () => {
  it('lists installs, upgrades and removals by name, naming the package as it is after', () => {
    const before = [pkg('b-lib', '1.0'), pkg('a-tool', '1.0'), pkg('c-old', '0.5')];
    const after = [pkg('b-lib', '2.0'), pkg('a-tool', '1.0'), pkg('a-new', '1.0')];

    const changes = diffInventories(before, after, {
      identity: nameAndArchitecture,
      compareVersions: rpm.compare,
    });

    expect(changes).toEqual([
      { name: 'a-new', architecture: 'x86_64', from: null, to: '1.0' },
      { name: 'b-lib', architecture: 'x86_64', from: '1.0', to: '2.0' },
      { name: 'c-old', architecture: 'x86_64', from: '0.5', to: null },
    ]);
  });

  it('keys by name alone when the manager keeps one version per name (pacman)', () => {
    const changes = diffInventories([pkg('x', '1.0-1', 'any')], [pkg('x', '2.0-1', 'x86_64')], {
      identity: (p) => p.name,
      compareVersions: alpm.compare,
    });

    expect(changes).toEqual([{ name: 'x', architecture: 'x86_64', from: '1.0-1', to: '2.0-1' }]);
  });

  it('pairs the versions of an install-only package oldest first (rpm kernels)', () => {
    const before = [pkg('kernel', '6.1-1'), pkg('kernel', '6.2-1')];
    const after = [pkg('kernel', '6.2-1'), pkg('kernel', '6.10-1'), pkg('kernel', '6.3-1')];

    expect(diffRpmInventories(before, after)).toEqual([
      { name: 'kernel', architecture: 'x86_64', from: '6.1-1', to: '6.3-1' },
      { name: 'kernel', architecture: 'x86_64', from: null, to: '6.10-1' },
    ]);
  });

  it('refuses the first downgrade among the specs and lets upgrades and other architectures pass', () => {
    const installed = [pkg('a', '2.0', 'amd64'), pkg('b', '1.0', 'amd64')];

    expect(() =>
      assertNoDowngrade(
        [
          { name: 'a', version: '1.0', architecture: 'i386' },
          { name: 'b', version: '2.0' },
        ],
        installed,
        rpm.compare,
      ),
    ).not.toThrow();
    expect(() => assertNoDowngrade([{ name: 'a', version: '1.5' }], installed, rpm.compare)).toThrow(
      expect.objectContaining({
        code: 'DOWNGRADE_NOT_ALLOWED',
        status: 409,
        message: 'a 2.0 -> 1.5 is a downgrade; pass allowDowngrade',
      }),
    );
  });
});
