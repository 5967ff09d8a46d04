import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { InstalledPackage } from '@patchwarden/core';
import { describe, expect, it } from 'vitest';
import { createCheckinClient, inventoryDelta, ServerError, ServerUnreachableError } from './checkin.js';

function deb(name: string, version: string, architecture: string | null = 'amd64'): InstalledPackage {
  return { name, version, architecture, source: null, ecosystem: 'deb' };
}

describe('inventoryDelta', () => {
  it('upserts new and changed packages and removes gone ones', () => {
    const sent = [deb('a', '1'), deb('b', '1'), deb('c', '1')];
    const now = [deb('a', '1'), deb('b', '2'), deb('d', '1')];

    expect(inventoryDelta(sent, now)).toEqual({
      upsert: [deb('b', '2'), deb('d', '1')],
      remove: [{ ecosystem: 'deb', name: 'c', architecture: 'amd64' }],
    });
  });

  it('is null when a package is installed in two versions at once (RPM kernels: send full)', () => {
    expect(inventoryDelta([deb('k', '1')], [deb('k', '1'), deb('k', '2')])).toBeNull();
  });
});

describe('createCheckinClient', () => {
  it('gzips large bodies, sends the node key, and turns error bodies into ServerError', async () => {
    const seen: Array<{ encoding: string | undefined; auth: string | undefined; body: unknown }> = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        seen.push({
          encoding: req.headers['content-encoding'],
          auth: req.headers.authorization,
          body: JSON.parse(text),
        });
        res.statusCode = seen.length === 1 ? 200 : 409;
        res.setHeader('content-type', 'application/json');
        res.end(
          seen.length === 1
            ? JSON.stringify({ checkinIntervalSeconds: 60, inventory: 'ok', jobs: [] })
            : JSON.stringify({
                error: { code: 'DELTA_REPLAYED', message: 'stale', details: { storedSeq: 3 } },
              }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = createCheckinClient({ serverUrl: `http://127.0.0.1:${port}/` });
    const packages = Array.from({ length: 200 }, (_, i) => deb(`pkg-${i}`, '1.0'));
    try {
      const reply = await client.checkin('pwn_x', { seq: 1, full: { osRelease: 'ID=debian\n', packages } });
      const refused = await client.checkin('pwn_x', { seq: 2 }).catch((err: unknown) => err);

      expect(reply.checkinIntervalSeconds).toBe(60);
      expect(seen[0]?.encoding).toBe('gzip');
      expect(seen[0]?.auth).toBe('Bearer pwn_x');
      expect(seen[0]?.body).toMatchObject({ full: { packages: expect.any(Array) } });
      expect(JSON.stringify(seen[0]?.body)).toContain('pkg-199');
      expect(seen[1]?.encoding).toBeUndefined();
      expect(refused).toBeInstanceOf(ServerError);
      expect(refused).toMatchObject({ code: 'DELTA_REPLAYED', httpStatus: 409, details: { storedSeq: 3 } });
    } finally {
      server.close();
    }
  });

  it('reports a server that is away as ServerUnreachableError', async () => {
    const client = createCheckinClient({ serverUrl: 'http://127.0.0.1:9', timeoutMs: 2000 });

    await expect(client.checkin('pwn_x', { seq: 0 })).rejects.toBeInstanceOf(ServerUnreachableError);
  });
});
