import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { getEcosystem } from '@patchwarden/core/ecosystems';
import { describe, expect, it } from 'vitest';
import { vercmpCommand } from '../src/commands/vercmp.js';
import { runCli } from './run-cli.js';

const BIN = fileURLToPath(new URL('../bin/patchwarden.js', import.meta.url));

/** What `--batch` must print for `input`, line by line from its UTF-8 text. */
function expectedBatch(ecosystemId: string, input: Buffer): string {
  const ecosystem = getEcosystem(ecosystemId);
  if (!ecosystem) throw new Error(`no ecosystem ${ecosystemId}`);
  const lines = input.toString('utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines
    .map((raw) => {
      const fields = (raw.endsWith('\r') ? raw.slice(0, -1) : raw).split('\t');
      if (fields.length < 2) return 'error: expected two versions separated by a tab\n';
      if (fields.length > 2) return 'error: expected exactly two versions, found more than one tab\n';
      try {
        return `${Math.sign(ecosystem.compare(fields[0]!, fields[1]!))}\n`;
      } catch (error) {
        return `error: ${(error as Error).message}\n`;
      }
    })
    .join('');
}

/** Runs `vercmp --batch` in process on stdin that arrives in `chunks`. */
async function runBatch(ecosystemId: string, chunks: Buffer[]): Promise<{ code: number; stdout: string }> {
  const out: Buffer[] = [];
  const collect = (into: Buffer[]) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        into.push(Buffer.from(chunk));
        done();
      },
    });
  const code = await vercmpCommand(['--ecosystem', ecosystemId, '--batch'], {
    stdin: Readable.from(chunks),
    stdout: collect(out),
    stderr: collect([]),
  });
  return { code, stdout: Buffer.concat(out).toString('utf8') };
}

// Every kind of line: good, equal, CRLF, blanks dpkg trims, no tab, two tabs, a trailing tab, empty,
// invalid, non-ASCII (a multi-byte character that chunks can split), and a last line without newline.
const MIXED = Buffer.from(
  [
    '1.0\t1.1',
    '1:2.0-1\t2.0-1\r',
    '1.0\t1.0',
    ' 1.0\t1.0\t',
    '1.0é\t1.0',
    '1.0\t2.0\t3.0',
    'no tab here',
    '',
    '\t',
    '1.0-\t1.0',
    '2.0~rc1\t2.0',
    '1.0\t1.0€-1\r',
    '5.10.0-8-amd64\t5.10.0-10-amd64',
    '2.0\t1.0',
  ].join('\n'),
);

describe('patchwarden vercmp', () => {
  it.each`
    ecosystem   | a                           | b                           | expected
    ${'deb'}    | ${'1:1.0-1'}                | ${'2.0-1'}                  | ${'1'}
    ${'deb'}    | ${'1.0~rc1-1'}              | ${'1.0-1'}                  | ${'-1'}
    ${'deb'}    | ${'1.0-1'}                  | ${'1.0-1'}                  | ${'0'}
    ${'rpm'}    | ${'1.0~rc1-1'}              | ${'1.0-1'}                  | ${'-1'}
    ${'rpm'}    | ${'1.0^git1-1'}             | ${'1.0-1'}                  | ${'1'}
    ${'alpm'}   | ${'1:1.0-1'}                | ${'2.0-1'}                  | ${'1'}
    ${'apk'}    | ${'1.0_rc1-r0'}             | ${'1.0-r0'}                 | ${'-1'}
    ${'apk'}    | ${'1.0_p1-r0'}              | ${'1.0-r0'}                 | ${'1'}
    ${'semver'} | ${'1.0.0-alpha'}            | ${'1.0.0'}                  | ${'-1'}
    ${'deb'}    | ${'1.99999999999999999999'} | ${'1.99999999999999999998'} | ${'1'}
  `('$ecosystem: $a vs $b prints $expected', ({ ecosystem, a, b, expected }) => {
    const result = runCli(['vercmp', '--ecosystem', ecosystem, a, b]);

    expect(result).toEqual({ code: 0, stdout: `${expected}\n`, stderr: '' });
  });

  it('reports an invalid version on stderr with the reason and exits 2', () => {
    const result = runCli(['vercmp', '--ecosystem', 'deb', 'x:1.0', '1.0']);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('"x:1.0"');
    expect(result.stderr).toMatch(/epoch/);
  });

  it.each`
    args                                           | message
    ${['vercmp', '1.0', '2.0']}                    | ${'--ecosystem is required'}
    ${['vercmp', '--ecosystem', 'msi', '1', '2']}  | ${'unknown ecosystem "msi"'}
    ${['vercmp', '--ecosystem', 'deb', '1']}       | ${'expected two versions, got 1'}
    ${['vercmp', '--ecosystem', 'deb', '--bogus']} | ${"Unknown option '--bogus'"}
  `('rejects $args with usage error', ({ args, message }) => {
    const result = runCli(args);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('--batch prints one result per line in order, an error line in place of a bad one, and exits 1', () => {
    const input = ['1.0\t1.1', '2:1.0\t1:9.9', 'no-tab-here', '1.0\t1.0', ':1.0\t1.0', '1.0\t1.0~rc1'].join(
      '\n',
    );

    const result = runCli(['vercmp', '--ecosystem', 'deb', '--batch'], `${input}\n`);

    const lines = result.stdout.split('\n');
    expect(result.code).toBe(1);
    expect(lines.slice(0, 2)).toEqual(['-1', '1']);
    expect(lines[2]).toMatch(/^error: .*tab/);
    expect(lines[3]).toBe('0');
    expect(lines[4]).toMatch(/^error: .*":1\.0"/);
    expect(lines.slice(5)).toEqual(['1', '']);
  });

  it('--batch exits 0 when every line compares, handles CRLF and a last line without newline', () => {
    const result = runCli(['vercmp', '--ecosystem', 'rpm', '--batch'], '1:1.0-1\t1.0-1\r\n1.0-1\t1.0-2');

    expect(result).toEqual({ code: 0, stdout: '1\n-1\n', stderr: '' });
  });

  it('--batch keeps order across stdin chunks on a large input', () => {
    const pairs = Array.from({ length: 200_000 }, (_, i) => `1.${i}\t1.${200_000 - i}`);

    const result = runCli(['vercmp', '--ecosystem', 'deb', '--batch'], `${pairs.join('\n')}\n`);

    const lines = result.stdout.trimEnd().split('\n');
    expect(result.code).toBe(0);
    expect(lines).toHaveLength(200_000);
    expect(lines[0]).toBe('-1');
    expect(lines[100_000]).toBe('0');
    expect(lines[199_999]).toBe('1');
  });

  it.each(['deb', 'rpm'])(
    '%s --batch gives the same lines wherever stdin splits into chunks',
    async (ecosystemId) => {
      const expected = expectedBatch(ecosystemId, MIXED);
      expect(expected.split('\n')).toHaveLength(15);

      for (let at = 0; at <= MIXED.length; at++) {
        const result = await runBatch(ecosystemId, [MIXED.subarray(0, at), MIXED.subarray(at)]);
        expect(result, `split at byte ${at}`).toEqual({ code: 1, stdout: expected });
      }
      const bytes = [...MIXED].map((byte) => Buffer.from([byte]));
      expect(await runBatch(ecosystemId, bytes)).toEqual({ code: 1, stdout: expected });
    },
  );

  it('--batch reads a regular file on stdin in blocks, with lines and characters across block ends', () => {
    // Lines of 8 bytes; the 64 KiB read block ends inside the "é" of one line and inside another line.
    const filler = '1.0\t1.1\n'.repeat(8191);
    const input = Buffer.concat([
      Buffer.from(`${filler}1.00000é\t1.0\n`),
      Buffer.from(`${'2:1.0-1\t1:9.9\r\n'.repeat(9000)}1.0\t1.0\t\n1.0~rc1\t1.0`),
    ]);
    expect(input.subarray(65535, 65537).toString('utf8')).toBe('é');
    const dir = mkdtempSync(join(tmpdir(), 'patchwarden-vercmp-'));
    try {
      writeFileSync(join(dir, 'pairs.tsv'), input);
      const fd = openSync(join(dir, 'pairs.tsv'), 'r');
      const result = spawnSync(process.execPath, [BIN, 'vercmp', '--ecosystem', 'deb', '--batch'], {
        stdio: [fd, 'pipe', 'pipe'],
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      closeSync(fd);

      expect(result.stderr).toBe('');
      expect(result.status).toBe(1);
      expect(result.stdout).toBe(expectedBatch('deb', input));
      expect(result.stdout).toContain('error: deb version "1.00000é" is invalid');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
