import { isAscii } from 'node:buffer';
import { fstatSync, readSync } from 'node:fs';
import type { Writable } from 'node:stream';
import {
  compareDebVersionRanges,
  type Ecosystem,
  getEcosystem,
  listEcosystems,
} from '@patchwarden/core/ecosystems';
import { InvalidVersionError } from '@patchwarden/core/errors';
import { parseCommandArgs } from '../args.js';
import { EXIT, UsageError } from '../errors.js';
import { type Io, write } from '../io.js';

const USAGE = `usage: patchwarden vercmp --ecosystem <${listEcosystems()
  .map((e) => e.id)
  .join('|')}> A B
       patchwarden vercmp --ecosystem E --batch   < lines of A<TAB>B
Prints -1, 0 or 1: A older than, equal to or newer than B.`;

export async function vercmpCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    { ecosystem: { type: 'string', short: 'e' }, batch: { type: 'boolean' } },
    USAGE,
  );
  if (values.help) {
    await write(io.stdout, `${USAGE}\n`);
    return EXIT.ok;
  }
  const ecosystem = resolveEcosystem(values.ecosystem as string | undefined);
  if (values.batch) {
    if (positionals.length > 0)
      throw new UsageError(`--batch reads pairs from stdin; got arguments too\n${USAGE}`);
    return compareBatch(ecosystem, io);
  }
  if (positionals.length !== 2)
    throw new UsageError(`expected two versions, got ${positionals.length}\n${USAGE}`);
  const [a, b] = positionals as [string, string];
  await write(io.stdout, `${Math.sign(ecosystem.compare(a, b))}\n`);
  return EXIT.ok;
}

function resolveEcosystem(id: string | undefined): Ecosystem {
  if (id === undefined) throw new UsageError(`--ecosystem is required\n${USAGE}`);
  const ecosystem = getEcosystem(id);
  if (!ecosystem) throw new UsageError(`unknown ecosystem ${JSON.stringify(id)}\n${USAGE}`);
  return ecosystem;
}

// --- --batch ------------------------------------------------------------------------------------

/** A comparator over ranges of strings, so that a batch need not cut a string per version. */
type RangeCompare = (
  a: string,
  aStart: number,
  aEnd: number,
  b: string,
  bStart: number,
  bEnd: number,
) => number;

/** Ecosystems with a range comparator; the others get a string per version. */
const RANGE_COMPARES: Readonly<Record<string, RangeCompare>> = { deb: compareDebVersionRanges };

/**
 * Read size when stdin is a regular file, read directly rather than through a stream (which costs
 * more than the comparing, on a large batch). 64 KiB measured fastest: the text of a larger chunk
 * is a large object to V8's collector, and past about 1 MB an external string, slower to read.
 */
const READ_BYTES = 1 << 16;
/** Results are written in blocks of about this size, so a million-line batch costs few writes. */
const FLUSH_BYTES = 1 << 16;

/**
 * One result line per input line, in order: -1, 0 or 1, or `error: <reason>` for a line that is not
 * two versions separated by one tab or that holds an invalid version; the rest go on. A line may
 * end in CRLF, and the last one needs no newline. Exits 1 if any line failed.
 */
async function compareBatch(ecosystem: Ecosystem, io: Io): Promise<number> {
  const batch = new Batch(ecosystem, io.stdout);
  const fd = regularFileFd(io.stdin);
  if (fd === undefined) {
    for await (const chunk of io.stdin) {
      await batch.feed(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    }
  } else {
    const block = Buffer.allocUnsafe(READ_BYTES);
    for (;;) {
      const size = readSync(fd, block, 0, block.length, null);
      if (size === 0) break;
      await batch.feed(block.subarray(0, size));
    }
  }
  const failures = await batch.end();
  return failures > 0 ? EXIT.failed : EXIT.ok;
}

/** The descriptor behind `stream` when it is a regular file, which can be read in large blocks. */
function regularFileFd(stream: NodeJS.ReadableStream): number | undefined {
  if (!('fd' in stream) || typeof stream.fd !== 'number') return undefined;
  try {
    return fstatSync(stream.fd).isFile() ? stream.fd : undefined;
  } catch {
    // Not something fstat can look at: read it as the stream it is.
    return undefined;
  }
}

/**
 * The lines of a batch, fed as bytes in chunks of any size. Each run of whole lines is decoded once
 * as latin1 (a byte per character, so string offsets are byte offsets), and with a range
 * comparator its versions are compared in place. That is exact for ASCII, and any other byte makes
 * a deb version invalid: a line the range comparator rejects is compared again by
 * `ecosystem.compare` from its UTF-8 text, so that the error quotes the input as given. Without a
 * range comparator, each line goes to `ecosystem.compare` as UTF-8 text.
 */
class Batch {
  private readonly compareRange: RangeCompare | undefined;
  private block = Buffer.allocUnsafe(FLUSH_BYTES + READ_BYTES);
  private used = 0;
  /** Room kept in the block for the results of the lines being compared. */
  private reserved = 0;
  private isDrainNeeded = false;
  private failures = 0;
  /** Copies of the bytes of a line that the chunks so far ended inside. */
  private carry: Buffer[] = [];

  constructor(
    private readonly ecosystem: Ecosystem,
    private readonly stdout: Writable,
  ) {
    this.compareRange = RANGE_COMPARES[ecosystem.id];
  }

  /** Compares the lines that `chunk` completes. Keeps no reference to `chunk`. */
  async feed(chunk: Buffer): Promise<void> {
    let start = 0;
    if (this.carry.length > 0) {
      const newline = chunk.indexOf(10);
      if (newline < 0) {
        this.carry.push(Buffer.from(chunk));
        return;
      }
      const line = Buffer.concat([...this.carry, chunk.subarray(0, newline + 1)]);
      this.carry = [];
      this.compare(line, 0, line.length);
      start = newline + 1;
    }
    const end = Math.max(start, chunk.lastIndexOf(10) + 1);
    if (end > start) this.compare(chunk, start, end);
    if (end < chunk.length) this.carry.push(Buffer.from(chunk.subarray(end)));
    await this.drain();
  }

  /** Compares a last line that has no newline and writes what is left; the number of failed lines. */
  async end(): Promise<number> {
    if (this.carry.length > 0) {
      const line = Buffer.concat([...this.carry, Buffer.from('\n')]);
      this.carry = [];
      this.compare(line, 0, line.length);
    }
    if (this.used > 0) this.flush(0);
    await this.drain();
    return this.failures;
  }

  /**
   * compareLines() with room for its results made beforehand, so that the loop over lines has no
   * branch that only a full block takes: first taken after the JIT compiled the loop, it would
   * throw the compiled code away. A line that compares has 4 bytes at least (A, tab, B, newline)
   * and its result 3 at most.
   */
  private compare(bytes: Buffer, from: number, to: number): void {
    this.reserved = to - from;
    if (this.used + this.reserved > this.block.length) this.flush(this.reserved);
    this.compareLines(bytes, from, to);
    this.reserved = 0;
    if (this.used >= FLUSH_BYTES) this.flush(0);
  }

  private async drain(): Promise<void> {
    if (!this.isDrainNeeded) return;
    this.isDrainNeeded = false;
    await new Promise<void>((resolve) => this.stdout.once('drain', resolve));
  }

  /** `bytes[from..to)` is whole lines, the last one ending in a newline. */
  private compareLines(bytes: Buffer, from: number, to: number): void {
    const text = bytes.toString('latin1', from, to);
    const isUtf8SameAsLatin1 = isAscii(bytes.subarray(from, to));
    let start = 0;
    // The first tab at or after `start`, found once per line and reused by the next one.
    let tab = text.indexOf('\t');
    while (start < text.length) {
      const newline = text.indexOf('\n', start);
      const end = newline > start && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
      if (tab < 0 || tab > newline) {
        this.writeError('expected two versions separated by a tab');
      } else {
        const nextTab = text.indexOf('\t', tab + 1);
        if (nextTab >= 0 && nextTab < newline) {
          this.writeError('expected exactly two versions, found more than one tab');
          tab = nextTab;
          while (tab >= 0 && tab < newline) tab = text.indexOf('\t', tab + 1);
        } else {
          this.compareLine(bytes, from, text, start, tab, end, isUtf8SameAsLatin1);
          tab = nextTab;
        }
      }
      start = newline + 1;
    }
  }

  private compareLine(
    bytes: Buffer,
    from: number,
    text: string,
    start: number,
    tab: number,
    end: number,
    isUtf8SameAsLatin1: boolean,
  ): void {
    if (this.compareRange !== undefined) {
      try {
        this.writeOrder(this.compareRange(text, start, tab, text, tab + 1, end));
        return;
      } catch (err) {
        // Compared again below from the UTF-8 text, so that the error quotes the input as given.
        if (!(err instanceof InvalidVersionError)) throw err;
      }
    }
    const a = isUtf8SameAsLatin1 ? text.slice(start, tab) : bytes.toString('utf8', from + start, from + tab);
    const b = isUtf8SameAsLatin1
      ? text.slice(tab + 1, end)
      : bytes.toString('utf8', from + tab + 1, from + end);
    let order: number;
    try {
      order = this.ecosystem.compare(a, b);
    } catch (err) {
      this.writeError(err instanceof Error ? err.message : String(err));
      return;
    }
    this.writeOrder(order);
  }

  /** Needs room for 3 bytes, made by compare(). */
  private writeOrder(order: number): void {
    const block = this.block;
    if (order < 0) {
      block[this.used++] = 45; // '-'
      block[this.used++] = 49; // '1'
    } else {
      block[this.used++] = order > 0 ? 49 : 48;
    }
    block[this.used++] = 10;
  }

  private writeError(reason: string): void {
    this.failures++;
    const line = `error: ${reason}\n`;
    const size = Buffer.byteLength(line);
    if (this.used + size + this.reserved > this.block.length) this.flush(size + this.reserved);
    this.used += this.block.write(line, this.used);
  }

  /**
   * Hands the results so far to stdout and starts a new block with room for `room` bytes at least:
   * the stream keeps the old block until it is written.
   */
  private flush(room: number): void {
    if (this.used > 0 && !this.stdout.write(this.block.subarray(0, this.used))) this.isDrainNeeded = true;
    this.block = Buffer.allocUnsafe(Math.max(FLUSH_BYTES + READ_BYTES, room));
    this.used = 0;
  }
}
