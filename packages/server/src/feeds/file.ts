import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PatchwardenError } from '@patchwarden/core';
import { baseName, decodeFeedBuffer, feedFileKind, messageOf, notAFeedReason, tooLarge } from './decode.js';
import type { LoadedDocument, SkippedFile } from './types.js';

interface FileLoad {
  documents: LoadedDocument[];
  skipped: SkippedFile[];
}

/**
 * Reads a feed from the file system: a file of any name (its content decides how it is decoded), or a
 * directory, walked recursively in name order, reading only feed files (see `feedFileKind`) and listing
 * every other file as skipped.
 */
export async function loadPath(path: string, maxBytes: number): Promise<FileLoad> {
  const info = await statOrThrow(path);
  if (info.isDirectory()) {
    const result: FileLoad = { documents: [], skipped: [] };
    await walk(path, maxBytes, result);
    return result;
  }
  return loadFile(path, maxBytes);
}

async function walk(dir: string, maxBytes: number, into: FileLoad): Promise<void> {
  const names = (await readdir(dir)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const path = join(dir, name);
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch (err) {
      into.skipped.push({ location: path, reason: `cannot stat: ${messageOf(err)}` });
      continue;
    }
    if (info.isDirectory()) {
      await walk(path, maxBytes, into);
      continue;
    }
    if (!info.isFile()) {
      into.skipped.push({ location: path, reason: 'not a regular file' });
      continue;
    }
    if (feedFileKind(name) === null) {
      into.skipped.push({ location: path, reason: notAFeedReason(name) });
      continue;
    }
    const loaded = await loadFile(path, maxBytes);
    into.documents.push(...loaded.documents);
    into.skipped.push(...loaded.skipped);
  }
}

async function loadFile(path: string, maxBytes: number): Promise<FileLoad> {
  const info = await stat(path);
  if (info.size > maxBytes) throw tooLarge(path, info.size, maxBytes);
  let buffer: Buffer;
  try {
    buffer = await readFile(path);
  } catch (err) {
    return { documents: [], skipped: [{ location: path, reason: `cannot read: ${messageOf(err)}` }] };
  }
  return decodeFeedBuffer(
    buffer,
    { location: path, name: baseName(path), timestamp: info.mtime.toISOString() },
    maxBytes,
  );
}

async function statOrThrow(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PatchwardenError(
      'FEED_NOT_FOUND',
      code === 'ENOENT' ? `${path}: no such file or directory` : `${path}: ${messageOf(err)}`,
      400,
      { cause: err },
    );
  }
}
