import { describe, expect, it } from 'vitest';
import type { DistroScope } from '../types/advisory.js';
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
import {
  advisoriesFor,
  buildAdvisoryIndex,
  packagesTouchedBy,
  recordKey,
  updateAdvisoryIndex,
} from './advisory-index.js';
import { detectFindings, packageRefsOf } from './detect.js';
import { packageKey, scopeKey, scopeOf } from './scope.js';

const debian12 = os('debian', '12');
const jammy: DistroScope = { distro: 'ubuntu', release: '22.04', stream: null };

describe('detection/scope', () => {
  it.each`
    scope                                                    | key
    ${{ distro: 'debian', release: '12', stream: null }}     | ${'debian:12'}
    ${{ distro: 'ubuntu', release: '18.04', stream: 'pro' }} | ${'ubuntu:18.04:pro'}
    ${{ distro: 'arch', release: null, stream: null }}       | ${'arch:'}
  `('scopeKey($scope) is $key', ({ scope, key }) => {
    expect(scopeKey(scope)).toBe(key);
  });

  it('scopes a host by distro and release, plain stream', () => {
    expect(scopeOf(os('ubuntu', '22.04'))).toEqual({ distro: 'ubuntu', release: '22.04', stream: null });
    expect(scopeOf(null)).toBe(null);
    expect(scopeOf(os('debian', '12', { distro: 'unknown' }))).toBe(null);
  });
});

describe('detection/advisory-index', () => {
  const dsa = advisory({
    id: 'DSA-1-1',
    affected: [
      affected({ name: 'foo', ranges: [range({ fixed: '2.0' })] }),
      affected({ name: 'openssl', scope: jammy, ranges: [range({ fixed: '3.0' })], binaries: ['libssl3'] }),
    ],
  });

  it('lists the (scope, name) pairs an advisory touches, binaries included', () => {
    expect(packagesTouchedBy(dsa)).toEqual([
      { scopeKey: 'debian:12', name: 'foo' },
      { scopeKey: 'ubuntu:22.04', name: 'openssl' },
      { scopeKey: 'ubuntu:22.04', name: 'libssl3' },
    ]);
  });

  it('looks up installed packages under the same pairs', () => {
    const libfoo = pkg('libfoo1', '1.0', { sourceName: 'foo' });

    expect(packageRefsOf(debian12, libfoo)).toEqual([
      { scopeKey: 'debian:12', name: 'foo' },
      { scopeKey: 'debian:12', name: 'libfoo1' },
    ]);
    expect(packageRefsOf(os('ubuntu', '18.04'), pkg('foo', '1'), ['pro']).map(packageKey)).toEqual([
      'ubuntu:18.04\u0000foo',
      'ubuntu:18.04:pro\u0000foo',
    ]);
    expect(packageRefsOf(debian12, pkg('lodash', '1.0.0', { ecosystem: 'semver' }))).toEqual([
      { scopeKey: 'semver', name: 'lodash' },
    ]);
  });

  it('returns the records under one (scope, name)', () => {
    const index = buildAdvisoryIndex([entry(dsa)]);

    expect(
      advisoriesFor(index, { scopeKey: 'ubuntu:22.04', name: 'libssl3' }).map((r) => [r.advisory.id, r.kind]),
    ).toEqual([['DSA-1-1', 'listed']]);
    expect(advisoriesFor(index, { scopeKey: 'debian:11', name: 'foo' })).toEqual([]);
  });

  it('adds, replaces and removes records in place and reports what they touched', () => {
    const host = inventory(debian12, [pkg('foo', '1.0'), pkg('bar', '1.0')]);
    const index = buildAdvisoryIndex([entry(dsa)]);
    const generation = index.generation;

    const touchedByNew = updateAdvisoryIndex(index, {
      upsert: [
        entry(advisory({ id: 'CVE-2024-1', affected: [affected({ name: 'bar', ranges: [range()] })] })),
      ],
    });
    const afterAdd = detectFindings(index, host, context()).map((f) => [f.package, f.advisories]);
    const touchedByFix = updateAdvisoryIndex(index, {
      upsert: [
        entry(
          advisory({
            id: 'DSA-1-1',
            affected: [affected({ name: 'foo', ranges: [range({ fixed: '0.9' })] })],
          }),
        ),
      ],
    });
    const afterFix = detectFindings(index, host, context()).map((f) => f.package);
    const touchedByRemove = updateAdvisoryIndex(index, {
      remove: [recordKey(advisory({ id: 'CVE-2024-1' }), null)],
    });

    expect(touchedByNew).toEqual([{ scopeKey: 'debian:12', name: 'bar' }]);
    expect(afterAdd).toEqual([
      ['foo', ['DSA-1-1']],
      ['bar', ['CVE-2024-1']],
    ]);
    expect(touchedByFix).toEqual([
      { scopeKey: 'debian:12', name: 'foo' },
      { scopeKey: 'ubuntu:22.04', name: 'openssl' },
      { scopeKey: 'ubuntu:22.04', name: 'libssl3' },
    ]);
    expect(afterFix).toEqual(['bar']);
    expect(touchedByRemove).toEqual([{ scopeKey: 'debian:12', name: 'bar' }]);
    expect(detectFindings(index, host, context())).toEqual([]);
    expect(index.generation).toBe(generation + 3);
    expect(index.stats).toMatchObject({ records: 1, affectedEntries: 1, intervals: 1 });
    expect(index.tables.get('deb\u0000ubuntu:22.04')!.names.size).toBe(0);
  });

  it('removes the earlier version of a record that is upserted withdrawn', () => {
    const index = buildAdvisoryIndex([entry(dsa)]);

    updateAdvisoryIndex(index, { upsert: [entry({ ...dsa, withdrawn: '2025-01-01T00:00:00Z' })] });

    expect(detectFindings(index, inventory(debian12, [pkg('foo', '1.0')]), context())).toEqual([]);
    expect(index.stats).toMatchObject({ records: 0, withdrawn: 1, affectedEntries: 0 });
  });

  it('keeps one record per (source, id, feed location): the last one wins', () => {
    const v1 = advisory({
      id: 'DSA-9-1',
      affected: [affected({ name: 'foo', ranges: [range({ fixed: '2.0' })] })],
    });
    const v2 = advisory({
      id: 'DSA-9-1',
      affected: [affected({ name: 'foo', ranges: [range({ fixed: '3.0' })] })],
    });
    const elsewhere = { location: 'other-feed.json', timestamp: null };

    const index = buildAdvisoryIndex([entry(v1), entry(v2), entry(v1, elsewhere)]);
    const findings = detectFindings(index, inventory(debian12, [pkg('foo', '2.5')]), context());

    expect(index.stats.records).toBe(2);
    expect(findings[0]!.evidence.map((e) => e.feed?.location ?? null)).toEqual([null]);
    expect(findings[0]!.fixedVersion).toBe('3.0');
  });

  it('indexes the same record for several scopes separately', () => {
    const multi = advisory({
      id: 'CVE-2024-7',
      affected: [
        affected({ name: 'foo', scope: DEBIAN_12, ranges: [range({ fixed: '2.0' })] }),
        affected({
          name: 'foo',
          scope: { distro: 'debian', release: '11', stream: null },
          ranges: [range({ fixed: '1.5' })],
        }),
      ],
    });
    const index = buildAdvisoryIndex([entry(multi)]);

    const on12 = detectFindings(index, inventory(debian12, [pkg('foo', '1.8')]), context());
    const on11 = detectFindings(index, inventory(os('debian', '11'), [pkg('foo', '1.8')]), context());

    expect(on12[0]!.evidence.map((e) => e.scope)).toEqual(['debian:12']);
    expect(on11).toEqual([]);
  });
});
