import type { FastifyInstance } from 'fastify';

/** /api/v1/patches — not built yet. */
export async function patchesRoutes(_app: FastifyInstance): Promise<void> {}
