import { PatchwardenError } from '@patchwarden/core';
import type { FastifyError, FastifyInstance } from 'fastify';

/** The body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** Fastify's own error codes, as our stable codes. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  // zlib, from a gzip request body that is not gzip or is cut short.
  Z_DATA_ERROR: 'MALFORMED_GZIP',
  Z_BUF_ERROR: 'MALFORMED_GZIP',
};

/**
 * Our errors and schema errors keep their status and code; anything else is logged and answered
 * with a bare 500, so internals never leak.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | PatchwardenError | Error, request, reply) => {
    if (err instanceof PatchwardenError) {
      if (err.status >= 500) {
        request.log.error({ err }, 'request failed');
      }
      const details = (err as { details?: unknown }).details;
      return reply.status(err.status).send({
        error: { code: err.code, message: err.message, ...(details === undefined ? {} : { details }) },
      });
    }
    const fastifyError = err as FastifyError;
    if (fastifyError.validation !== undefined) {
      const details = fastifyError.validation.map((v) => ({
        path: `${fastifyError.validationContext ?? 'body'}${v.instancePath}`,
        message: v.message,
      }));
      return reply.status(400).send({
        error: {
          code: 'INVALID_REQUEST',
          message: details.map((d) => `${d.path}: ${d.message}`).join('; '),
          details,
        },
      });
    }
    if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode < 500) {
      const code = FASTIFY_CODES[fastifyError.code] ?? 'BAD_REQUEST';
      return reply.status(fastifyError.statusCode).send({ error: { code, message: err.message } });
    }
    if (isDatabaseUnavailable(err)) {
      request.log.warn({ err: err.message }, 'database unavailable');
      return reply
        .status(503)
        .header('retry-after', '5')
        .send({
          error: { code: 'DATABASE_UNAVAILABLE', message: 'the database is not reachable; retry shortly' },
        });
    }
    request.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal server error' } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: {
        code: 'ROUTE_NOT_FOUND',
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
      },
    }),
  );
}

// PostgreSQL: connection failures, admin shutdown, cannot connect now, and node's socket errors.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
]);

/** True for errors meaning "the database is away" rather than "this request is wrong". */
function isDatabaseUnavailable(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  if (
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(err.message)
  ) {
    return true;
  }
  return (
    err instanceof AggregateError &&
    err.errors.some((inner) => inner instanceof Error && isDatabaseUnavailable(inner))
  );
}
