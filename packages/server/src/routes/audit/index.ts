import type { FastifyInstance } from 'fastify';

/** /api/v1/audit — not built yet. */
export async function auditRoutes(_app: FastifyInstance): Promise<void> {}
