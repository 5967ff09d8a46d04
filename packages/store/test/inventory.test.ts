import type { InstalledPackage } from '@patchwarden/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  applyFullInventory,
  applyInventoryDelta,
  createHost,
  findHostsHoldingPackages,
  getHostInventory,
  getHostPackages,
  MAX_HOST_OVERRIDES,
  migrateToLatest,
  packageSetId,
} from '../src/index.js';
import { type TestStore, testDialects } from './dialects.js';
import { DEBIAN_12, deb } from './fixtures.js';

const t0 = new Date('2026-11-22T10:00:00.000Z');

/** An image of `count` packages: pkg0000 … plus openssl/libssl3 built from source openssl. */
function image(count: number): InstalledPackage[] {
  const packages = [
    deb('openssl', '3.0.11-1~deb12u1', 'openssl'),
    deb('libssl3', '3.0.11-1~deb12u1', 'openssl'),
  ];
  for (let i = 0; i < count; i++) packages.push(deb(`pkg${String(i).padStart(4, '0')}`, `1.${i}-1`));
  return packages;
}

function sorted(packages: readonly InstalledPackage[]): InstalledPackage[] {
  return [...packages].sort((a, b) =>
    `${a.name}/${a.architecture}`.localeCompare(`${b.name}/${b.architecture}`),
  );
}

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `store/inventory on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let store: TestStore;
      beforeEach(async () => {
        store = await dialect.open();
        await migrateToLatest(store.db);
      });
      afterEach(async () => {
        await store?.dispose();
      });

      async function newHost(name: string): Promise<string> {
        return (await createHost(store.db, { name }, t0)).id;
      }

      async function count(table: 'package_sets' | 'package_set_members' | 'host_package_overrides') {
        const row = await store.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .executeTakeFirstOrThrow();
        return Number(row.n);
      }

      it('stores identical inventories of many hosts as one package set and no overrides', async () => {
        const packages = image(50);
        const hosts = await Promise.all(Array.from({ length: 10 }, (_, i) => newHost(`web-${i}`)));

        for (const hostId of hosts) {
          await store.db
            .transaction()
            .execute((trx) => applyFullInventory(trx, hostId, { os: DEBIAN_12, packages, seq: 0 }, t0));
        }

        expect(await count('package_sets')).toBe(1);
        expect(await count('package_set_members')).toBe(52);
        expect(await count('host_package_overrides')).toBe(0);
        const inventory = await getHostInventory(store.db, hosts[3] ?? '');
        expect(inventory?.packageSetId).toBe(packageSetId(packages));
        expect(sorted(inventory?.packages ?? [])).toEqual(sorted(packages));
        expect(inventory?.os).toEqual(DEBIAN_12);
      });

      it('stores a host that differs slightly from its OS peers as the shared set plus overrides', async () => {
        const base = image(50);
        const peer = await newHost('peer');
        const host = await newHost('odd');
        const odd = [
          ...base.filter((p) => p.name !== 'pkg0001'),
          deb('pkg0002', '9.9-1'),
          deb('extra', '1.0'),
        ];
        const withoutPkg2 = odd.filter((p) => !(p.name === 'pkg0002' && p.version !== '9.9-1'));

        await store.db
          .transaction()
          .execute((trx) => applyFullInventory(trx, peer, { os: DEBIAN_12, packages: base, seq: 0 }, t0));
        const applied = await store.db
          .transaction()
          .execute((trx) =>
            applyFullInventory(trx, host, { os: DEBIAN_12, packages: withoutPkg2, seq: 5 }, t0),
          );

        expect(applied.packageSetId).toBe(packageSetId(base));
        expect(applied.overrideCount).toBe(3);
        expect(await count('package_sets')).toBe(1);
        const inventory = await getHostInventory(store.db, host);
        expect(sorted(inventory?.packages ?? [])).toEqual(sorted(withoutPkg2));
        expect(inventory?.seq).toBe(5);
      });

      it('applies a delta touching only the named packages, and returns to the base when it matches again', async () => {
        const base = image(20);
        const hostId = await newHost('h');
        await store.db
          .transaction()
          .execute((trx) => applyFullInventory(trx, hostId, { os: DEBIAN_12, packages: base, seq: 7 }, t0));

        const first = await store.db.transaction().execute((trx) =>
          applyInventoryDelta(
            trx,
            hostId,
            {
              seq: 8,
              upsert: [deb('openssl', '3.0.15-1~deb12u1', 'openssl'), deb('newpkg', '2.0')],
              remove: [{ ecosystem: 'deb', name: 'pkg0003', architecture: 'amd64' }],
            },
            t0,
          ),
        );
        const afterFirst = await getHostPackages(store.db, hostId, {
          names: ['openssl', 'newpkg', 'pkg0003', 'pkg0004'],
        });
        await store.db.transaction().execute((trx) =>
          applyInventoryDelta(
            trx,
            hostId,
            {
              seq: 9,
              upsert: [deb('openssl', '3.0.11-1~deb12u1', 'openssl')],
              remove: [{ ecosystem: 'deb', name: 'newpkg', architecture: 'amd64' }],
            },
            t0,
          ),
        );

        expect(first.changedNames?.sort()).toEqual(['newpkg', 'openssl', 'pkg0003']);
        expect(first.overrideCount).toBe(3);
        expect(sorted(afterFirst)).toEqual(
          sorted([
            deb('openssl', '3.0.15-1~deb12u1', 'openssl'),
            deb('newpkg', '2.0'),
            deb('pkg0004', '1.4-1'),
          ]),
        );
        const inventory = await getHostInventory(store.db, hostId);
        expect(inventory?.overrideCount).toBe(1);
        expect(inventory?.seq).toBe(9);
        expect(sorted(inventory?.packages ?? [])).toEqual(sorted(base.filter((p) => p.name !== 'pkg0003')));
      });

      it('hands detection every installed package of a name a delta touches: other architectures and ecosystems too', async () => {
        const i386 = { ...deb('libc6', '2.36-9'), architecture: 'i386' };
        const npmOpenssl: InstalledPackage = {
          name: 'openssl',
          version: '1.0.0',
          architecture: null,
          source: null,
          ecosystem: 'semver',
        };
        const base = [...image(5), deb('libc6', '2.36-9'), i386, npmOpenssl];
        const hostId = await newHost('h');
        await store.db
          .transaction()
          .execute((trx) => applyFullInventory(trx, hostId, { os: DEBIAN_12, packages: base, seq: 1 }, t0));

        const delta = (seq: number, upsert: InstalledPackage[]) =>
          store.db
            .transaction()
            .execute((trx) => applyInventoryDelta(trx, hostId, { seq, upsert, remove: [] }, t0));
        const libc = await delta(2, [deb('libc6', '2.36-9+deb12u4')]);
        const openssl = await delta(3, [deb('openssl', '3.0.15-1~deb12u1', 'openssl')]);

        expect(sorted(libc.evaluation.packages)).toEqual(sorted([deb('libc6', '2.36-9+deb12u4'), i386]));
        expect(sorted(openssl.evaluation.packages)).toEqual(
          sorted([deb('openssl', '3.0.15-1~deb12u1', 'openssl'), npmOpenssl]),
        );
        // The same as reading the stored inventory by name.
        expect(sorted(openssl.evaluation.packages)).toEqual(
          sorted(await getHostPackages(store.db, hostId, { names: ['openssl'] })),
        );
      });

      it('stores a full inventory against a set of its own database only, whatever another database just used', async () => {
        const packages = image(20);
        const near = [...packages, deb('extra', '1.0')];
        const inA = [await newHost('a1'), await newHost('a2')];
        await store.db
          .transaction()
          .execute((trx) =>
            applyFullInventory(trx, inA[0] as string, { os: DEBIAN_12, packages, seq: 1 }, t0),
          );
        const a2 = await store.db
          .transaction()
          .execute((trx) =>
            applyFullInventory(trx, inA[1] as string, { os: DEBIAN_12, packages: near, seq: 1 }, t0),
          );
        // a2 again, ten packages apart from its base: it stays there, after looking at the popular sets.
        const apart = near.map((p, i) => (i < 10 ? { ...p, version: `${p.version}+local` } : p));
        const a2Again = await store.db
          .transaction()
          .execute((trx) =>
            applyFullInventory(trx, inA[1] as string, { os: DEBIAN_12, packages: apart, seq: 2 }, t0),
          );
        const other = await dialect.open();
        try {
          await migrateToLatest(other.db);
          const b1 = (await createHost(other.db, { name: 'b1' }, t0)).id;
          const applied = await other.db
            .transaction()
            .execute((trx) => applyFullInventory(trx, b1, { os: DEBIAN_12, packages: near, seq: 1 }, t0));
          const stored = await getHostInventory(other.db, b1);

          expect(a2).toMatchObject({ packageSetId: packageSetId(packages), overrideCount: 1 });
          expect(a2Again).toMatchObject({ packageSetId: packageSetId(packages), overrideCount: 11 });
          expect(applied).toMatchObject({
            packageSetId: packageSetId(near),
            isNewSet: true,
            overrideCount: 0,
          });
          expect(sorted(stored?.packages ?? [])).toEqual(sorted(near));
        } finally {
          await other.dispose();
        }
      });

      it.each`
        seq  | code
        ${3} | ${'DELTA_REPLAYED'}
        ${2} | ${'DELTA_REPLAYED'}
        ${5} | ${'DELTA_OUT_OF_ORDER'}
      `('refuses delta seq $seq after stored seq 3 with $code and writes nothing', async ({ seq, code }) => {
        const hostId = await newHost('h');
        await store.db
          .transaction()
          .execute((trx) =>
            applyFullInventory(trx, hostId, { os: DEBIAN_12, packages: image(5), seq: 3 }, t0),
          );

        const attempt = store.db
          .transaction()
          .execute((trx) =>
            applyInventoryDelta(trx, hostId, { seq, upsert: [deb('new', '1')], remove: [] }, t0),
          );

        await expect(attempt).rejects.toMatchObject({
          code,
          status: 409,
          details: { storedSeq: 3, receivedSeq: seq },
        });
        expect(await count('host_package_overrides')).toBe(0);
        expect((await getHostInventory(store.db, hostId))?.seq).toBe(3);
      });

      it('asks for a full inventory before the first delta', async () => {
        const hostId = await newHost('h');

        const attempt = store.db
          .transaction()
          .execute((trx) => applyInventoryDelta(trx, hostId, { seq: 1, upsert: [], remove: [] }, t0));

        await expect(attempt).rejects.toMatchObject({ code: 'FULL_INVENTORY_REQUIRED', status: 409 });
      });

      it('refuses a delta naming a package twice', async () => {
        const hostId = await newHost('h');
        await store.db
          .transaction()
          .execute((trx) =>
            applyFullInventory(trx, hostId, { os: DEBIAN_12, packages: image(5), seq: 0 }, t0),
          );

        const attempt = store.db.transaction().execute((trx) =>
          applyInventoryDelta(
            trx,
            hostId,
            {
              seq: 1,
              upsert: [deb('x', '1')],
              remove: [{ ecosystem: 'deb', name: 'x', architecture: 'amd64' }],
            },
            t0,
          ),
        );

        await expect(attempt).rejects.toMatchObject({ code: 'INVALID_DELTA', status: 400 });
        expect((await getHostInventory(store.db, hostId))?.seq).toBe(0);
      });

      it(`rebases a host onto a set of its own once it holds more than ${MAX_HOST_OVERRIDES} overrides`, async () => {
        const base = image(100);
        const hostId = await newHost('h');
        await store.db
          .transaction()
          .execute((trx) => applyFullInventory(trx, hostId, { os: DEBIAN_12, packages: base, seq: 0 }, t0));
        const upgrades = base.slice(2, 2 + MAX_HOST_OVERRIDES + 1).map((p) => deb(p.name, `${p.version}+u1`));

        const applied = await store.db
          .transaction()
          .execute((trx) => applyInventoryDelta(trx, hostId, { seq: 1, upsert: upgrades, remove: [] }, t0));

        expect(applied).toMatchObject({ isRebased: true, overrideCount: 0, isNewSet: true });
        expect(await count('host_package_overrides')).toBe(0);
        expect(await count('package_sets')).toBe(2);
        const expected = base.map((p) => upgrades.find((u) => u.name === p.name) ?? p);
        expect(applied.packageSetId).toBe(packageSetId(expected));
        expect(sorted((await getHostInventory(store.db, hostId))?.packages ?? [])).toEqual(sorted(expected));
      });

      it('finds hosts holding a package by binary or source name, in sets and overrides', async () => {
        const base = image(5);
        const onSet = await newHost('on-set');
        const onOverride = await newHost('on-override');
        const without = await newHost('without');
        const bare = base.filter((p) => p.name !== 'openssl' && p.name !== 'libssl3');
        await store.db.transaction().execute(async (trx) => {
          await applyFullInventory(trx, onSet, { os: DEBIAN_12, packages: base, seq: 0 }, t0);
          await applyFullInventory(
            trx,
            without,
            { os: null, packages: [...bare, deb('zlib1g', '1')], seq: 0 },
            t0,
          );
          await applyFullInventory(trx, onOverride, { os: DEBIAN_12, packages: bare, seq: 0 }, t0);
          await applyInventoryDelta(
            trx,
            onOverride,
            { seq: 1, upsert: [deb('curl', '8.0', 'curl-src')], remove: [] },
            t0,
          );
        });

        const bySource = await findHostsHoldingPackages(store.db, ['openssl']);
        const byBinary = await findHostsHoldingPackages(store.db, ['libssl3']);
        const byOverrideSource = await findHostsHoldingPackages(store.db, ['curl-src']);

        // on-override shares on-set's base, with overrides removing openssl and libssl3.
        expect(bySource.map((h) => h.hostId)).toEqual([onSet]);
        expect(byBinary.find((h) => h.hostId === onSet)).toEqual({ hostId: onSet, os: DEBIAN_12 });
        expect(byBinary.some((h) => h.hostId === without)).toBe(false);
        expect(byOverrideSource.map((h) => h.hostId)).toEqual([onOverride]);
      });
    },
  );
}
