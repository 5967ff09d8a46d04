import type { FastifyInstance } from 'fastify';

/** /api/v1/hosts — not built yet. */
export async function hostsRoutes(_app: FastifyInstance): Promise<void> {}
