import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PatchwardenError } from '@patchwarden/core';
import { baseName, decodeFeedBuffer, messageOf, tooLarge } from './decode.js';
import type { LoadedDocument, SkippedFile } from './types.js';

/** What the cache keeps beside each body: the validators to send next time and when the body was fetched. */
export interface CacheMeta {
  url: string;
  etag: string | null;
  lastModified: string | null;
  /** RFC 3339: when this body was downloaded. */
  fetchedAt: string;
  /** RFC 3339: when the server last confirmed it (200 or 304). */
  validatedAt: string;
  bytes: number;
}

export interface UrlLoadContext {
  cacheDir: string;
  fetch: typeof fetch;
  now: () => Date;
  maxBytes: number;
  timeoutMs: number;
  offline: boolean;
}

interface UrlLoad {
  documents: LoadedDocument[];
  skipped: SkippedFile[];
  warnings: string[];
}

/**
 * Fetches `url` through the cache: sends `If-None-Match` / `If-Modified-Since` from the cached copy,
 * serves the cache on 304, stores a 200 body with its `ETag` and `Last-Modified`. When the server cannot be
 * reached (network error, timeout, non-2xx status), the cached copy is used with a warning naming the URL and
 * its age; without one it throws FEED_UNREACHABLE. FEED_TOO_LARGE is never masked by the cache.
 */
export async function loadUrl(url: string, ctx: UrlLoadContext): Promise<UrlLoad> {
  const paths = cachePaths(ctx.cacheDir, url);
  const cached = await readCache(paths, url);
  const warnings: string[] = [];

  let body: Buffer;
  let meta: CacheMeta;
  if (ctx.offline) {
    if (!cached) throw unreachable(url, 'offline mode and no cached copy');
    ({ body, meta } = cached);
    warnings.push(
      `${url}: offline, using the cached copy fetched ${meta.fetchedAt} (${age(ctx.now(), meta.fetchedAt)} old)`,
    );
  } else {
    let outcome: FetchOutcome;
    try {
      outcome = await conditionalFetch(url, cached?.meta ?? null, ctx);
    } catch (err) {
      if (err instanceof PatchwardenError && err.code === 'FEED_TOO_LARGE') throw err;
      if (!cached) throw unreachable(url, messageOf(err), err);
      outcome = { kind: 'failed', reason: messageOf(err) };
    }
    const nowIso = ctx.now().toISOString();
    if (outcome.kind === 'fresh') {
      body = outcome.body;
      meta = {
        url,
        etag: outcome.etag,
        lastModified: outcome.lastModified,
        fetchedAt: nowIso,
        validatedAt: nowIso,
        bytes: body.length,
      };
      await writeCache(paths, body, meta);
    } else if (outcome.kind === 'not-modified' && cached) {
      body = cached.body;
      meta = { ...cached.meta, validatedAt: nowIso };
      await writeFile(paths.meta, `${JSON.stringify(meta, null, 2)}\n`);
    } else {
      const reason =
        outcome.kind === 'failed' ? outcome.reason : 'server answered 304 Not Modified but nothing is cached';
      if (!cached) throw unreachable(url, reason);
      ({ body, meta } = cached);
      warnings.push(
        `${url}: ${reason}; using the cached copy fetched ${meta.fetchedAt} (${age(ctx.now(), meta.fetchedAt)} old)`,
      );
    }
  }

  const name = baseName(safeDecode(new URL(url).pathname)) || new URL(url).hostname;
  const timestamp = meta.lastModified ? (toIso(meta.lastModified) ?? meta.fetchedAt) : meta.fetchedAt;
  const decoded = await decodeFeedBuffer(body, { location: url, name, timestamp }, ctx.maxBytes);
  return { ...decoded, warnings };
}

type FetchOutcome =
  | { kind: 'fresh'; body: Buffer; etag: string | null; lastModified: string | null }
  | { kind: 'not-modified' }
  | { kind: 'failed'; reason: string };

async function conditionalFetch(
  url: string,
  cached: CacheMeta | null,
  ctx: UrlLoadContext,
): Promise<FetchOutcome> {
  const headers: Record<string, string> = { 'user-agent': 'patchwarden-feed-loader' };
  if (cached?.etag) headers['if-none-match'] = cached.etag;
  if (cached?.lastModified) headers['if-modified-since'] = cached.lastModified;

  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const armTimer = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => controller.abort(new Error(`no data from the server for ${ctx.timeoutMs} ms`)),
      ctx.timeoutMs,
    );
  };
  armTimer();
  try {
    const response = await ctx.fetch(url, { headers, signal: controller.signal, redirect: 'follow' });
    if (response.status === 304) {
      await response.body?.cancel();
      return { kind: 'not-modified' };
    }
    if (!response.ok) {
      await response.body?.cancel();
      return {
        kind: 'failed',
        reason: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
      };
    }
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared > ctx.maxBytes) {
      await response.body?.cancel();
      throw tooLarge(url, declared, ctx.maxBytes);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    if (response.body) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        armTimer();
        total += value.byteLength;
        if (total > ctx.maxBytes) {
          await reader.cancel();
          throw tooLarge(url, null, ctx.maxBytes);
        }
        chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      }
    }
    return {
      kind: 'fresh',
      body: Buffer.concat(chunks, total),
      etag: response.headers.get('etag'),
      lastModified: response.headers.get('last-modified'),
    };
  } catch (err) {
    if (err instanceof PatchwardenError) throw err;
    // An abort surfaces as an AbortError whose cause is our timeout message; fetch failures carry the socket error as cause.
    const cause = controller.signal.aborted ? controller.signal.reason : (err as { cause?: unknown }).cause;
    throw new Error(cause ? `${messageOf(err)}: ${messageOf(cause)}` : messageOf(err), { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

interface CachePaths {
  body: string;
  meta: string;
}

/** One body and one meta file per URL, named by the URL's SHA-256 so any URL maps to a safe file name. */
function cachePaths(cacheDir: string, url: string): CachePaths {
  const key = createHash('sha256').update(url).digest('hex').slice(0, 32);
  return { body: join(cacheDir, `${key}.body`), meta: join(cacheDir, `${key}.meta.json`) };
}

/** The cached copy, or null when there is none or it is incomplete (a body that does not match its meta is not trusted). */
async function readCache(paths: CachePaths, url: string): Promise<{ body: Buffer; meta: CacheMeta } | null> {
  let meta: CacheMeta;
  try {
    meta = JSON.parse(await readFile(paths.meta, 'utf8')) as CacheMeta;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return null;
    throw err;
  }
  if (meta.url !== url || typeof meta.fetchedAt !== 'string') return null;
  try {
    if ((await stat(paths.body)).size !== meta.bytes) return null;
    return { body: await readFile(paths.body), meta };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Body first, then meta, each by rename: a crash leaves the old pair or a body the size check rejects. */
async function writeCache(paths: CachePaths, body: Buffer, meta: CacheMeta): Promise<void> {
  await mkdir(join(paths.body, '..'), { recursive: true });
  await writeFile(`${paths.body}.tmp`, body);
  await rename(`${paths.body}.tmp`, paths.body);
  await writeFile(`${paths.meta}.tmp`, `${JSON.stringify(meta, null, 2)}\n`);
  await rename(`${paths.meta}.tmp`, paths.meta);
}

function unreachable(url: string, reason: string, cause?: unknown): PatchwardenError {
  return new PatchwardenError('FEED_UNREACHABLE', `cannot fetch ${url}: ${reason}`, 502, { cause });
}

/** A rough age for people: `40 s`, `12 min`, `5 h`, `3 days`. */
export function age(now: Date, since: string): string {
  const seconds = Math.max(0, Math.round((now.getTime() - Date.parse(since)) / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}

function toIso(httpDate: string): string | null {
  const ms = Date.parse(httpDate);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch (err) {
    if (err instanceof URIError) return text;
    throw err;
  }
}
