import type { FastifyInstance } from 'fastify';

/** /api/v1/groups — not built yet. */
export async function groupsRoutes(_app: FastifyInstance): Promise<void> {}
