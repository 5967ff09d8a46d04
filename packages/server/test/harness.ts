import { bindRole, createApiToken, createUser, migrateToLatest, type Role } from '@patchwarden/store';
import { type TestDialect, type TestStore, testDialects } from '@patchwarden/store/testing';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../src/app.js';
import { generateSecret, hashSecret } from '../src/auth/secrets.js';
import { bootstrapAdmin } from '../src/bootstrap.js';
import { type Config, loadConfig } from '../src/config.js';

export { type TestDialect, testDialects };

/** A real app on a fresh, migrated database with a bootstrapped admin, and a settable clock. */
export interface TestServer {
  app: FastifyInstance;
  store: TestStore;
  adminToken: string;
  /** The app's clock; tests move it with `clock.set`. */
  clock: { now: Date; set(at: Date | string): void; advance(ms: number): void };
  /** Calls the app with `token` (default the admin's) as the bearer token; JSON body in `payload`. */
  request(options: InjectOptions & { token?: string | null }): Promise<LightMyRequestResponse>;
  /** A new user holding `role` (optionally for one group) and an API token for them. */
  tokenFor(role: Role, groupId?: string | null): Promise<string>;
  close(): Promise<void>;
}

export const TEST_START = new Date('2026-11-22T10:00:00Z');

export async function createTestServer(
  dialect: TestDialect,
  settings: Partial<Record<keyof Config, unknown>> = {},
): Promise<TestServer> {
  const store = await dialect.open();
  await migrateToLatest(store.db);
  const clock = {
    now: new Date(TEST_START),
    set(at: Date | string) {
      clock.now = new Date(at);
    },
    advance(ms: number) {
      clock.now = new Date(clock.now.getTime() + ms);
    },
  };
  const config = loadConfig({ flags: { logLevel: 'silent', ...settings } });
  const bootstrap = await bootstrapAdmin(store, { bootstrapToken: null, now: clock.now });
  if (bootstrap === null) {
    throw new Error('a fresh test database already had users');
  }
  const app = await buildApp({ config, store, now: () => clock.now });
  await app.ready();
  let users = 0;
  return {
    app,
    store,
    adminToken: bootstrap.token,
    clock,
    request({ token, ...options }) {
      const bearer = token === undefined ? bootstrap.token : token;
      return app.inject({
        ...options,
        headers: { ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }), ...options.headers },
      });
    },
    async tokenFor(role, groupId = null) {
      users += 1;
      const user = await createUser(store.db, { email: `${role}-${users}@test` }, clock.now);
      await bindRole(store.db, { userId: user.id, role, groupId }, clock.now);
      const token = generateSecret('token');
      await createApiToken(
        store.db,
        { userId: user.id, name: `${role} test`, tokenHash: hashSecret(token), expiresAt: null },
        clock.now,
      );
      return token;
    },
    async close() {
      await app.close();
      await store.dispose();
    },
  };
}
