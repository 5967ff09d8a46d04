import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { PatchwardenError } from '@patchwarden/core';
import type { FastifyInstance } from 'fastify';

/**
 * Accepts `Content-Encoding: gzip` request bodies. The body limit applies to the decompressed bytes
 * (Fastify counts what this stream yields), so a small compressed bomb is refused as too large.
 * Other encodings are refused with UNSUPPORTED_CONTENT_ENCODING (415).
 */
export function registerGzipRequests(app: FastifyInstance): void {
  app.addHook('preParsing', async (request, _reply, payload) => {
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding === undefined || encoding === '' || encoding === 'identity') {
      return payload;
    }
    if (encoding !== 'gzip') {
      throw new PatchwardenError(
        'UNSUPPORTED_CONTENT_ENCODING',
        `Content-Encoding ${JSON.stringify(encoding)} is not accepted; send gzip or an uncompressed body`,
        415,
      );
    }
    let encodedLength = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        encodedLength += chunk.length;
        done(null, chunk);
      },
    });
    const gunzip = createGunzip();
    const decoded = Object.defineProperty(gunzip, 'receivedEncodedLength', { get: () => encodedLength });
    gunzip.on('error', () => {
      // Fastify sees the stream's error and answers 400; this only stops the raw stream.
      payload.unpipe(counter);
    });
    payload.pipe(counter).pipe(gunzip);
    return decoded;
  });
}
