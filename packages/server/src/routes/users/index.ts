import type { FastifyInstance } from 'fastify';

/** /api/v1/users — not built yet. */
export async function usersRoutes(_app: FastifyInstance): Promise<void> {}
