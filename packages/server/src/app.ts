import swagger from '@fastify/swagger';
import type { Store } from '@patchwarden/store';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import { registerAuth } from './plugins/auth.js';
import { registerErrorHandler } from './plugins/errors.js';
import { registerGzipRequests } from './plugins/gzip.js';
import { createMetrics, type Metrics } from './plugins/metrics.js';
import { healthRoutes } from './routes/health/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    store: Store;
    /** The clock; tests pass a fixed one. */
    now: () => Date;
    metrics: Metrics;
    /** False while the database does not answer; `/readyz` reports it. */
    isDatabaseReady: () => Promise<boolean>;
  }
}

export interface AppDeps {
  config: Config;
  store: Store;
  now?: () => Date;
  /** A pino logger instance or Fastify logger options; default: pino at `config.logLevel`. */
  logger?: FastifyServerOptions['loggerInstance'];
}

export const API_PREFIX = '/api/v1';

/**
 * The Fastify app over an open, migrated store: plugins, then one route plugin per resource.
 * It does not listen or schedule anything; `startServer` does.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger === undefined
      ? { logger: { level: deps.config.logLevel, redact: ['req.headers.authorization'] } }
      : { loggerInstance: deps.logger }),
    bodyLimit: deps.config.bodyLimitBytes,
    // Schema errors for every field, not only the first.
    ajv: { customOptions: { allErrors: true, removeAdditional: false, coerceTypes: 'array' } },
  });
  app.decorate('config', deps.config);
  app.decorate('store', deps.store);
  app.decorate('now', deps.now ?? (() => new Date()));
  app.decorate('metrics', createMetrics(app));
  app.decorate('isDatabaseReady', () => isDatabaseReady(deps.store));

  registerErrorHandler(app);
  registerGzipRequests(app);
  registerAuth(app);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Patchwarden API',
        version: '1',
        description:
          'Operators authenticate with `Authorization: Bearer pwt_…`, agents with their node key `pwn_…`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  await app.register(healthRoutes);
  await app.register(
    async (api) => {
      api.get('/openapi.json', { config: { auth: 'public' }, schema: { hide: true } }, async () =>
        app.swagger(),
      );
      // One plugin per resource, each with its prefix.
    },
    { prefix: API_PREFIX },
  );
  return app;
}

async function isDatabaseReady(store: Store): Promise<boolean> {
  try {
    await store.db.selectFrom('revisions').select('name').limit(1).execute();
    return true;
  } catch {
    return false;
  }
}
