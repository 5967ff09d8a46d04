import { describe, expect, it } from 'vitest';
import { hasComparableEcosystemRanges, osvEcosystem } from './ecosystem.js';

describe('advisories/osv: osvEcosystem', () => {
  it.each`
    text                                                          | ecosystem | distro                   | release    | stream                 | nameKind
    ${'Debian:12'}                                                | ${'deb'}  | ${'debian'}              | ${'12'}    | ${null}                | ${'source'}
    ${'Debian:7'}                                                 | ${'deb'}  | ${'debian'}              | ${'7'}     | ${null}                | ${'source'}
    ${'Ubuntu:22.04:LTS'}                                         | ${'deb'}  | ${'ubuntu'}              | ${'22.04'} | ${null}                | ${'source'}
    ${'Ubuntu:24.10'}                                             | ${'deb'}  | ${'ubuntu'}              | ${'24.10'} | ${null}                | ${'source'}
    ${'Ubuntu:Pro:18.04:LTS'}                                     | ${'deb'}  | ${'ubuntu'}              | ${'18.04'} | ${'pro'}               | ${'source'}
    ${'Ubuntu:Pro:FIPS:18.04:LTS'}                                | ${'deb'}  | ${'ubuntu'}              | ${'18.04'} | ${'fips'}              | ${'source'}
    ${'Ubuntu:Pro:FIPS-updates:22.04:LTS'}                        | ${'deb'}  | ${'ubuntu'}              | ${'22.04'} | ${'fips-updates'}      | ${'source'}
    ${'Ubuntu:Pro:FIPS-preview:22.04:LTS'}                        | ${'deb'}  | ${'ubuntu'}              | ${'22.04'} | ${'fips-preview'}      | ${'source'}
    ${'Ubuntu:22.04:LTS:Realtime:Kernel'}                         | ${'deb'}  | ${'ubuntu'}              | ${'22.04'} | ${'realtime:kernel'}   | ${'source'}
    ${'Alpine:v3.19'}                                             | ${'apk'}  | ${'alpine'}              | ${'3.19'}  | ${null}                | ${'source'}
    ${'AlmaLinux:9'}                                              | ${'rpm'}  | ${'almalinux'}           | ${'9'}     | ${null}                | ${'binary'}
    ${'Rocky Linux:9'}                                            | ${'rpm'}  | ${'rocky'}               | ${'9'}     | ${null}                | ${'binary'}
    ${'Red Hat:enterprise_linux:9::appstream'}                    | ${'rpm'}  | ${'rhel'}                | ${'9'}     | ${null}                | ${'binary'}
    ${'Red Hat:enterprise_linux:8::baseos'}                       | ${'rpm'}  | ${'rhel'}                | ${'8'}     | ${null}                | ${'binary'}
    ${'Red Hat:rhel_eus:9.2::appstream'}                          | ${'rpm'}  | ${'rhel'}                | ${'9'}     | ${'eus-9.2'}           | ${'binary'}
    ${'SUSE:Linux Enterprise Server 15 SP5'}                      | ${'rpm'}  | ${'sles'}                | ${'15.5'}  | ${null}                | ${'binary'}
    ${'SUSE:Linux Enterprise Server 15'}                          | ${'rpm'}  | ${'sles'}                | ${'15'}    | ${null}                | ${'binary'}
    ${'SUSE:Linux Enterprise Server 12 SP5-LTSS'}                 | ${'rpm'}  | ${'sles'}                | ${'12.5'}  | ${'ltss'}              | ${'binary'}
    ${'SUSE:Linux Enterprise Server for SAP Applications 15 SP4'} | ${'rpm'}  | ${'sles_sap'}            | ${'15.4'}  | ${null}                | ${'binary'}
    ${'SUSE:Linux Enterprise Desktop 15 SP5'}                     | ${'rpm'}  | ${'sled'}                | ${'15.5'}  | ${null}                | ${'binary'}
    ${'SUSE:Linux Enterprise Module for Basesystem 15 SP5'}       | ${'rpm'}  | ${'sles'}                | ${'15.5'}  | ${'module-basesystem'} | ${'binary'}
    ${'SUSE:Linux Enterprise Micro 5.5'}                          | ${'rpm'}  | ${'sle-micro'}           | ${'5.5'}   | ${null}                | ${'binary'}
    ${'openSUSE:Leap 15.5'}                                       | ${'rpm'}  | ${'opensuse-leap'}       | ${'15.5'}  | ${null}                | ${'binary'}
    ${'openSUSE:Leap Micro 5.5'}                                  | ${'rpm'}  | ${'opensuse-leap-micro'} | ${'5.5'}   | ${null}                | ${'binary'}
    ${'openSUSE:Tumbleweed'}                                      | ${'rpm'}  | ${'opensuse-tumbleweed'} | ${null}    | ${null}                | ${'binary'}
  `(
    '$text -> $ecosystem $distro $release $stream',
    ({ text, ecosystem, distro, release, stream, nameKind }) => {
      expect(osvEcosystem(text)).toEqual({ ecosystem, scope: { distro, release, stream }, nameKind });
    },
  );

  it.each(['npm', 'PyPI', 'Go', 'crates.io', 'Maven', 'RubyGems', 'NuGet', 'Packagist', 'Hex', 'Pub'])(
    'application ecosystem %s is semver with no scope',
    (text) => {
      expect(osvEcosystem(text)).toEqual({ ecosystem: 'semver', scope: null, nameKind: 'binary' });
    },
  );

  it.each([
    'Arch Linux',
    'Debian',
    'Debian:bookworm',
    'debian:12',
    'Ubuntu:22.04:',
    'Ubuntu:Pro',
    'Ubuntu:22.4:LTS',
    'Alpine:3.19',
    'Alpine:v3',
    'AlmaLinux:9.3',
    'Red Hat:openshift:4.14::el9',
    'Red Hat:enterprise_linux',
    'SUSE:Linux Enterprise High Performance Computing 15 SP5 LTSS',
    'openSUSE:Leap',
    'OSS-Fuzz',
    'Android',
    'GIT',
    'Linux',
    '',
  ])('%j is not an ecosystem Patchwarden matches', (text) => {
    expect(osvEcosystem(text)).toBeNull();
  });

  it('knows which ECOSYSTEM ranges it can compare', () => {
    expect(['Debian:12', 'npm', 'Go', 'crates.io', 'Hex'].every(hasComparableEcosystemRanges)).toBe(true);
    expect(
      ['PyPI', 'Maven', 'RubyGems', 'NuGet', 'Packagist', 'Pub'].some(hasComparableEcosystemRanges),
    ).toBe(false);
  });
});
