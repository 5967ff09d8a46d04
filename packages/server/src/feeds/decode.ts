import { gunzipSync } from 'node:zlib';
import { PatchwardenError } from '@patchwarden/core';
import type { LoadedDocument, SkippedFile } from './types.js';
import { EntryTooLargeError, readZipEntries } from './zip.js';

/** Extensions of the text formats feeds come in (OSV JSON/NDJSON, tracker JSON, secdb YAML/JSON, KEV, EPSS CSV). */
export const FEED_EXTENSIONS = ['.json', '.ndjson', '.jsonl', '.yaml', '.yml', '.csv'] as const;

/** How a file found in a directory or an archive is read, by its name; null when it is not a feed file. */
export type FeedFileKind = 'document' | 'gzip' | 'zip';

/** Classifies a file by name: `.zip` archives, `.gz` of a feed file, feed files, and the tracker's `DSA/list`-style files. */
export function feedFileKind(name: string): FeedFileKind | null {
  const lower = baseName(name).toLowerCase();
  if (lower.endsWith('.zip')) return 'zip';
  if (lower.endsWith('.gz')) return feedFileKind(lower.slice(0, -3)) === 'document' ? 'gzip' : null;
  if (FEED_EXTENSIONS.some((ext) => lower.endsWith(ext))) return 'document';
  // Debian's security-tracker keeps advisories in data/DSA/list and data/DLA/list; copies are often renamed DSA-list.
  if (lower === 'list' || /[-_.]list$/.test(lower)) return 'document';
  return null;
}

/** Why `name` is not read, for the skipped list. */
export function notAFeedReason(name: string): string {
  const base = baseName(name);
  const dot = base.lastIndexOf('.');
  const what = dot > 0 ? `extension ${JSON.stringify(base.slice(dot))}` : 'no known extension';
  return `not a feed file (${what}; read are ${FEED_EXTENSIONS.join(' ')}, .gz of those, .zip, and DSA/DLA list files)`;
}

export function baseName(path: string): string {
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return slash >= 0 ? path.slice(slash + 1) : path;
}

/** What one buffer of feed data decodes to. */
export interface DecodedFeed {
  documents: LoadedDocument[];
  skipped: SkippedFile[];
}

/**
 * Turns the bytes of one file or download into documents: a zip archive into one document per feed
 * entry, gzip into its content, anything else into text. The format is told by magic bytes, not by name,
 * so a mislabelled file still reads. Corrupt compressed data is skipped and reported; data over
 * `maxBytes` once decompressed throws FEED_TOO_LARGE.
 */
export async function decodeFeedBuffer(
  buffer: Buffer,
  source: { location: string; name: string; timestamp: string | null },
  maxBytes: number,
): Promise<DecodedFeed> {
  if (isZip(buffer)) return decodeZip(buffer, source.location, maxBytes);
  if (isGzip(buffer)) {
    const inflated = gunzip(buffer, source.location, maxBytes);
    if (typeof inflated === 'string')
      return { documents: [], skipped: [{ location: source.location, reason: inflated }] };
    return { documents: [toDocument(inflated, { ...source, name: stripGz(source.name) })], skipped: [] };
  }
  return { documents: [toDocument(buffer, source)], skipped: [] };
}

async function decodeZip(buffer: Buffer, location: string, maxBytes: number): Promise<DecodedFeed> {
  const skipped: SkippedFile[] = [];
  const documents: LoadedDocument[] = [];
  let entries: Awaited<ReturnType<typeof readZipEntries>>;
  try {
    entries = await readZipEntries(buffer, {
      maxEntryBytes: maxBytes,
      accept: (path) => {
        const kind = feedFileKind(path);
        if (kind === 'document' || kind === 'gzip') return true;
        skipped.push({
          location: `${location}:${path}`,
          reason: kind === 'zip' ? 'zip archive inside a zip archive is not read' : notAFeedReason(path),
        });
        return false;
      },
      onSkip: (problem) => skipped.push({ location: `${location}:${problem.path}`, reason: problem.reason }),
    });
  } catch (err) {
    if (err instanceof EntryTooLargeError) throw tooLarge(`${location}:${err.path}`, err.bytes, maxBytes);
    return { documents: [], skipped: [{ location, reason: `unreadable zip archive: ${messageOf(err)}` }] };
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  let total = 0;
  for (const entry of entries) {
    const entryLocation = `${location}:${entry.path}`;
    let data = entry.data;
    if (isGzip(data)) {
      const inflated = gunzip(data, entryLocation, maxBytes);
      if (typeof inflated === 'string') {
        skipped.push({ location: entryLocation, reason: inflated });
        continue;
      }
      data = inflated;
    }
    total += data.length;
    if (total > maxBytes) throw tooLarge(location, total, maxBytes, 'unpacked');
    documents.push(
      toDocument(data, {
        location: entryLocation,
        name: stripGz(baseName(entry.path)),
        timestamp: entry.modified.toISOString(),
      }),
    );
  }
  return { documents, skipped };
}

/** The inflated bytes, or the reason the data is corrupt. Throws FEED_TOO_LARGE past `maxBytes`. */
function gunzip(buffer: Buffer, location: string, maxBytes: number): Buffer | string {
  try {
    return gunzipSync(buffer, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw tooLarge(location, null, maxBytes, 'decompressed');
    return `corrupt gzip data: ${messageOf(err)}`;
  }
}

export function tooLarge(
  location: string,
  bytes: number | null,
  maxBytes: number,
  how = '',
): PatchwardenError {
  const size = bytes === null ? 'more than the limit' : `${bytes} bytes`;
  return new PatchwardenError(
    'FEED_TOO_LARGE',
    `${location}${how ? ` ${how}` : ''} is ${size}; the limit is ${maxBytes} bytes (raise it with --max-feed-size)`,
    413,
  );
}

function toDocument(
  data: Buffer,
  source: { location: string; name: string; timestamp: string | null },
): LoadedDocument {
  let text = data.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { location: source.location, name: source.name, text, timestamp: source.timestamp };
}

function stripGz(name: string): string {
  return name.toLowerCase().endsWith('.gz') ? name.slice(0, -3) : name;
}

function isZip(buffer: Buffer): boolean {
  // Local file header, or the end-of-central-directory record of an empty archive.
  return (
    buffer.length >= 4 && buffer[0] === 0x50 && buffer[1] === 0x4b && (buffer[2] === 3 || buffer[2] === 5)
  );
}

function isGzip(buffer: Buffer): boolean {
  return buffer.length >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
