import { PatchwardenError } from '@patchwarden/core';
import { migrateToLatest, openStore, type Store } from '@patchwarden/store';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { buildApp } from './app.js';
import { bootstrapAdmin } from './bootstrap.js';
import type { Config } from './config.js';
import { seedConfiguredFeeds } from './feeds/sync.js';
import { createJobExpiryTask } from './routes/jobs/index.js';
import { createScheduler } from './scheduler.js';

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  /** `http://host:port` it listens on. */
  url: string;
  /** The first admin's token when this start created it (shown once), else null. */
  bootstrapToken: string | null;
  close(): Promise<void>;
}

export interface StartOptions {
  now?: () => Date;
  logger?: Logger;
}

/**
 * Opens and migrates the database, creates the first admin on an empty one, builds the app,
 * starts the background scheduler and listens. `close` stops all of it.
 */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const log = options.logger ?? pino({ level: config.logLevel, redact: ['req.headers.authorization'] });
  const now = options.now ?? (() => new Date());
  const store = await openStore({
    ...(config.databaseUrl === null ? { dataDir: config.dataDir } : { url: config.databaseUrl }),
    onPoolError: (err) => log.warn({ err: err.message }, 'database connection lost; the pool reconnects'),
  });
  let app: FastifyInstance | undefined;
  try {
    const applied = await migrateToLatest(store.db);
    if (applied.length > 0) {
      log.info({ migrations: applied }, 'database migrated');
    }
    const bootstrap = await bootstrapAdmin(store, { bootstrapToken: config.bootstrapToken, now: now() });
    await seedConfiguredFeeds(store, config.feeds, now(), log);
    app = await buildApp({ config, store, now, logger: log });
    await app.listen({ host: config.host, port: config.port });
    const feedSync = app.feedSync;
    const scheduler = createScheduler({
      intervalMs: config.schedulerIntervalSeconds * 1000,
      tasks: [
        { name: 'feed-sync', run: () => feedSync.runDueSyncs() },
        createJobExpiryTask({ store, log, now }),
      ],
      log,
    });
    scheduler.start();
    const address = app.server.address();
    if (address === null || typeof address === 'string') {
      throw new PatchwardenError('LISTEN_FAILED', 'the server has no TCP address', 500);
    }
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    const running = app;
    return {
      app: running,
      store,
      url,
      bootstrapToken: bootstrap?.generated === true ? bootstrap.token : null,
      close: async () => {
        await scheduler.stop();
        await running.close();
        await store.close();
      },
    };
  } catch (err) {
    await app?.close();
    await store.close();
    throw err;
  }
}
