import type { FastifyInstance } from 'fastify';

/** /api/v1/agent — not built yet. */
export async function agentRoutes(_app: FastifyInstance): Promise<void> {}
