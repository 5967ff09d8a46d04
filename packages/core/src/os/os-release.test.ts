import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InvalidInventoryError } from '../errors.js';
import type { OsIdentity } from '../types/inventory.js';
import { parseOsRelease, parseOsReleaseFields } from './index.js';

const here = dirname(fileURLToPath(import.meta.url));

function fixture(name: string): string {
  return readFileSync(resolve(here, '__fixtures__', name), 'utf8');
}

describe('os/os-release: distributions', () => {
  it.each<[string, OsIdentity]>([
    [
      'ubuntu-22.04',
      {
        family: 'debian',
        distro: 'ubuntu',
        version: '22.04',
        versionId: '22.04',
        codename: 'jammy',
        prettyName: 'Ubuntu 22.04.3 LTS',
        ecosystem: 'deb',
      },
    ],
    [
      'rocky-9.3',
      {
        family: 'rhel',
        distro: 'rocky',
        version: '9',
        versionId: '9.3',
        codename: null,
        prettyName: 'Rocky Linux 9.3 (Blue Onyx)',
        ecosystem: 'rpm',
      },
    ],
    [
      'almalinux-9.3',
      {
        family: 'rhel',
        distro: 'almalinux',
        version: '9',
        versionId: '9.3',
        codename: null,
        prettyName: 'AlmaLinux 9.3 (Shamrock Pampas Cat)',
        ecosystem: 'rpm',
      },
    ],
    [
      'rhel-9.3',
      {
        family: 'rhel',
        distro: 'rhel',
        version: '9',
        versionId: '9.3',
        codename: null,
        prettyName: 'Red Hat Enterprise Linux 9.3 (Plow)',
        ecosystem: 'rpm',
      },
    ],
    [
      'alpine-3.19.1',
      {
        family: 'alpine',
        distro: 'alpine',
        version: '3.19',
        versionId: '3.19.1',
        codename: null,
        prettyName: 'Alpine Linux v3.19',
        ecosystem: 'apk',
      },
    ],
    [
      'arch',
      {
        family: 'arch',
        distro: 'arch',
        version: null,
        versionId: null,
        codename: null,
        prettyName: 'Arch Linux',
        ecosystem: 'alpm',
      },
    ],
    [
      'opensuse-leap-15.5',
      {
        family: 'suse',
        distro: 'opensuse-leap',
        version: '15.5',
        versionId: '15.5',
        codename: null,
        prettyName: 'openSUSE Leap 15.5',
        ecosystem: 'rpm',
      },
    ],
    [
      'sles-15-sp5',
      {
        family: 'suse',
        distro: 'sles',
        version: '15.5',
        versionId: '15.5',
        codename: null,
        prettyName: 'SUSE Linux Enterprise Server 15 SP5',
        ecosystem: 'rpm',
      },
    ],
    [
      'debian-sid',
      {
        family: 'debian',
        distro: 'debian',
        version: null,
        versionId: null,
        codename: 'trixie',
        prettyName: 'Debian GNU/Linux trixie/sid',
        ecosystem: 'deb',
      },
    ],
    [
      'debian-13',
      {
        family: 'debian',
        distro: 'debian',
        version: '13',
        versionId: '13',
        codename: 'trixie',
        prettyName: 'Debian GNU/Linux 13 (trixie)',
        ecosystem: 'deb',
      },
    ],
    [
      'debian-8',
      {
        family: 'debian',
        distro: 'debian',
        version: '8',
        versionId: '8',
        codename: 'jessie',
        prettyName: 'Debian GNU/Linux 8 (jessie)',
        ecosystem: 'deb',
      },
    ],
  ])('%s', (name, expected) => {
    expect(parseOsRelease(fixture(name), name)).toEqual(expected);
  });

  it.each`
    text                                                                                   | family       | distro                   | version    | codename
    ${'ID=linuxmint\nID_LIKE="ubuntu debian"\nVERSION_ID="21.2"\nUBUNTU_CODENAME=jammy\n'} | ${'debian'}  | ${'linuxmint'}           | ${'21.2'}  | ${'jammy'}
    ${'ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\nVERSION="7 (Core)"\n'}          | ${'rhel'}    | ${'centos'}              | ${'7'}     | ${null}
    ${'ID="ol"\nID_LIKE="fedora"\nVERSION_ID="8.9"\n'}                                     | ${'rhel'}    | ${'ol'}                  | ${'8'}     | ${null}
    ${'ID=fedora\nVERSION_ID=39\n'}                                                        | ${'rhel'}    | ${'fedora'}              | ${'39'}    | ${null}
    ${'ID="amzn"\nID_LIKE="centos rhel fedora"\nVERSION_ID="2"\n'}                         | ${'rhel'}    | ${'amzn'}                | ${'2'}     | ${null}
    ${'ID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\nVERSION_ID="20240101"\n'}        | ${'suse'}    | ${'opensuse-tumbleweed'} | ${null}    | ${null}
    ${'ID=alpine\nVERSION_ID=3.20.0_alpha20240329\n'}                                      | ${'alpine'}  | ${'alpine'}              | ${null}    | ${null}
    ${'ID=alpine\nVERSION_ID=3.19\n'}                                                      | ${'alpine'}  | ${'alpine'}              | ${'3.19'}  | ${null}
    ${'ID=manjaro\nID_LIKE=arch\n'}                                                        | ${'arch'}    | ${'manjaro'}             | ${null}    | ${null}
    ${'ID=nixos\nVERSION_ID="23.11"\nVERSION_CODENAME=tapir\n'}                            | ${'unknown'} | ${'nixos'}               | ${'23.11'} | ${'tapir'}
    ${'NAME="Some OS"\n'}                                                                  | ${'unknown'} | ${'linux'}               | ${null}    | ${null}
    ${''}                                                                                  | ${'unknown'} | ${'linux'}               | ${null}    | ${null}
  `(
    'derives $distro: family $family, version $version',
    ({
      text,
      family,
      distro,
      version,
      codename,
    }: {
      text: string;
      family: string;
      distro: string;
      version: string | null;
      codename: string | null;
    }) => {
      const os = parseOsRelease(text);

      expect([os.family, os.distro, os.version, os.codename]).toEqual([family, distro, version, codename]);
    },
  );

  it('defaults the name to Linux and the ecosystem to null when nothing is known', () => {
    expect(parseOsRelease('')).toEqual({
      family: 'unknown',
      distro: 'linux',
      version: null,
      versionId: null,
      codename: null,
      prettyName: 'Linux',
      ecosystem: null,
    });
  });
});

describe('os/os-release: syntax (os-release(5))', () => {
  it.each`
    line                                 | value
    ${'A=plain'}                         | ${'plain'}
    ${'A="double quoted"'}               | ${'double quoted'}
    ${"A='single quoted'"}               | ${'single quoted'}
    ${'A="a \\"b\\" \\\\ \\$x \\`y\\`"'} | ${'a "b" \\ $x `y`'}
    ${'A="keeps \\n and \\q"'}           | ${'keeps \\n and \\q'}
    ${"A='no \\\\ escapes \\\"'"}        | ${'no \\\\ escapes \\"'}
    ${'A=esc\\ aped\\"'}                 | ${'esc aped"'}
    ${'A='}                              | ${''}
    ${'A=""'}                            | ${''}
    ${'A="$HOME"'}                       | ${'$HOME'}
    ${'A="x" # comment'}                 | ${'x'}
    ${'  A=indented  '}                  | ${'indented'}
    ${'A=bare with spaces'}              | ${'bare with spaces'}
    ${'A="has = sign"'}                  | ${'has = sign'}
    ${'A=x\r'}                           | ${'x'}
  `('$line -> $value', ({ line, value }: { line: string; value: string }) => {
    expect(parseOsReleaseFields(`# comment\n\n${line}\n`).get('A')).toBe(value);
  });

  it('lets a later assignment win', () => {
    expect(parseOsReleaseFields('ID=a\nID=b\n').get('ID')).toBe('b');
  });

  it.each`
    text                                | line | detail
    ${'ID=debian\nthis is not valid\n'} | ${2} | ${'expected KEY=value'}
    ${'ID=debian\n\n\nVERSION\n'}       | ${4} | ${'expected KEY=value'}
    ${'MY KEY=1\n'}                     | ${1} | ${'not a variable name'}
    ${'=1\n'}                           | ${1} | ${'not a variable name'}
    ${'1ID=1\n'}                        | ${1} | ${'not a variable name'}
    ${'ID="debian\n'}                   | ${1} | ${'no closing "'}
    ${"ID='debian\n"}                   | ${1} | ${"no closing '"}
    ${'ID="deb"ian\n'}                  | ${1} | ${'text after the closing quote'}
    ${'ID="deb""ian"\n'}                | ${1} | ${'text after the closing quote'}
    ${'ID=deb"ian"\n'}                  | ${1} | ${'bare and quoted'}
    ${'ID=debian\\\n'}                  | ${1} | ${'backslash'}
  `(
    'rejects line $line of $text',
    ({ text, line, detail }: { text: string; line: number; detail: string }) => {
      let error: unknown = null;
      try {
        parseOsRelease(text, '/etc/os-release');
      } catch (caught) {
        error = caught;
      }

      expect(error).toBeInstanceOf(InvalidInventoryError);
      expect((error as InvalidInventoryError).line).toBe(line);
      expect((error as InvalidInventoryError).message).toContain(`/etc/os-release:${line}: `);
      expect((error as InvalidInventoryError).message).toContain(detail);
    },
  );
});

const hostPath = '/etc/os-release';
const host = existsSync(hostPath) ? readFileSync(hostPath, 'utf8') : null;
const isBookworm = host !== null && /^ID=debian$/m.test(host) && /^VERSION_ID="12"$/m.test(host);

describe.skipIf(host === null)(`os/os-release: this machine's ${hostPath}`, () => {
  it('parses', () => {
    expect(() => parseOsRelease(host!, hostPath)).not.toThrow();
  });

  it.skipIf(!isBookworm)('is Debian 12 (bookworm) (skipped when this machine runs another OS)', () => {
    expect(parseOsRelease(host!, hostPath)).toMatchObject({
      family: 'debian',
      distro: 'debian',
      version: '12',
      versionId: '12',
      codename: 'bookworm',
      ecosystem: 'deb',
    });
  });
});
