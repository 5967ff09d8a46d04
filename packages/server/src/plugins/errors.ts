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
