import { describe, expect, it } from 'vitest';
import { deb } from '../ecosystems/deb/index.js';
import type { Advisory, AffectedPackage, DistroScope } from '../types/advisory.js';
import type { InstalledPackage, OsIdentity } from '../types/inventory.js';
import {
  advisory,
  affected,
  context,
  DEBIAN_12,
  entry,
  inventory,
  os,
  pkg,
  range,
} from './__fixtures__/builders.js';
import { buildAdvisoryIndex, updateAdvisoryIndex } from './advisory-index.js';
import { createDetectionMemo, detect, detectFindings } from './detect.js';

const debian12 = os('debian', '12');

/** Findings of one package against some advisories, on `host`. */
function run(advisories: Advisory[], packages: InstalledPackage[], host: OsIdentity | null = debian12) {
  const index = buildAdvisoryIndex(advisories.map((adv) => entry(adv)));
  return detect(index, inventory(host, packages), context());
}

function onePackage(record: AffectedPackage, installed: InstalledPackage, host: OsIdentity = debian12) {
  return run([advisory({ id: 'CVE-2024-0001', affected: [record] })], [installed], host);
}

describe('detection/detect: ranges', () => {
  it.each`
    installed             | fixed                 | isAffected
    ${'3.0.11-1~deb12u1'} | ${'3.0.11-1~deb12u2'} | ${true}
    ${'3.0.11-1~deb12u2'} | ${'3.0.11-1~deb12u2'} | ${false}
    ${'3.0.11-1~deb12u3'} | ${'3.0.11-1~deb12u2'} | ${false}
    ${'3.0.11-1~deb12u2'} | ${'3.0.11-1'}         | ${true}
    ${'1.0~rc1-1'}        | ${'1.0-1'}            | ${true}
    ${'1.0-1'}            | ${'1.0~rc1-1'}        | ${false}
    ${'1:1.0-1'}          | ${'2.0-1'}            | ${false}
    ${'2.0-1'}            | ${'1:1.0-1'}          | ${true}
    ${'0:2.0-1'}          | ${'2.0-1'}            | ${false}
    ${'1.2.10-1'}         | ${'1.2.9-1'}          | ${false}
    ${'1.0+deb12u1'}      | ${'1.0+deb12u10'}     | ${true}
  `('deb installed $installed, fixed $fixed: affected $isAffected', ({ installed, fixed, isAffected }) => {
    const { findings } = onePackage(
      affected({ name: 'openssl', ranges: [range({ fixed })] }),
      pkg('openssl', installed),
    );

    expect(findings.length).toBe(isAffected ? 1 : 0);
    if (isAffected) {
      expect(findings[0]!.evidence[0]!.comparison).toBe(`installed ${installed} < fixed ${fixed} (deb)`);
      expect(findings[0]!.fixedVersion).toBe(fixed);
      expect(findings[0]!.fixState).toBe('fix-available');
    }
  });

  // rpm -qa omits epoch 0; AlmaLinux fixed versions carry the epoch when it is not 0.
  it.each`
    installed                   | fixed                       | isAffected
    ${'1:2.06-28.el9'}          | ${'1:2.06-27.el9_0.7.alma'} | ${false}
    ${'2.06-28.el9'}            | ${'1:2.06-27.el9_0.7.alma'} | ${true}
    ${'1:2.06-27.el9_0.6.alma'} | ${'1:2.06-27.el9_0.7.alma'} | ${true}
    ${'5.14.0-611.5.1.el9_7'}   | ${'5.14.0-611.54.6.el9_7'}  | ${true}
    ${'0:1.0-2.el9'}            | ${'1.0-2.el9'}              | ${false}
    ${'1.0-2.el9'}              | ${'0:1.0-2.el9'}            | ${false}
  `('rpm installed $installed, fixed $fixed: affected $isAffected', ({ installed, fixed, isAffected }) => {
    const alma9: DistroScope = { distro: 'almalinux', release: '9', stream: null };
    const record = affected({
      name: 'grub2-tools',
      ecosystem: 'rpm',
      scope: alma9,
      nameKind: 'binary',
      ranges: [range({ fixed })],
    });

    const { findings } = onePackage(
      record,
      pkg('grub2-tools', installed, { ecosystem: 'rpm', sourceName: 'grub2' }),
      os('almalinux', '9'),
    );

    expect(findings.length).toBe(isAffected ? 1 : 0);
  });

  it.each`
    installed  | isAffected | fixedVersion | comparison
    ${'1.1'}   | ${true}    | ${'1.2'}     | ${'installed 1.1 < fixed 1.2 (deb)'}
    ${'1.2'}   | ${false}   | ${null}      | ${null}
    ${'1.4'}   | ${false}   | ${null}      | ${null}
    ${'1.5'}   | ${true}    | ${'1.7'}     | ${'installed 1.5 >= introduced 1.5 and < fixed 1.7 (deb)'}
    ${'1.6.9'} | ${true}    | ${'1.7'}     | ${'installed 1.6.9 >= introduced 1.5 and < fixed 1.7 (deb)'}
    ${'1.7'}   | ${false}   | ${null}      | ${null}
    ${'2.0'}   | ${true}    | ${null}      | ${'installed 2.0 >= introduced 2.0 and <= last_affected 2.1 (deb)'}
    ${'2.1'}   | ${true}    | ${null}      | ${'installed 2.1 >= introduced 2.0 and <= last_affected 2.1 (deb)'}
    ${'2.1.1'} | ${false}   | ${null}      | ${null}
    ${'3.0'}   | ${true}    | ${null}      | ${'installed 3.0 >= introduced 3.0 and < limit 3.5, no fix (deb)'}
    ${'3.5'}   | ${false}   | ${null}      | ${null}
  `(
    'several intervals in one entry: $installed -> $comparison',
    ({ installed, isAffected, fixedVersion, comparison }) => {
      const record = affected({
        name: 'foo',
        ranges: [
          range({ fixed: '1.2' }),
          range({ introduced: '1.5', fixed: '1.7' }),
          range({ introduced: '2.0', lastAffected: '2.1' }),
          range({ introduced: '3.0', limit: '3.5' }),
        ],
      });

      const { findings } = onePackage(record, pkg('foo', installed));

      expect(findings.length).toBe(isAffected ? 1 : 0);
      if (isAffected) {
        expect(findings[0]!.fixedVersion).toBe(fixedVersion);
        expect(findings[0]!.evidence).toHaveLength(1);
        expect(findings[0]!.evidence[0]!.comparison).toBe(comparison);
      }
    },
  );

  it('treats introduced "0" as "from the first version"', () => {
    const { findings } = onePackage(
      affected({ name: 'foo', ranges: [range({ introduced: '0', fixed: '2.0' })] }),
      pkg('foo', '0~1'),
    );

    expect(findings).toHaveLength(1);
    expect(findings[0]!.evidence[0]!.comparison).toBe('installed 0~1 < fixed 2.0 (deb)');
  });

  it('matches last_affected inclusively, and calls it no fix yet', () => {
    const record = affected({ name: 'foo', ranges: [range({ lastAffected: '2.1-1' })] });

    const at = onePackage(record, pkg('foo', '2.1-1')).findings;
    const below = onePackage(record, pkg('foo', '2.0-1')).findings;
    const above = onePackage(record, pkg('foo', '2.1-2')).findings;

    expect(at[0]!.evidence[0]!.comparison).toBe('installed 2.1-1 <= last_affected 2.1-1 (deb)');
    expect(below[0]!.evidence[0]!.comparison).toBe('installed 2.0-1 <= last_affected 2.1-1 (deb)');
    expect(above).toEqual([]);
    expect(at[0]!.fixState).toBe('no-fix-yet');
    expect(at[0]!.fixedVersion).toBe(null);
  });

  it('matches an open range as unfixed, will-not-fix when the distribution says so', () => {
    const open = onePackage(affected({ name: 'foo', ranges: [range()] }), pkg('foo', '1.0-1')).findings;
    const ignored = onePackage(
      affected({ name: 'foo', ranges: [range()], noFixReason: 'ignored', urgency: 'unimportant' }),
      pkg('foo', '1.0-1'),
    ).findings;

    expect(open[0]!.fixState).toBe('no-fix-yet');
    expect(open[0]!.evidence[0]!.comparison).toBe('installed 1.0-1: every version affected, no fix (deb)');
    expect(ignored[0]!.fixState).toBe('will-not-fix');
    expect(ignored[0]!.urgencies).toEqual(['unimportant']);
  });

  it('combines versions[] and ranges with OR, comparing listed versions under the ecosystem', () => {
    const record = affected({
      name: 'foo',
      ranges: [range({ introduced: '2.0', fixed: '2.3' })],
      versions: ['0:1.2-1', '1.4-1'],
    });

    const listed = onePackage(record, pkg('foo', '1.2-1')).findings;
    const inRange = onePackage(record, pkg('foo', '2.1')).findings;
    const neither = onePackage(record, pkg('foo', '1.3-1')).findings;
    const epochDiffers = onePackage(record, pkg('foo', '1:1.4-1')).findings;

    expect(listed[0]!.evidence[0]!.comparison).toBe('installed 1.2-1 in versions list (deb)');
    expect(listed[0]!.evidence[0]!.range).toBe(null);
    expect(listed[0]!.fixedVersion).toBe('2.3');
    expect(inRange[0]!.evidence[0]!.comparison).toBe('installed 2.1 >= introduced 2.0 and < fixed 2.3 (deb)');
    expect(neither).toEqual([]);
    expect(epochDiffers).toEqual([]);
  });

  it('gives a listed version above every fixed version no fixed version', () => {
    const record = affected({ name: 'foo', ranges: [range({ fixed: '1.0' })], versions: ['3.0'] });

    const { findings } = onePackage(record, pkg('foo', '3.0'));

    expect(findings[0]!.fixedVersion).toBe(null);
    expect(findings[0]!.fixState).toBe('no-fix-yet');
  });

  it('matches a semver application package in any host by its ecosystem', () => {
    const record = affected({
      name: 'lodash',
      ecosystem: 'semver',
      scope: null,
      nameKind: 'binary',
      ranges: [range({ introduced: '2.0.0', lastAffected: '2.1.0' })],
    });
    const installed = pkg('lodash', '2.0.0', { ecosystem: 'semver', architecture: null });

    const onDebian = onePackage(record, installed).findings;
    const onAlma = onePackage(record, installed, os('almalinux', '9')).findings;

    expect(onDebian[0]!.evidence[0]!.comparison).toBe(
      'installed 2.0.0 >= introduced 2.0.0 and <= last_affected 2.1.0 (semver)',
    );
    expect(onDebian[0]!.evidence[0]!.scope).toBe('semver');
    expect(onAlma).toHaveLength(1);
  });
});

describe('detection/detect: lookups over shared versions', () => {
  // Versions repeat across records and are spelled differently but equal (`1.0-1`, `0:1.0-1`): the
  // table groups them into classes and locates the installed version once; results must not move.
  const records = [
    affected({ name: 'foo', ranges: [range({ fixed: '1.0-1' })] }),
    affected({ name: 'foo', ranges: [range({ fixed: '0:1.0-1' })] }),
    affected({ name: 'foo', ranges: [range({ introduced: '1.0-1', fixed: '2.0-1' })] }),
    affected({ name: 'foo', ranges: [range({ introduced: '0:0.5-1', fixed: '0:1.0-1' })] }),
    affected({
      name: 'foo',
      ranges: [range({ introduced: '2.5-1', fixed: '3.0-1' })],
      versions: ['0:1.0-1'],
    }),
    affected({ name: 'foo', ranges: [range({ lastAffected: '1.0-1' })] }),
    affected({ name: 'foo', ranges: [range({ introduced: '0.5-1' })] }),
  ].map((record, i) => advisory({ id: `CVE-2024-000${i + 1}`, affected: [record] }));

  it.each`
    installed    | ids                | fixedVersion | comparison
    ${'0.4-1'}   | ${[1, 2, 6]}       | ${'1.0-1'}   | ${'installed 0.4-1 < fixed 1.0-1 (deb)'}
    ${'0.5-1'}   | ${[1, 2, 4, 6, 7]} | ${'1.0-1'}   | ${'installed 0.5-1 >= introduced 0:0.5-1 and < fixed 0:1.0-1 (deb)'}
    ${'1.0-1'}   | ${[3, 5, 6, 7]}    | ${'3.0-1'}   | ${'installed 1.0-1 >= introduced 1.0-1 and < fixed 2.0-1 (deb)'}
    ${'0:1.0-1'} | ${[3, 5, 6, 7]}    | ${'3.0-1'}   | ${'installed 0:1.0-1 >= introduced 1.0-1 and < fixed 2.0-1 (deb)'}
    ${'1.5-1'}   | ${[3, 7]}          | ${'2.0-1'}   | ${'installed 1.5-1 >= introduced 1.0-1 and < fixed 2.0-1 (deb)'}
    ${'2.0-1'}   | ${[7]}             | ${null}      | ${'installed 2.0-1 >= introduced 0.5-1, no fix (deb)'}
    ${'2.7-1'}   | ${[5, 7]}          | ${'3.0-1'}   | ${'installed 2.7-1 >= introduced 2.5-1 and < fixed 3.0-1 (deb)'}
  `(
    'installed $installed: records $ids, fixed $fixedVersion',
    ({ installed, ids, fixedVersion, comparison }) => {
      const index = buildAdvisoryIndex(records.map((adv) => entry(adv)));
      const host = inventory(debian12, [pkg('foo', installed)]);
      const [finding] = detectFindings(index, host, context());

      expect(finding!.advisories).toEqual(ids.map((i: number) => `CVE-2024-000${i}`));
      // Equal versions may be spelled either way: compare them as versions.
      if (fixedVersion === null) expect(finding!.fixedVersion).toBe(null);
      else expect(deb.compare(finding!.fixedVersion!, fixedVersion)).toBe(0);
      expect(finding!.evidence.map((e) => e.comparison)).toContain(comparison);
      expect(detectFindings(index, host, context({ memo: createDetectionMemo() }))).toEqual([finding]);
    },
  );
});

describe('detection/detect: binaries of one source on one host', () => {
  // Binaries of one source share the table, the place of the source version and the template, and
  // those at the same (binary, source) versions share the evidence: every finding must still be the
  // one its package gets alone, and nothing may leak from one host (call) to the next.
  const records = [
    advisory({
      id: 'CVE-2024-0001',
      affected: [affected({ name: 'foo', ranges: [range({ fixed: '1.0-3' })] })],
    }),
    advisory({
      id: 'CVE-2024-0002',
      affected: [affected({ name: 'foo', ranges: [range({ introduced: '1.0-1', fixed: '1.0-5' })] })],
    }),
  ];
  const index = buildAdvisoryIndex(records.map((adv) => entry(adv)));
  const alone = (installed: InstalledPackage) =>
    detectFindings(index, inventory(debian12, [installed]), context());

  it('gives each binary the finding it gets alone, evidence naming its own versions', () => {
    const packages = [
      pkg('foo', '1.0-2', { sourceName: 'foo' }),
      pkg('foo-data', '1.0-2', { sourceName: 'foo', sourceVersion: '1.0-2' }),
      pkg('libfoo1', '1.0-2+b1', { sourceName: 'foo', sourceVersion: '1.0-2' }),
      pkg('libfoo2', '1.0-2+b1', { sourceName: 'foo', sourceVersion: '1.0-2' }),
      pkg('libfoo-old', '1.0-1', { sourceName: 'foo', sourceVersion: '1.0-1' }),
      pkg('libfoo-new', '1.0-4', { sourceName: 'foo', sourceVersion: '1.0-4' }),
      pkg('libfoo-fixed', '1.0-5', { sourceName: 'foo', sourceVersion: '1.0-5' }),
      pkg('foo-doc', '1.0-2', { sourceName: 'foo' }),
    ];

    const findings = detectFindings(index, inventory(debian12, packages), context());

    expect(findings).toEqual(packages.flatMap(alone));
    expect(findings.map((f) => [f.package, f.advisories.length, f.evidence[0]!.comparison])).toEqual([
      ['foo', 2, 'installed 1.0-2 < fixed 1.0-3 (deb)'],
      ['foo-data', 2, 'installed 1.0-2 < fixed 1.0-3 (deb)'],
      ['libfoo1', 2, 'installed source 1.0-2 < fixed 1.0-3 (deb)'],
      ['libfoo2', 2, 'installed source 1.0-2 < fixed 1.0-3 (deb)'],
      ['libfoo-old', 2, 'installed 1.0-1 < fixed 1.0-3 (deb)'],
      ['libfoo-new', 1, 'installed 1.0-4 >= introduced 1.0-1 and < fixed 1.0-5 (deb)'],
      ['foo-doc', 2, 'installed 1.0-2 < fixed 1.0-3 (deb)'],
    ]);
  });

  it('does not carry a version or evidence from one host to the next', () => {
    // Both hosts' versions sit at the same place among the table's versions (below 1.0-3, above 1.0-1).
    const first = detectFindings(index, inventory(debian12, [pkg('foo', '1.0-2')]), context());
    const second = detectFindings(
      index,
      inventory(debian12, [pkg('foo', '1.0-2~rc1'), pkg('foo-data', '1.0-2~rc1', { sourceName: 'foo' })]),
      context(),
    );

    expect(first[0]!.evidence[0]!.comparison).toBe('installed 1.0-2 < fixed 1.0-3 (deb)');
    expect(second.map((f) => f.evidence[0]!.comparison)).toEqual([
      'installed 1.0-2~rc1 < fixed 1.0-3 (deb)',
      'installed 1.0-2~rc1 < fixed 1.0-3 (deb)',
    ]);
    expect(second.map((f) => f.installedVersion)).toEqual(['1.0-2~rc1', '1.0-2~rc1']);
  });

  it('counts an invalid source version once per package that has it', () => {
    const packages = [
      pkg('libfoo1', '1.0-2', { sourceName: 'foo', sourceVersion: 'not a version' }),
      pkg('libfoo2', '1.0-2', { sourceName: 'foo', sourceVersion: 'not a version' }),
      pkg('foo', '1.0-2'),
    ];

    const { findings, stats } = detect(index, inventory(debian12, packages), context());

    expect(stats.invalidVersions).toBe(2);
    expect(findings.map((f) => f.package)).toEqual(['foo']);
  });
});

describe('detection/detect: source and binary names', () => {
  const record = affected({
    name: 'foo',
    ranges: [range({ introduced: '1.3-1', fixed: '1.3-4' })],
    versions: ['1.2-3'],
  });

  it('matches binaries by their source package and compares the source version (binNMU)', () => {
    // libfoo1 1.2-3+b1 is a binNMU of source foo 1.2-3: the listed source version matches, not the binary's.
    const { findings } = onePackage(
      record,
      pkg('libfoo1', '1.2-3+b1', { sourceName: 'foo', sourceVersion: '1.2-3' }),
    );

    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      package: 'libfoo1',
      sourcePackage: 'foo',
      installedVersion: '1.2-3+b1',
      fixedVersion: '1.3-4',
    });
    expect(findings[0]!.evidence[0]).toMatchObject({
      matchedName: 'foo',
      matchedBy: 'source',
      scope: 'debian:12',
      comparison: 'installed source 1.2-3 in versions list (deb)',
    });
  });

  it('does not flag a binNMU of the fixed source version', () => {
    const fixedOnly = affected({ name: 'foo', ranges: [range({ fixed: '1.2-3' })] });

    const { findings } = onePackage(
      fixedOnly,
      pkg('libfoo1', '1.2-3+b1', { sourceName: 'foo', sourceVersion: '1.2-3' }),
    );

    expect(findings).toEqual([]);
  });

  it('compares the source version when the binary has its own (gcc-defaults)', () => {
    const gccDefaults = affected({ name: 'gcc-defaults', ranges: [range({ fixed: '1.204' })] });

    const { findings } = onePackage(
      gccDefaults,
      pkg('gcc', '4:12.2.0-3', { sourceName: 'gcc-defaults', sourceVersion: '1.203' }),
    );

    expect(findings[0]!.evidence[0]!.comparison).toBe('installed source 1.203 < fixed 1.204 (deb)');
  });

  it('falls back to the binary name and version when the source is unknown', () => {
    const { findings } = onePackage(record, pkg('foo', '1.2-3'));

    expect(findings[0]!.evidence[0]!.comparison).toBe('installed 1.2-3 in versions list (deb)');
  });

  it('does not match a source-named record by a binary of the same name from another source', () => {
    const { findings } = onePackage(
      record,
      pkg('foo', '1.0-1', { sourceName: 'bar', sourceVersion: '1.0-1' }),
    );

    expect(findings).toEqual([]);
  });

  it('matches binary-named records by binary name and binary version only', () => {
    const alma9: DistroScope = { distro: 'almalinux', release: '9', stream: null };
    const rpmRecord = affected({
      name: 'kernel-core',
      ecosystem: 'rpm',
      scope: alma9,
      nameKind: 'binary',
      ranges: [range({ fixed: '5.14.0-611.54.6.el9_7' })],
    });
    const bySourceName = affected({ ...rpmRecord, name: 'kernel' });
    const installed = pkg('kernel-core', '5.14.0-611.5.1.el9_7', {
      ecosystem: 'rpm',
      sourceName: 'kernel',
      sourceVersion: '9.9-1',
    });

    const matched = onePackage(rpmRecord, installed, os('almalinux', '9')).findings;
    const notBySource = onePackage(bySourceName, installed, os('almalinux', '9')).findings;

    expect(matched[0]!.evidence[0]).toMatchObject({
      matchedBy: 'binary',
      comparison: 'installed 5.14.0-611.5.1.el9_7 < fixed 5.14.0-611.54.6.el9_7 (rpm)',
    });
    expect(notBySource).toEqual([]);
  });

  describe('Ubuntu binaries lists', () => {
    const jammy = os('ubuntu', '22.04');
    const ubuntuScope: DistroScope = { distro: 'ubuntu', release: '22.04', stream: null };
    const openssl = affected({
      name: 'openssl',
      scope: ubuntuScope,
      ranges: [range({ fixed: '3.0.2-0ubuntu1.10' })],
      binaries: ['libssl3', 'openssl'],
    });

    it.each`
      binary          | source       | isAffected | matchedBy
      ${'libssl3'}    | ${'openssl'} | ${true}    | ${'source'}
      ${'openssl'}    | ${'openssl'} | ${true}    | ${'source'}
      ${'libssl-doc'} | ${'openssl'} | ${false}   | ${null}
      ${'libssl3'}    | ${undefined} | ${true}    | ${'binary'}
      ${'libssl-doc'} | ${undefined} | ${false}   | ${null}
    `('$binary from source $source: affected $isAffected', ({ binary, source, isAffected, matchedBy }) => {
      const installed = pkg(binary, '3.0.2-0ubuntu1.9', { sourceName: source });

      const { findings } = onePackage(openssl, installed, jammy);

      expect(findings.length).toBe(isAffected ? 1 : 0);
      if (isAffected) {
        expect(findings[0]!.evidence[0]!.matchedBy).toBe(matchedBy);
        expect(findings[0]!.evidence[0]!.matchedName).toBe(matchedBy === 'source' ? 'openssl' : binary);
      }
    });

    it('keeps binaries of one source and version apart in the memo', () => {
      const index = buildAdvisoryIndex([entry(advisory({ id: 'CVE-2024-0001', affected: [openssl] }))]);
      const memo = createDetectionMemo();
      const of = (binary: string) => pkg(binary, '3.0.2-0ubuntu1.9', { sourceName: 'openssl' });

      const first = detectFindings(
        index,
        inventory(jammy, [of('libssl3'), of('libssl-doc')]),
        context({ memo }),
      );
      const second = detectFindings(
        index,
        inventory(jammy, [of('libssl-doc'), of('libssl3')]),
        context({ memo }),
      );

      expect(first.map((f) => f.package)).toEqual(['libssl3']);
      expect(second.map((f) => f.package)).toEqual(['libssl3']);
    });
  });
});

describe('detection/detect: scoping', () => {
  const record = (scope: DistroScope) => affected({ name: 'foo', scope, ranges: [range({ fixed: '2.0' })] });

  it.each`
    scope                                                     | host                                        | streams    | isAffected
    ${{ distro: 'debian', release: '12', stream: null }}      | ${os('debian', '12')}                       | ${[]}      | ${true}
    ${{ distro: 'debian', release: '11', stream: null }}      | ${os('debian', '12')}                       | ${[]}      | ${false}
    ${{ distro: 'debian', release: '12', stream: null }}      | ${os('debian', '11')}                       | ${[]}      | ${false}
    ${{ distro: 'debian', release: null, stream: null }}      | ${os('debian', '12')}                       | ${[]}      | ${false}
    ${{ distro: 'debian', release: null, stream: null }}      | ${os('debian', null)}                       | ${[]}      | ${true}
    ${{ distro: 'ubuntu', release: '22.04', stream: null }}   | ${os('debian', '12')}                       | ${[]}      | ${false}
    ${{ distro: 'ubuntu', release: '18.04', stream: null }}   | ${os('ubuntu', '18.04')}                    | ${[]}      | ${true}
    ${{ distro: 'ubuntu', release: '18.04', stream: 'pro' }}  | ${os('ubuntu', '18.04')}                    | ${[]}      | ${false}
    ${{ distro: 'ubuntu', release: '18.04', stream: 'pro' }}  | ${os('ubuntu', '18.04')}                    | ${['pro']} | ${true}
    ${{ distro: 'ubuntu', release: '18.04', stream: 'fips' }} | ${os('ubuntu', '18.04')}                    | ${['pro']} | ${false}
    ${{ distro: 'ubuntu', release: '18.04', stream: null }}   | ${os('ubuntu', '18.04')}                    | ${['pro']} | ${true}
    ${{ distro: 'debian', release: '12', stream: null }}      | ${os('debian', '12', { ecosystem: 'rpm' })} | ${[]}      | ${false}
  `(
    'record $scope on $host.distro $host.version streams $streams: affected $isAffected',
    ({ scope, host, streams, isAffected }) => {
      const index = buildAdvisoryIndex([entry(advisory({ id: 'CVE-2024-0001', affected: [record(scope)] }))]);

      const findings = detectFindings(index, inventory(host, [pkg('foo', '1.0')]), context({ streams }));

      expect(findings.length).toBe(isAffected ? 1 : 0);
    },
  );

  it('judges nothing on a host whose distribution is unknown, and counts it', () => {
    const index = buildAdvisoryIndex([
      entry(advisory({ id: 'CVE-2024-0001', affected: [record(DEBIAN_12)] })),
    ]);
    const unknownOs = os('debian', '12', { distro: 'unknown' });

    const { findings, stats } = detect(index, inventory(unknownOs, [pkg('foo', '1.0')]), context());

    expect(findings).toEqual([]);
    expect(stats.unscopedPackages).toBe(1);
  });
});

describe('detection/detect: robustness', () => {
  it('skips withdrawn records and counts them', () => {
    const index = buildAdvisoryIndex([
      entry(
        advisory({
          id: 'CVE-2024-0001',
          withdrawn: '2024-05-01T00:00:00Z',
          affected: [affected({ name: 'foo', ranges: [range()] })],
        }),
      ),
    ]);

    const findings = detectFindings(index, inventory(debian12, [pkg('foo', '1.0')]), context());

    expect(findings).toEqual([]);
    expect(index.stats.withdrawn).toBe(1);
    expect(index.stats.records).toBe(0);
  });

  it('counts an invalid installed version instead of crashing', () => {
    const record = affected({ name: 'foo', ranges: [range({ fixed: '2.0' })] });

    const { findings, stats } = run(
      [advisory({ id: 'CVE-2024-0001', affected: [record] })],
      [pkg('foo', 'not a version'), pkg('bar', 'also bad'), pkg('foo', '1.0')],
    );

    expect(findings).toHaveLength(1);
    expect(stats.invalidVersions).toBe(1);
  });

  it('drops advisory ranges and listed versions with invalid versions, counted in the index stats', () => {
    const record = affected({
      name: 'foo',
      ranges: [range({ fixed: 'bad version' }), range({ introduced: '3.0', fixed: '3.1' })],
      versions: ['also bad', '1.5'],
    });
    const index = buildAdvisoryIndex([entry(advisory({ id: 'CVE-2024-0001', affected: [record] }))]);

    const at10 = detectFindings(index, inventory(debian12, [pkg('foo', '1.0')]), context());
    const at15 = detectFindings(index, inventory(debian12, [pkg('foo', '1.5')]), context());
    const at30 = detectFindings(index, inventory(debian12, [pkg('foo', '3.0')]), context());

    expect(index.stats.invalidVersions).toBe(2);
    expect([at10.length, at15.length, at30.length]).toEqual([0, 1, 1]);
  });

  it('skips entries of unknown ecosystems and entries with nothing to match', () => {
    const index = buildAdvisoryIndex([
      entry(
        advisory({
          id: 'CVE-2024-0001',
          affected: [
            affected({ name: 'foo', ecosystem: 'npm' as 'deb', ranges: [range()] }),
            affected({ name: 'bar' }),
            affected({ name: 'baz', ranges: [range({ fixed: '1' })] }),
          ],
        }),
      ),
    ]);

    expect(index.stats).toMatchObject({
      records: 1,
      unknownEcosystem: 1,
      emptyEntries: 1,
      affectedEntries: 1,
      intervals: 1,
    });
  });
});

describe('detection/detect: one finding per package', () => {
  const origin = (location: string) => ({ location, timestamp: null });
  const records: Array<{ advisory: Advisory; origin: { location: string; timestamp: null } | null }> = [
    {
      advisory: advisory({
        id: 'DSA-5500-1',
        cves: ['CVE-2023-0002', 'CVE-2023-10000'],
        severity: 'medium',
        cvss: [
          {
            version: '3.1',
            vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
            baseScore: 9.8,
            severity: 'critical',
          },
        ],
        affected: [
          affected({ name: 'openssl', ranges: [range({ fixed: '3.0.11-1~deb12u2' })], urgency: 'medium' }),
        ],
      }),
      origin: origin('osv-debian/all.zip:DSA-5500-1.json'),
    },
    {
      advisory: advisory({
        id: 'CVE-2023-0002',
        source: 'debian-tracker',
        severity: 'low',
        affected: [
          affected({
            name: 'openssl',
            ranges: [range({ fixed: '3.0.11-1~deb12u2' })],
            severity: 'high',
            urgency: 'not yet assigned',
          }),
        ],
      }),
      origin: origin('tracker.json'),
    },
    {
      advisory: advisory({
        id: 'CVE-2023-0002',
        source: 'debian-tracker',
        severity: 'low',
        affected: [
          affected({ name: 'openssl', ranges: [range({ fixed: '3.0.11-1~deb12u2' })], severity: 'high' }),
        ],
      }),
      origin: origin('mirror/tracker.json'),
    },
    {
      advisory: advisory({
        id: 'CVE-2023-9999',
        affected: [affected({ name: 'openssl', ranges: [range({ fixed: '3.0.13-1~deb12u1' })] })],
      }),
      origin: null,
    },
    {
      advisory: advisory({
        id: 'DEBIAN-CVE-2024-5000',
        cves: ['CVE-2024-5000'],
        affected: [affected({ name: 'openssl', ranges: [range()], noFixReason: 'no-dsa' })],
      }),
      origin: null,
    },
  ];
  const kev = new Map([
    [
      'CVE-2023-10000',
      {
        cve: 'CVE-2023-10000',
        vendorProject: 'OpenSSL',
        product: 'OpenSSL',
        name: 'x',
        dateAdded: '2025-05-01',
        dueDate: '2025-05-22',
        knownRansomwareUse: false,
      },
    ],
    [
      'CVE-2023-9999',
      {
        cve: 'CVE-2023-9999',
        vendorProject: 'OpenSSL',
        product: 'OpenSSL',
        name: 'y',
        dateAdded: '2025-05-01',
        dueDate: '2025-05-20',
        knownRansomwareUse: true,
      },
    ],
  ]);
  const epss = new Map([
    [
      'CVE-2023-0002',
      { cve: 'CVE-2023-0002', epss: 0.12, percentile: 0.9, scoreDate: null, modelVersion: null },
    ],
    [
      'CVE-2024-5000',
      { cve: 'CVE-2024-5000', epss: 0.5, percentile: 0.99, scoreDate: null, modelVersion: null },
    ],
  ]);

  it('merges every applicable record into one finding per installed binary', () => {
    const index = buildAdvisoryIndex(records);
    const installed = [
      pkg('libssl3', '3.0.11-1~deb12u1', { sourceName: 'openssl' }),
      pkg('openssl', '3.0.11-1~deb12u1', { architecture: 'arm64' }),
      pkg('zlib1g', '1:1.2.13.dfsg-1', { sourceName: 'zlib', sourceVersion: '1.2.13.dfsg-1' }),
    ];

    const findings = detectFindings(
      index,
      inventory(debian12, installed),
      context({ kev, epss, criticality: 'high' }),
    );

    expect(findings.map((f) => f.package)).toEqual(['libssl3', 'openssl']);
    const [libssl] = findings;
    expect(libssl).toMatchObject({
      package: 'libssl3',
      sourcePackage: 'openssl',
      ecosystem: 'deb',
      installedVersion: '3.0.11-1~deb12u1',
      architecture: 'amd64',
      fixedVersion: '3.0.13-1~deb12u1',
      fixState: 'fix-available',
      advisories: ['CVE-2023-0002', 'CVE-2023-9999', 'DEBIAN-CVE-2024-5000', 'DSA-5500-1'],
      cves: ['CVE-2023-0002', 'CVE-2023-9999', 'CVE-2023-10000', 'CVE-2024-5000'],
      severity: 'high',
      urgencies: ['medium', 'not yet assigned'],
      cvssScore: 9.8,
      isKev: true,
      kevDueDate: '2025-05-20',
      knownRansomwareUse: true,
      epss: 0.5,
      epssPercentile: 0.99,
      // high, KEV, ransomware on a high host: 0.85 × (60 × 9.8 / 10 + 30 + 10)
      riskScore: 84,
      // KEV due date before high's 30 days from now
      dueDate: '2025-05-20',
    });
    expect(libssl!.evidence.map((e) => [e.advisoryId, e.feed?.location ?? null, e.fixState])).toEqual([
      ['CVE-2023-0002', 'mirror/tracker.json', 'fix-available'],
      ['CVE-2023-0002', 'tracker.json', 'fix-available'],
      ['CVE-2023-9999', null, 'fix-available'],
      ['DEBIAN-CVE-2024-5000', null, 'will-not-fix'],
      ['DSA-5500-1', 'osv-debian/all.zip:DSA-5500-1.json', 'fix-available'],
    ]);
    expect(findings[1]!.architecture).toBe('arm64');
  });

  it('is will-not-fix only when every applicable record is', () => {
    const wontFix = (id: string, noFixReason: string | null) =>
      advisory({ id, affected: [affected({ name: 'foo', ranges: [range()], noFixReason })] });

    const all = run([wontFix('CVE-1', 'ignored'), wontFix('CVE-2', 'no-dsa')], [pkg('foo', '1.0')]).findings;
    const mixed = run([wontFix('CVE-1', 'ignored'), wontFix('CVE-2', null)], [pkg('foo', '1.0')]).findings;

    expect(all[0]!.fixState).toBe('will-not-fix');
    expect(mixed[0]!.fixState).toBe('no-fix-yet');
  });

  it('computes the due date from firstSeen when given', () => {
    const index = buildAdvisoryIndex([
      entry(
        advisory({
          id: 'CVE-1',
          severity: 'critical',
          affected: [affected({ name: 'foo', ranges: [range({ fixed: '2' })] })],
        }),
      ),
    ]);

    const findings = detectFindings(
      index,
      inventory(debian12, [pkg('foo', '1')]),
      context({ firstSeen: (name) => (name === 'foo' ? new Date('2025-01-01T00:00:00Z') : null) }),
    );

    expect(findings[0]!.dueDate).toBe('2025-01-08');
  });

  it('gives the same findings with a memo, across hosts and after index updates', () => {
    const index = buildAdvisoryIndex(records);
    const memo = createDetectionMemo();
    const hosts = [
      [pkg('libssl3', '3.0.11-1~deb12u1', { sourceName: 'openssl' })],
      [pkg('libssl3', '3.0.11-1~deb12u1', { sourceName: 'openssl' }), pkg('openssl', '3.0.13-1~deb12u1')],
      [pkg('libssl3', '3.0.13-1~deb12u1', { sourceName: 'openssl' })],
    ];

    for (const packages of hosts) {
      const plain = detect(index, inventory(debian12, packages), context({ kev, epss }));
      const memoised = detect(index, inventory(debian12, packages), context({ kev, epss, memo }));
      expect(memoised.findings).toEqual(plain.findings);
    }
    const again = detect(index, inventory(debian12, hosts[0]!), context({ kev, epss, memo }));
    expect(again.stats.memoHits).toBe(1);
    // libssl3 and openssl at 3.0.13-1~deb12u1 share one verdict: same source table, same version.
    expect(memo.size).toBe(2);

    updateAdvisoryIndex(index, {
      upsert: [
        entry(
          advisory({
            id: 'CVE-2025-1',
            affected: [affected({ name: 'openssl', ranges: [range({ fixed: '3.0.14-1' })] })],
          }),
        ),
      ],
    });
    for (const packages of hosts) {
      const plain = detect(index, inventory(debian12, packages), context({ kev, epss }));
      const memoised = detect(index, inventory(debian12, packages), context({ kev, epss, memo }));
      expect(memoised.findings).toEqual(plain.findings);
      expect(memoised.findings.every((f) => f.advisories.includes('CVE-2025-1'))).toBe(true);
    }
  });
});

describe('detection/detect: places in a table with many fixed versions', () => {
  // 37 distinct fixed versions 1.0-1 … 1.36-1 (ids out of order, two records sharing one fix): an
  // installed version at, between, above and below them all is placed by galloping down from the top
  // and then halving; the findings must be those of comparing with every record one by one.
  const fixes = Array.from({ length: 37 }, (_, i) => `1.${i}-1`);
  const advisories = fixes.map((fixed, i) =>
    advisory({
      id: `CVE-2024-${String(9000 - i * 7)}`,
      affected: [affected({ name: 'zlib', ranges: [range({ fixed })] })],
    }),
  );
  advisories.push(
    advisory({
      id: 'CVE-2023-0001',
      affected: [affected({ name: 'zlib', ranges: [range({ fixed: '1.20-1' })] })],
    }),
  );
  const installedVersions = ['0.9-1', '1.36-2', '2.0-1', 'not a version!'];
  for (const fixed of fixes) installedVersions.push(fixed, fixed.replace(/-1$/, '-0'), `${fixed}+b1`);

  it('gives every installed version the advisories whose fix is above it, in id order', () => {
    const index = buildAdvisoryIndex(advisories.map((adv) => entry(adv)));
    for (const version of installedVersions) {
      const { findings } = detect(index, inventory(debian12, [pkg('zlib', version)]), context());
      const isValid = deb.parseVersion(version) !== null;
      const expected = isValid
        ? advisories
            .filter((adv) => deb.compare(version, adv.affected[0]!.ranges[0]!.fixed!) < 0)
            .map((adv) => adv.id)
        : [];
      const got = findings.flatMap((finding) => finding.evidence.map((item) => item.advisoryId));
      expect(got.slice().sort()).toEqual(expected.slice().sort());
      // Evidence is ordered by advisory id (natural order: year, then number).
      const natural = expected
        .slice()
        .sort(
          (a, b) => Number(a.slice(4, 8)) - Number(b.slice(4, 8)) || Number(a.slice(9)) - Number(b.slice(9)),
        );
      expect(got).toEqual(natural);
      if (expected.length > 0) {
        const highestFix = expected
          .map((id) => advisories.find((adv) => adv.id === id)!.affected[0]!.ranges[0]!.fixed!)
          .sort(deb.compare)
          .at(-1);
        expect(findings[0]!.fixedVersion).toBe(highestFix);
      }
    }
  });
});
