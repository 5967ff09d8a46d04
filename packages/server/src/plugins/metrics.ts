import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one process; each replica is scraped on its own. */
export interface Metrics {
  registry: Registry;
  checkins: Counter<'kind' | 'outcome'>;
  feedSyncs: Counter<'feed' | 'outcome'>;
  hostsEvaluated: Counter;
}

/** A registry with the process's default metrics, request durations by route, and ours. */
export function createMetrics(app: FastifyInstance): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'patchwarden_' });
  const requestDuration = new Histogram({
    name: 'patchwarden_http_request_duration_seconds',
    help: 'HTTP request durations by route and status code',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    requestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
  return {
    registry,
    checkins: new Counter({
      name: 'patchwarden_checkins_total',
      help: 'Agent check-ins by kind (full, delta) and outcome',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
    feedSyncs: new Counter({
      name: 'patchwarden_feed_syncs_total',
      help: 'Feed syncs by feed and outcome',
      labelNames: ['feed', 'outcome'],
      registers: [registry],
    }),
    hostsEvaluated: new Counter({
      name: 'patchwarden_hosts_evaluated_total',
      help: 'Host detection runs (check-ins and feed-sync re-evaluations)',
      registers: [registry],
    }),
  };
}
