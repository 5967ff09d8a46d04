import type { FastifyInstance } from 'fastify';

/** /api/v1/feeds — not built yet. */
export async function feedsRoutes(_app: FastifyInstance): Promise<void> {}
