import { type Ecosystem, getEcosystem, listEcosystems } from '@patchwarden/core/ecosystems';
import { parseCommandArgs } from '../args.js';
import { EXIT, UsageError } from '../errors.js';
import { type Io, write } from '../io.js';

const USAGE = `usage: patchwarden vercmp --ecosystem <${listEcosystems()
  .map((e) => e.id)
  .join('|')}> A B
       patchwarden vercmp --ecosystem E --batch   < lines of A<TAB>B
Prints -1, 0 or 1: A older than, equal to or newer than B.`;

/** Results are flushed in blocks this large, so a million-line batch costs few writes. */
const FLUSH_CHARS = 1 << 16;

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

/** One result line per input line, in order; a bad line prints `error: <reason>` and the rest go on. */
async function compareBatch(ecosystem: Ecosystem, io: Io): Promise<number> {
  let pending = '';
  let out = '';
  let failures = 0;
  const compareLine = (line: string): string => {
    const tab = line.indexOf('\t');
    if (tab < 0) {
      failures++;
      return 'error: expected two versions separated by a tab\n';
    }
    if (line.indexOf('\t', tab + 1) >= 0) {
      failures++;
      return 'error: expected exactly two versions, found more than one tab\n';
    }
    try {
      const order = ecosystem.compare(line.slice(0, tab), line.slice(tab + 1));
      return order < 0 ? '-1\n' : order > 0 ? '1\n' : '0\n';
    } catch (err) {
      failures++;
      return `error: ${err instanceof Error ? err.message : String(err)}\n`;
    }
  };
  io.stdin.setEncoding('utf8');
  for await (const chunk of io.stdin) {
    const text = pending + (chunk as string);
    let start = 0;
    let end = text.indexOf('\n', start);
    while (end >= 0) {
      const stop = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
      out += compareLine(text.slice(start, stop));
      start = end + 1;
      end = text.indexOf('\n', start);
    }
    pending = text.slice(start);
    if (out.length >= FLUSH_CHARS) {
      await write(io.stdout, out);
      out = '';
    }
  }
  if (pending.length > 0) out += compareLine(pending.endsWith('\r') ? pending.slice(0, -1) : pending);
  await write(io.stdout, out);
  return failures > 0 ? EXIT.failed : EXIT.ok;
}
