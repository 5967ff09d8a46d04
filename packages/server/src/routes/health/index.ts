import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

const Status = Type.Object({ status: Type.String() });

/** Liveness, readiness (the database answers) and Prometheus metrics; no authentication. */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', { config: { auth: 'public' }, schema: { response: { 200: Status } } }, async () => ({
    status: 'ok',
  }));
  app.get(
    '/readyz',
    { config: { auth: 'public' }, schema: { response: { 200: Status, 503: Status } } },
    async (_request, reply) =>
      (await app.isDatabaseReady())
        ? { status: 'ready' }
        : reply.status(503).send({ status: 'database unavailable' }),
  );
  app.get('/metrics', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics()),
  );
}
