import type { FastifyInstance } from 'fastify';

/** /api/v1/tokens — not built yet. */
export async function tokensRoutes(_app: FastifyInstance): Promise<void> {}
