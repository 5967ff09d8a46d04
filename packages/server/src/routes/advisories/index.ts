import type { FastifyInstance } from 'fastify';

/** /api/v1/advisories — not built yet. */
export async function advisoriesRoutes(_app: FastifyInstance): Promise<void> {}
