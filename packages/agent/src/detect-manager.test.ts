import { describe, expect, it } from 'vitest';
import { detectManager, managerForOsRelease } from './detect-manager.js';

describe('detect-manager', () => {
  it.each`
    osRelease                                            | expected
    ${'ID=debian\nVERSION_ID="12"\n'}                    | ${'apt'}
    ${'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n'} | ${'apt'}
    ${'ID="rocky"\nID_LIKE="rhel centos fedora"\n'}      | ${'dnf'}
    ${'ID=fedora\nVERSION_ID=40\n'}                      | ${'dnf'}
    ${'ID="opensuse-leap"\nID_LIKE="suse opensuse"\n'}   | ${'zypper'}
    ${'ID=arch\n'}                                       | ${'pacman'}
    ${'ID=alpine\nVERSION_ID=3.19.1\n'}                  | ${null}
  `('$osRelease → $expected', ({ osRelease, expected }) => {
    expect(managerForOsRelease(osRelease)).toBe(expected);
  });

  it('asks for --manager when the OS is unknown', () => {
    expect(() => detectManager('ID=alpine\n')).toThrow(/pass --manager/);
  });
});
