import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

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
});
