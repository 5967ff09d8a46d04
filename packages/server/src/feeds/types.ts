/** One feed document, ready for `detectFeedKind` and a parser: decompressed, decoded, with its provenance. */
export interface LoadedDocument {
  /** Where it came from, for evidence and messages: a path, `dir/sub/file`, `path/all.zip:DSA-5000-1.json` or a URL. */
  location: string;
  /** The document's own file name without a `.gz` suffix (`DSA-5000-1.json`, `epss_scores-2025-01-01.csv`). */
  name: string;
  /** The document as UTF-8 text, byte-order mark removed. */
  text: string;
  /**
   * When the document was produced, RFC 3339: the file's mtime, the zip entry's date, the HTTP
   * `Last-Modified` (else the time of the fetch). Null when unknown.
   */
  timestamp: string | null;
}

/** A file the loader saw and did not turn into a document: listed so that nothing is left out silently. */
export interface SkippedFile {
  location: string;
  reason: string;
}

/** Everything one feed source (`--advisories PATH|URL`) gave. */
export interface LoadedFeed {
  /** The source as given. */
  spec: string;
  /** Documents in a stable order: directory entries and zip entries sorted by name. */
  documents: LoadedDocument[];
  skipped: SkippedFile[];
  /** Things an operator must know though the load succeeded, e.g. that a stale cached copy was used. */
  warnings: string[];
}

export interface FeedLoadOptions {
  /** Where http(s) sources are cached between runs (created when missing). */
  cacheDir: string;
  /** Injectable for tests; defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** The clock, for cache ages and fetch times. */
  now?: () => Date;
  /** Largest download, file or decompressed document accepted, in bytes; larger ones throw FEED_TOO_LARGE. Default 512 MiB. */
  maxBytes?: number;
  /** A download is aborted when the server sends nothing for this long, in milliseconds. Default 60 000. */
  timeoutMs?: number;
  /** Never touch the network: URLs are served from the cache only, and fail with FEED_UNREACHABLE without one. */
  offline?: boolean;
}

/** 512 MiB: larger than any published OSV ecosystem export unpacked, small enough to stop a runaway download. */
export const DEFAULT_MAX_FEED_BYTES = 512 * 1024 * 1024;

export const DEFAULT_FEED_TIMEOUT_MS = 60_000;
