import type { FastifyInstance } from 'fastify';

/** /api/v1/summary — not built yet. */
export async function summaryRoutes(_app: FastifyInstance): Promise<void> {}
