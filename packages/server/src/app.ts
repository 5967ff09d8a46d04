import { join } from 'node:path';
import swagger from '@fastify/swagger';
import type { Store } from '@patchwarden/store';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import { createDetectionService } from './detection/service.js';
import type { DetectionService } from './detection/types.js';
import { createFeedSync, type FeedSyncService } from './feeds/sync.js';
import { registerAuth } from './plugins/auth.js';
import { registerErrorHandler } from './plugins/errors.js';
import { registerGzipRequests } from './plugins/gzip.js';
import { createMetrics, type Metrics } from './plugins/metrics.js';
import { advisoriesRoutes } from './routes/advisories/index.js';
import { agentRoutes } from './routes/agent/index.js';
import { auditRoutes } from './routes/audit/index.js';
import { enrollSecretsRoutes } from './routes/enroll-secrets/index.js';
import { feedsRoutes } from './routes/feeds/index.js';
import { findingsRoutes } from './routes/findings/index.js';
import { groupsRoutes } from './routes/groups/index.js';
import { healthRoutes } from './routes/health/index.js';
import { hostsRoutes } from './routes/hosts/index.js';
import { agentJobsRoutes, jobsRoutes } from './routes/jobs/index.js';
import { patchesRoutes } from './routes/patches/index.js';
import { summaryRoutes } from './routes/summary/index.js';
import { tokensRoutes } from './routes/tokens/index.js';
import { usersRoutes } from './routes/users/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    store: Store;
    /** The clock; tests pass a fixed one. */
    now: () => Date;
    metrics: Metrics;
    /** False while the database does not answer; `/readyz` reports it. */
    isDatabaseReady: () => Promise<boolean>;
    detection: DetectionService;
    feedSync: FeedSyncService;
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
  app.decorate('detection', createDetectionService({ store: deps.store, log: app.log, now: app.now }));
  app.decorate(
    'feedSync',
    createFeedSync({
      store: deps.store,
      log: app.log,
      now: app.now,
      detection: app.detection,
      cacheDir: join(deps.config.dataDir, 'feed-cache'),
      metrics: app.metrics,
    }),
  );

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
      await api.register(agentRoutes, { prefix: '/agent' });
      await api.register(agentJobsRoutes, { prefix: '/agent/jobs' });
      await api.register(enrollSecretsRoutes, { prefix: '/enroll-secrets' });
      await api.register(usersRoutes, { prefix: '/users' });
      await api.register(tokensRoutes, { prefix: '/tokens' });
      await api.register(auditRoutes, { prefix: '/audit' });
      await api.register(feedsRoutes, { prefix: '/feeds' });
      await api.register(advisoriesRoutes, { prefix: '/advisories' });
      await api.register(hostsRoutes, { prefix: '/hosts' });
      await api.register(findingsRoutes, { prefix: '/findings' });
      await api.register(patchesRoutes, { prefix: '/patches' });
      await api.register(summaryRoutes, { prefix: '/summary' });
      await api.register(groupsRoutes, { prefix: '/groups' });
      await api.register(jobsRoutes, { prefix: '/jobs' });
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
