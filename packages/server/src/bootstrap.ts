import {
  bindRole,
  countUsers,
  createApiToken,
  createUser,
  inTransaction,
  type Store,
} from '@patchwarden/store';
import { generateSecret, hashSecret } from './auth/secrets.js';

export const BOOTSTRAP_ADMIN_EMAIL = 'admin@localhost';

/**
 * On a database without users, creates the first admin and an API token for it: `bootstrapToken`
 * when given (PATCHWARDEN_BOOTSTRAP_TOKEN), else a random one. Returns the token when it created
 * one (the only time it exists in clear), null when users already existed. Safe for replicas
 * starting together: the user's unique email makes all but one fail, and those re-check.
 */
export async function bootstrapAdmin(
  store: Store,
  options: { bootstrapToken: string | null; now: Date },
): Promise<{ token: string; generated: boolean } | null> {
  if ((await countUsers(store.db)) > 0) {
    return null;
  }
  const token = options.bootstrapToken ?? generateSecret('token');
  try {
    await inTransaction(store.db, async (trx) => {
      const user = await createUser(
        trx,
        { email: BOOTSTRAP_ADMIN_EMAIL, displayName: 'Administrator' },
        options.now,
      );
      await bindRole(trx, { userId: user.id, role: 'admin' }, options.now);
      await createApiToken(
        trx,
        { userId: user.id, name: 'bootstrap', tokenHash: hashSecret(token), expiresAt: null },
        options.now,
      );
    });
  } catch (err) {
    if ((await countUsers(store.db)) > 0) {
      return null; // another replica bootstrapped first
    }
    throw err;
  }
  return { token, generated: options.bootstrapToken === null };
}
