import yauzl from 'yauzl';

/** One regular file of a zip archive, read in full. */
export interface ZipFileEntry {
  /** The path inside the archive, `/`-separated. */
  path: string;
  data: Buffer;
  /** The entry's modification time (UTC extra fields when present, else the DOS date read as UTC). */
  modified: Date;
}

/** Problems with one entry that do not spoil the others. */
export interface ZipEntryProblem {
  path: string;
  reason: string;
}

/**
 * Reads every file entry of the archive in `buffer`, in the archive's order. An entry larger than
 * `maxEntryBytes` (uncompressed) is not inflated: `onTooLarge` decides (throw, or report and go on).
 * Throws when the archive itself is unreadable (no end-of-central-directory record, corrupt headers).
 */
export async function readZipEntries(
  buffer: Buffer,
  options: {
    maxEntryBytes: number;
    accept: (path: string) => boolean;
    onSkip: (problem: ZipEntryProblem) => void;
  },
): Promise<ZipFileEntry[]> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => {
    yauzl.fromBuffer(
      buffer,
      { lazyEntries: true, validateEntrySizes: true, strictFileNames: false },
      (err, file) => (err ? reject(err) : resolve(file)),
    );
  });
  const entries: ZipFileEntry[] = [];
  return new Promise<ZipFileEntry[]>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', () => resolve(entries));
    zip.on('entry', (entry: yauzl.Entry) => {
      const path = entry.fileName;
      if (path.endsWith('/')) return zip.readEntry();
      if (!options.accept(path)) return zip.readEntry();
      if (entry.uncompressedSize > options.maxEntryBytes) {
        reject(new EntryTooLargeError(path, entry.uncompressedSize));
        return undefined;
      }
      zip.openReadStream(entry, (err, stream) => {
        if (err) {
          options.onSkip({ path, reason: `unreadable zip entry: ${err.message}` });
          zip.readEntry();
          return;
        }
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', (streamErr) => {
          options.onSkip({ path, reason: `corrupt zip entry: ${streamErr.message}` });
          zip.readEntry();
        });
        stream.on('end', () => {
          // yauzl 3 reads the Info-ZIP/NTFS UTC fields; the DOS fallback has no zone, so read it as UTC.
          const modified = (entry as unknown as DatedEntry).getLastModDate({ timezone: 'UTC' });
          entries.push({ path, data: Buffer.concat(chunks), modified });
          zip.readEntry();
        });
      });
      return undefined;
    });
    zip.readEntry();
  });
}

/** yauzl 3's signature; the published typings are yauzl 2's, which take no options. */
interface DatedEntry {
  getLastModDate(options: { timezone: 'UTC' | 'local' }): Date;
}

/** An entry whose declared uncompressed size is over the limit; the loader turns it into FEED_TOO_LARGE. */
export class EntryTooLargeError extends Error {
  constructor(
    readonly path: string,
    readonly bytes: number,
  ) {
    super(`zip entry ${path} is ${bytes} bytes uncompressed`);
  }
}
