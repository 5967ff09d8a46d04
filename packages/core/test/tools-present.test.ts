import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The differential tests skip when a real tool is missing; `.ci/run` sets PATCHWARDEN_REQUIRE_TOOLS=1 so that in CI
// a missing tool fails here instead of letting those tests skip unseen.
const required = process.env.PATCHWARDEN_REQUIRE_TOOLS === '1';

function works(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!required)(
  'the real tools the differential tests compare against (PATCHWARDEN_REQUIRE_TOOLS=1)',
  () => {
    it.each`
      tool               | command               | args
      ${'dpkg'}          | ${'dpkg'}             | ${['--compare-versions', '1.0', 'lt', '1.1']}
      ${'pacman vercmp'} | ${'vercmp'}           | ${['1.0', '1.1']}
      ${'python3-apt'}   | ${'/usr/bin/python3'} | ${['-c', 'import apt_pkg']}
      ${'python3-rpm'}   | ${'/usr/bin/python3'} | ${['-c', 'import rpm']}
    `('$tool is installed', ({ command, args }) => {
      expect(works(command, args)).toBe(true);
    });
  },
);
