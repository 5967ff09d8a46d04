import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  consumeEnrollmentSecret,
  createEnrollmentSecret,
  listEnrollmentSecrets,
  migrateToLatest,
  revokeEnrollmentSecret,
} from '../src/index.js';
import { type TestStore, testDialects } from './dialects.js';

const t0 = new Date('2026-11-22T10:00:00.000Z');
const later = new Date('2026-12-22T10:00:00.000Z');

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `store/enrollment-secrets on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let store: TestStore;
      beforeEach(async () => {
        store = await dialect.open();
        await migrateToLatest(store.db);
        await store.db
          .insertInto('host_groups')
          .values({
            id: 'web',
            name: 'web',
            parent_id: null,
            description: null,
            created_at: t0.toISOString(),
          })
          .execute();
      });
      afterEach(async () => {
        await store?.dispose();
      });

      function consume(hash: string, now = t0) {
        return store.db.transaction().execute((trx) => consumeEnrollmentSecret(trx, hash, now));
      }

      it('counts uses up to the maximum and then refuses', async () => {
        const secret = await createEnrollmentSecret(
          store.db,
          { name: 'web', secretHash: 'h1', groupId: 'web', maxUses: 2 },
          t0,
        );

        const first = await consume('h1');
        const second = await consume('h1');

        expect([first.useCount, second.useCount, second.groupId]).toEqual([1, 2, 'web']);
        await expect(consume('h1')).rejects.toMatchObject({ code: 'ENROLL_SECRET_EXHAUSTED', status: 401 });
        expect((await listEnrollmentSecrets(store.db)).map((s) => [s.id, s.useCount])).toEqual([
          [secret.id, 2],
        ]);
      });

      it('refuses unknown, expired and revoked secrets', async () => {
        await createEnrollmentSecret(
          store.db,
          { name: 'soon', secretHash: 'h2', expiresAt: new Date('2026-12-01T00:00:00Z') },
          t0,
        );
        const revoked = await createEnrollmentSecret(store.db, { name: 'gone', secretHash: 'h3' }, t0);

        const revocation = await revokeEnrollmentSecret(store.db, revoked.id, t0);
        const again = await revokeEnrollmentSecret(store.db, revoked.id, later);

        await expect(consume('nope')).rejects.toMatchObject({ code: 'INVALID_ENROLL_SECRET', status: 401 });
        await expect(consume('h2', later)).rejects.toMatchObject({ code: 'ENROLL_SECRET_EXPIRED' });
        await expect(consume('h3')).rejects.toMatchObject({ code: 'ENROLL_SECRET_REVOKED' });
        expect([revocation.isNewlyRevoked, again.isNewlyRevoked]).toEqual([true, false]);
        expect(again.secret.revokedAt?.toISOString()).toBe(t0.toISOString());
        await expect(revokeEnrollmentSecret(store.db, 'missing', t0)).rejects.toMatchObject({
          code: 'ENROLL_SECRET_NOT_FOUND',
        });
        expect((await consume('h2')).useCount).toBe(1);
      });

      it('refuses a group that does not exist', async () => {
        await expect(
          createEnrollmentSecret(store.db, { name: 'x', secretHash: 'h4', groupId: 'nope' }, t0),
        ).rejects.toMatchObject({ code: 'GROUP_NOT_FOUND', status: 404 });
      });
    },
  );
}
