import type { FastifyInstance } from 'fastify';

/** /api/v1/findings — not built yet. */
export async function findingsRoutes(_app: FastifyInstance): Promise<void> {}
