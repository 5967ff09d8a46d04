import { resolve } from 'node:path';
import { loadPath } from './file.js';
import { loadUrl } from './http.js';
import {
  DEFAULT_FEED_TIMEOUT_MS,
  DEFAULT_MAX_FEED_BYTES,
  type FeedLoadOptions,
  type LoadedFeed,
} from './types.js';

export { type CollectOptions, FeedCollector, type FeedReport, type FeedRole } from './collect.js';
export { FEED_EXTENSIONS, type FeedFileKind, feedFileKind } from './decode.js';
export type { CacheMeta } from './http.js';
export {
  DEFAULT_FEED_TIMEOUT_MS,
  DEFAULT_MAX_FEED_BYTES,
  type FeedLoadOptions,
  type LoadedDocument,
  type LoadedFeed,
  type SkippedFile,
} from './types.js';

/** True when `spec` names an http(s) URL rather than a path. */
export function isFeedUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

/**
 * Loads one feed source: a file (plain, `.gz`, or a `.zip` export such as OSV's `all.zip`), a directory
 * (recursive, in name order; files that are not feeds are listed in `skipped`), or an http(s) URL fetched
 * through the conditional-request cache in `options.cacheDir`.
 *
 * Throws PatchwardenError FEED_NOT_FOUND (a path that does not exist), FEED_UNREACHABLE (a URL that cannot be
 * fetched and has no cached copy) or FEED_TOO_LARGE (over `options.maxBytes`). Corrupt archives and
 * unreadable files inside a directory are reported in `skipped`, and the rest is loaded.
 */
export async function loadFeedSource(spec: string, options: FeedLoadOptions): Promise<LoadedFeed> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_FEED_BYTES;
  if (isFeedUrl(spec)) {
    const loaded = await loadUrl(spec, {
      cacheDir: resolve(options.cacheDir),
      fetch: options.fetch ?? globalThis.fetch,
      now: options.now ?? (() => new Date()),
      maxBytes,
      timeoutMs: options.timeoutMs ?? DEFAULT_FEED_TIMEOUT_MS,
      offline: options.offline ?? false,
    });
    return { spec, ...loaded };
  }
  const loaded = await loadPath(spec, maxBytes);
  return { spec, ...loaded, warnings: [] };
}
