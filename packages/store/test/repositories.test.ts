import type { InstalledPackage } from '@patchwarden/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHost,
  getHost,
  getPackageSet,
  listHosts,
  migrateToLatest,
  packageSetId,
  putPackageSet,
  setHostInventory,
} from '../src/index.js';
import { type TestStore, testDialects } from './dialects.js';
import { DEBIAN_12, deb } from './fixtures.js';

const now = new Date('2026-11-21T12:00:00.000Z');

const image: InstalledPackage[] = [
  deb('openssl', '3.0.15-1~deb12u1'),
  deb('libssl3', '3.0.15-1~deb12u1', 'openssl'),
  deb('bash', '5.2.15-2+b7'),
  { name: 'tzdata', version: '2024a-0+deb12u1', architecture: null, source: null, ecosystem: 'deb' },
];

for (const dialect of testDialects()) {
  const title = `store/repositories on ${dialect.name}${dialect.skipReason ? ` (skipped: ${dialect.skipReason})` : ''}`;

  describe.skipIf(dialect.skipReason !== null)(title, () => {
    let store: TestStore;

    beforeAll(async () => {
      store = await dialect.open();
      await migrateToLatest(store.db);
    });

    afterAll(async () => {
      await store?.dispose();
    });

    async function countRows(table: 'package_sets' | 'package_set_members'): Promise<number> {
      const { count } = await store.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('count'))
        .executeTakeFirstOrThrow();
      return Number(count);
    }

    it('creates a host and reads it back', async () => {
      const created = await createHost(
        store.db,
        { name: 'web-1', os: DEBIAN_12, labels: { role: 'web' }, criticality: 'high' },
        now,
      );

      const read = await getHost(store.db, created.id);

      expect(read).toEqual({
        id: created.id,
        name: 'web-1',
        os: DEBIAN_12,
        labels: { role: 'web' },
        groupId: null,
        owner: null,
        environment: null,
        criticality: 'high',
        createdAt: now,
        lastSeenAt: null,
        packageSetId: null,
        inventoryUpdatedAt: null,
      });
      expect(await getHost(store.db, 'no-such-host')).toBeNull();
    });

    it('stores a package set once and returns it in canonical order', async () => {
      const first = await putPackageSet(store.db, image, now);
      const again = await putPackageSet(store.db, [...image].reverse(), now);

      expect(first).toEqual({ id: packageSetId(image), isNew: true });
      expect(first.id).toMatch(/^[0-9a-f]{64}$/);
      expect(again).toEqual({ id: first.id, isNew: false });
      const stored = await getPackageSet(store.db, first.id);
      expect(stored).toHaveLength(image.length);
      expect(new Set(stored?.map((pkg) => JSON.stringify(pkg)))).toEqual(
        new Set(image.map((pkg) => JSON.stringify(pkg))),
      );
      expect(await getPackageSet(store.db, 'f'.repeat(64))).toBeNull();
    });

    it('shares one package set among hosts with the same packages', async () => {
      const setsBefore = await countRows('package_sets');
      const membersBefore = await countRows('package_set_members');
      const packages = [deb('curl', '7.88.1-10+deb12u8'), deb('zlib1g', '1:1.2.13.dfsg-1')];
      const a = await createHost(store.db, { name: 'app-a' }, now);
      const b = await createHost(store.db, { name: 'app-b' }, now);
      const c = await createHost(store.db, { name: 'app-c' }, now);

      const setA = await setHostInventory(store.db, a.id, packages, now);
      const setB = await setHostInventory(store.db, b.id, [...packages].reverse(), now);
      const setC = await setHostInventory(store.db, c.id, [packages[0] as InstalledPackage], now);

      expect(setA.isNewSet).toBe(true);
      expect(setB).toEqual({ packageSetId: setA.packageSetId, isNewSet: false });
      expect(setC.isNewSet).toBe(true);
      expect(await countRows('package_sets')).toBe(setsBefore + 2);
      expect(await countRows('package_set_members')).toBe(membersBefore + 3);
      expect((await getHost(store.db, b.id))?.packageSetId).toBe(setA.packageSetId);
      expect((await getHost(store.db, b.id))?.inventoryUpdatedAt).toEqual(now);
    });

    it('stores a 1,500-package set from 100 hosts of one image once', async () => {
      const packages = Array.from({ length: 1500 }, (_, i) => deb(`pkg-${i}`, `1.${i}-1`));
      const hosts = [];
      for (let i = 0; i < 100; i++) {
        hosts.push(await createHost(store.db, { name: `fleet-${i}` }, now));
      }
      const membersBefore = await countRows('package_set_members');

      const results = [];
      for (const host of hosts) {
        results.push(await setHostInventory(store.db, host.id, packages, now));
      }

      expect(results.filter((result) => result.isNewSet)).toHaveLength(1);
      expect(new Set(results.map((result) => result.packageSetId)).size).toBe(1);
      expect(await countRows('package_set_members')).toBe(membersBefore + 1500);
    });

    it('writes nothing when setHostInventory fails', async () => {
      const setsBefore = await countRows('package_sets');
      const membersBefore = await countRows('package_set_members');
      const packages = [deb('never-stored', '1.0-1'), deb('also-never-stored', '2.0-1')];

      const attempt = setHostInventory(store.db, 'no-such-host', packages, now);

      await expect(attempt).rejects.toMatchObject({ code: 'HOST_NOT_FOUND', status: 404 });
      expect(await countRows('package_sets')).toBe(setsBefore);
      expect(await countRows('package_set_members')).toBe(membersBefore);
      expect(await getPackageSet(store.db, packageSetId(packages))).toBeNull();
    });

    it('lists every host exactly once across cursor pages, in id order', async () => {
      const all: string[] = [];
      let after: string | null = null;
      let pages = 0;

      do {
        const page = await listHosts(store.db, { after, limit: 7 });
        expect(page.hosts.length).toBeLessThanOrEqual(7);
        all.push(...page.hosts.map((host) => host.id));
        after = page.nextCursor;
        pages++;
      } while (after !== null);

      const { count } = await store.db
        .selectFrom('hosts')
        .select((eb) => eb.fn.countAll().as('count'))
        .executeTakeFirstOrThrow();
      expect(all).toHaveLength(Number(count));
      expect(new Set(all).size).toBe(all.length);
      expect(pages).toBe(Math.ceil(all.length / 7));
      const sorted = (await listHosts(store.db, { limit: 1000 })).hosts.map((host) => host.id);
      expect(all).toEqual(sorted);
    });

    it.each([0, -1, 1001, 2.5])('refuses the page size %s with INVALID_PAGE_SIZE', async (limit) => {
      await expect(listHosts(store.db, { limit })).rejects.toMatchObject({
        code: 'INVALID_PAGE_SIZE',
      });
    });
  });
}
