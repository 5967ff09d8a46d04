import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadFeedSource } from './index.js';

/** A real HTTP server on 127.0.0.1 that honours ETag / If-Modified-Since like a CDN does. */
interface Resource {
  body: Buffer;
  etag?: string;
  lastModified?: string;
  status?: number;
  /** Omit Content-Length (chunked transfer). */
  chunked?: boolean;
  /** Never answer. */
  hang?: boolean;
}

let server: Server;
let base: string;
let cacheDir: string;
const resources = new Map<string, Resource>();
const requests: Array<{ path: string; headers: IncomingHttpHeaders; status: number }> = [];

function startServer(): Promise<void> {
  server = createServer((req, res) => {
    const resource = resources.get(req.url ?? '');
    const log = (status: number) => requests.push({ path: req.url ?? '', headers: req.headers, status });
    if (!resource) {
      log(404);
      res.writeHead(404).end('not found');
      return;
    }
    if (resource.hang) {
      log(0);
      return;
    }
    if (resource.status) {
      log(resource.status);
      res.writeHead(resource.status).end('boom');
      return;
    }
    const matchesEtag = resource.etag !== undefined && req.headers['if-none-match'] === resource.etag;
    const notModifiedSince =
      resource.etag === undefined &&
      resource.lastModified !== undefined &&
      req.headers['if-modified-since'] === resource.lastModified;
    if (matchesEtag || notModifiedSince) {
      log(304);
      res.writeHead(304).end();
      return;
    }
    log(200);
    const headers: Record<string, string> = {};
    if (resource.etag) headers.etag = resource.etag;
    if (resource.lastModified) headers['last-modified'] = resource.lastModified;
    if (!resource.chunked) headers['content-length'] = String(resource.body.length);
    res.writeHead(200, headers);
    res.end(resource.body);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve();
    });
  });
}

beforeAll(startServer);
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'pw-feed-cache-'));
  resources.clear();
  requests.length = 0;
});
afterEach(async () => {
  server.closeAllConnections();
  await rm(cacheDir, { recursive: true, force: true });
});

const T0 = new Date('2025-03-01T10:00:00Z');

describe('feeds/loadFeedSource over http', () => {
  it('stores ETag and Last-Modified, sends them back, and serves the cache on 304', async () => {
    resources.set('/kev.json', {
      body: Buffer.from('{"catalogVersion":"1"}'),
      etag: '"v1"',
      lastModified: 'Tue, 25 Feb 2025 08:00:00 GMT',
    });
    const url = `${base}/kev.json`;

    const first = await loadFeedSource(url, { cacheDir, now: () => T0 });
    const second = await loadFeedSource(url, { cacheDir, now: () => T0 });

    expect(first.documents).toEqual([
      {
        location: url,
        name: 'kev.json',
        text: '{"catalogVersion":"1"}',
        timestamp: '2025-02-25T08:00:00.000Z',
      },
    ]);
    expect(second.documents).toEqual(first.documents);
    expect(second.warnings).toEqual([]);
    expect(requests.map((r) => r.status)).toEqual([200, 304]);
    expect(requests[0]?.headers['if-none-match']).toBeUndefined();
    expect(requests[1]?.headers['if-none-match']).toBe('"v1"');
    expect(requests[1]?.headers['if-modified-since']).toBe('Tue, 25 Feb 2025 08:00:00 GMT');
    expect((await readdir(cacheDir)).sort()).toHaveLength(2);
  });

  it('uses If-Modified-Since alone when the server sends no ETag', async () => {
    resources.set('/list', {
      body: Buffer.from('[01 Jan 2024] DSA-1-1 x - y\n'),
      lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT',
    });

    await loadFeedSource(`${base}/list`, { cacheDir, now: () => T0 });
    const again = await loadFeedSource(`${base}/list`, { cacheDir, now: () => T0 });

    expect(requests.map((r) => r.status)).toEqual([200, 304]);
    expect(requests[1]?.headers['if-modified-since']).toBe('Mon, 01 Jan 2024 00:00:00 GMT');
    expect(again.documents[0]?.text).toBe('[01 Jan 2024] DSA-1-1 x - y\n');
  });

  it('downloads again when the resource changed, and stamps it with the fetch time when there is no Last-Modified', async () => {
    resources.set('/feed.json', { body: Buffer.from('"one"'), etag: '"a"' });
    await loadFeedSource(`${base}/feed.json`, { cacheDir, now: () => T0 });
    resources.set('/feed.json', { body: Buffer.from('"two"'), etag: '"b"' });

    const later = new Date('2025-03-02T10:00:00Z');
    const feed = await loadFeedSource(`${base}/feed.json`, { cacheDir, now: () => later });

    expect(feed.documents[0]).toMatchObject({ text: '"two"', timestamp: '2025-03-02T10:00:00.000Z' });
    expect(requests.map((r) => [r.status, r.headers['if-none-match']])).toEqual([
      [200, undefined],
      [200, '"a"'],
    ]);
  });

  it('gunzips a downloaded .csv.gz', async () => {
    resources.set('/epss_scores-2025-03-01.csv.gz', {
      body: gzipSync('cve,epss,percentile\nCVE-2024-1,0.1,0.2\n'),
    });

    const feed = await loadFeedSource(`${base}/epss_scores-2025-03-01.csv.gz`, { cacheDir, now: () => T0 });

    expect(feed.documents[0]).toMatchObject({
      name: 'epss_scores-2025-03-01.csv',
      text: 'cve,epss,percentile\nCVE-2024-1,0.1,0.2\n',
    });
  });

  it('falls back to the cache with a warning naming the URL and its age when the server is down or failing', async () => {
    resources.set('/kev.json', { body: Buffer.from('{"v":1}'), etag: '"v1"' });
    const url = `${base}/kev.json`;
    await loadFeedSource(url, { cacheDir, now: () => T0 });
    resources.set('/kev.json', { body: Buffer.alloc(0), status: 503 });

    const threeHoursLater = new Date(T0.getTime() + 3 * 3600_000);
    const feed = await loadFeedSource(url, { cacheDir, now: () => threeHoursLater });

    expect(feed.documents[0]?.text).toBe('{"v":1}');
    expect(feed.warnings).toEqual([
      `${url}: HTTP 503 Service Unavailable; using the cached copy fetched 2025-03-01T10:00:00.000Z (3 h old)`,
    ]);
  });

  it('falls back to the cache when the connection is refused, and fails without one', async () => {
    const other = createServer((_req, res) => res.writeHead(200, { etag: '"x"' }).end('[]'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}/a.json`;
    await loadFeedSource(url, { cacheDir, now: () => T0 });
    await new Promise<void>((resolve) => other.close(() => resolve()));

    const feed = await loadFeedSource(url, { cacheDir, now: () => T0 });

    expect(feed.documents[0]?.text).toBe('[]');
    expect(feed.warnings).toHaveLength(1);
    expect(feed.warnings[0]?.startsWith(`${url}: fetch failed: connect ECONNREFUSED`)).toBe(true);
    expect(feed.warnings[0]).toContain('using the cached copy fetched 2025-03-01T10:00:00.000Z (0 s old)');
    await expect(
      loadFeedSource(url.replace('a.json', 'b.json'), { cacheDir, now: () => T0 }),
    ).rejects.toMatchObject({
      code: 'FEED_UNREACHABLE',
      message: expect.stringContaining(
        `cannot fetch ${url.replace('a.json', 'b.json')}: fetch failed: connect ECONNREFUSED`,
      ),
    });
  });

  it('fails with FEED_UNREACHABLE naming the URL when there is no cached copy', async () => {
    await expect(loadFeedSource(`${base}/missing.json`, { cacheDir, now: () => T0 })).rejects.toMatchObject({
      code: 'FEED_UNREACHABLE',
      message: `cannot fetch ${base}/missing.json: HTTP 404 Not Found`,
    });
  });

  it('gives up on a server that sends nothing within the timeout', async () => {
    resources.set('/slow.json', { body: Buffer.alloc(0), hang: true });

    const started = Date.now();
    await expect(loadFeedSource(`${base}/slow.json`, { cacheDir, timeoutMs: 200 })).rejects.toMatchObject({
      code: 'FEED_UNREACHABLE',
      message: expect.stringContaining('no data from the server for 200 ms'),
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses bodies over the limit, with or without Content-Length, even with a cached copy', async () => {
    resources.set('/big.json', { body: Buffer.alloc(5000, 0x20) });
    resources.set('/big-chunked.json', { body: Buffer.alloc(5000, 0x20), chunked: true });

    for (const path of ['/big.json', '/big-chunked.json']) {
      await expect(loadFeedSource(`${base}${path}`, { cacheDir, maxBytes: 1000 })).rejects.toMatchObject({
        code: 'FEED_TOO_LARGE',
      });
    }
    expect(await readdir(cacheDir).catch(() => [])).toEqual([]);
  });

  it('serves only the cache in offline mode, and fails without one', async () => {
    resources.set('/k.json', { body: Buffer.from('{}'), etag: '"1"' });
    await loadFeedSource(`${base}/k.json`, { cacheDir, now: () => T0 });

    const feed = await loadFeedSource(`${base}/k.json`, { cacheDir, now: () => T0, offline: true });

    expect(feed.documents[0]?.text).toBe('{}');
    expect(feed.warnings[0]).toContain('offline');
    expect(requests).toHaveLength(1);
    await expect(loadFeedSource(`${base}/other.json`, { cacheDir, offline: true })).rejects.toMatchObject({
      code: 'FEED_UNREACHABLE',
    });
  });
});
