import type { FastifyInstance } from 'fastify';

/** /api/v1/enroll-secrets — not built yet. */
export async function enrollSecretsRoutes(_app: FastifyInstance): Promise<void> {}
