import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer, testDialects } from './harness.js';

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `server/app on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let server: TestServer;
      beforeAll(async () => {
        server = await createTestServer(dialect, { bodyLimitBytes: 4096 });
      });
      afterAll(async () => {
        await server?.close();
      });

      it('answers /healthz and /readyz without a token', async () => {
        const health = await server.request({ method: 'GET', url: '/healthz', token: null });
        const ready = await server.request({ method: 'GET', url: '/readyz', token: null });

        expect([health.statusCode, health.json()]).toEqual([200, { status: 'ok' }]);
        expect([ready.statusCode, ready.json()]).toEqual([200, { status: 'ready' }]);
      });

      it('serves Prometheus metrics', async () => {
        const response = await server.request({ method: 'GET', url: '/metrics', token: null });

        expect(response.statusCode).toBe(200);
        expect(response.body).toContain('patchwarden_http_request_duration_seconds_bucket');
        expect(response.body).toContain('patchwarden_process_resident_memory_bytes');
      });

      it('serves an OpenAPI 3 document', async () => {
        const response = await server.request({ method: 'GET', url: '/api/v1/openapi.json', token: null });

        expect(response.statusCode).toBe(200);
        expect(response.json().openapi).toMatch(/^3\./);
      });

      it('answers unknown routes with ROUTE_NOT_FOUND', async () => {
        const response = await server.request({ method: 'GET', url: '/api/v1/nothing-here' });

        expect([response.statusCode, response.json().error.code]).toEqual([404, 'ROUTE_NOT_FOUND']);
      });

      it('refuses a body over the limit before routing, also when gzip hides its size', async () => {
        const big = JSON.stringify({ pad: 'x'.repeat(10_000) });
        const plain = await server.request({
          method: 'POST',
          url: '/api/v1/openapi.json',
          payload: big,
          headers: { 'content-type': 'application/json' },
        });
        const bomb = await server.request({
          method: 'POST',
          url: '/api/v1/openapi.json',
          payload: gzipSync(big),
          headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        });

        expect([plain.statusCode, plain.json().error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
        expect([bomb.statusCode, bomb.json().error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
      });

      it('answers a body that is not gzip with MALFORMED_GZIP and unknown encodings with 415', async () => {
        const notGzip = await server.request({
          method: 'POST',
          url: '/api/v1/openapi.json',
          payload: '{"a":1}',
          headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        });
        const brotli = await server.request({
          method: 'POST',
          url: '/api/v1/openapi.json',
          payload: '{"a":1}',
          headers: { 'content-type': 'application/json', 'content-encoding': 'br' },
        });

        expect([notGzip.statusCode, notGzip.json().error.code]).toEqual([400, 'MALFORMED_GZIP']);
        expect([brotli.statusCode, brotli.json().error.code]).toEqual([415, 'UNSUPPORTED_CONTENT_ENCODING']);
      });
    },
  );
}
