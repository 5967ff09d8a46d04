import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidInventoryError } from '../../errors.js';
import type { InstalledPackage } from '../../types/inventory.js';
import { parseApkInstalled } from './index.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = readFileSync(resolve(here, '__fixtures__/installed'), 'utf8');
const realPath = resolve(here, '../../../../..', '../shared/data/inventories/alpine-apk-installed');
const hasReal = existsSync(realPath);

function pkg(
  name: string,
  version: string,
  architecture: string | null,
  origin: string | null,
): InstalledPackage {
  return {
    name,
    version,
    architecture,
    source: origin === null ? null : { name: origin, version },
    ecosystem: 'apk',
  };
}

function parseError(text: string): InvalidInventoryError {
  try {
    parseApkInstalled(text, 'installed');
  } catch (error) {
    if (error instanceof InvalidInventoryError) return error;
    throw error;
  }
  throw new Error('expected InvalidInventoryError');
}

/** A prefix of `text` either throws InvalidInventoryError or lists a prefix of `full`, unchanged. */
function expectTruncationCaught(text: string, full: InstalledPackage[], cut: number): void {
  const prefix = text.slice(0, cut);
  let parsed: InstalledPackage[] | null = null;
  let thrown: unknown = null;
  try {
    parsed = parseApkInstalled(prefix);
  } catch (error) {
    thrown = error;
  }

  if (parsed === null) {
    expect(thrown).toBeInstanceOf(InvalidInventoryError);
    expect((thrown as InvalidInventoryError).line).toBe(
      prefix.split('\n').length - (prefix.endsWith('\n') ? 1 : 0),
    );
  } else {
    expect(prefix === '' || prefix.endsWith('\n')).toBe(true);
    expect(parsed).toEqual(full.slice(0, parsed.length));
  }
}

describe('ecosystems/apk/inventory', () => {
  it('reads name, version, architecture and origin of each record', () => {
    const packages = parseApkInstalled(fixture);

    expect(packages).toEqual([
      pkg('musl', '1.2.4_git20230717-r4', 'aarch64', 'musl'),
      pkg('libcrypto3', '3.1.4-r5', 'aarch64', 'openssl'),
      pkg('ca-certificates-bundle', '20230506-r0', 'aarch64', 'ca-certificates'),
      pkg('local-tool', '0.1_pre20240101', 'noarch', null),
    ]);
  });

  it.each`
    text                                      | expected
    ${''}                                     | ${[]}
    ${'\n\n'}                                 | ${[]}
    ${'P:a\nV:1\n\n'}                         | ${[pkg('a', '1', null, null)]}
    ${'P:a\nV:1\n\n\n'}                       | ${[pkg('a', '1', null, null)]}
    ${'\nP:a\nV:1\nA:\n\n'}                   | ${[pkg('a', '1', null, null)]}
    ${'V:1\nP:a\nx:?\n\n'}                    | ${[pkg('a', '1', null, null)]}
    ${'P:a\nV:1\nA:y\no:b\nF:usr\n'}          | ${[pkg('a', '1', 'y', 'b')]}
    ${'P:a\nV:1\n\nP:b\nV:2\nt:1700000000\n'} | ${[pkg('a', '1', null, null), pkg('b', '2', null, null)]}
  `('parses $text', ({ text, expected }: { text: string; expected: InstalledPackage[] }) => {
    expect(parseApkInstalled(text)).toEqual(expected);
  });

  it.each`
    text                                                | line | detail
    ${'P:a\nV:1'}                                       | ${2} | ${'no newline'}
    ${'P:a\nV:1\n\nP:b\nV:2.'}                          | ${5} | ${'no newline'}
    ${'P:a\n\n'}                                        | ${1} | ${'no V:'}
    ${'P:a\nV:1\n'}                                     | ${2} | ${'truncated'}
    ${'P:a\nV:1\nA:x\nS:1\nI:1\nT:x\nU:\nL:MIT\no:a\n'} | ${9} | ${'truncated'}
    ${'P:a\nF:usr\n'}                                   | ${1} | ${'no V:'}
    ${'P:a\nV:1\n\nP:b\nA:x86_64\n\n'}                  | ${4} | ${'no V:'}
    ${'C:Q1abc=\nV:1\n\n'}                              | ${1} | ${'no P:'}
    ${'P:a\nV:1\nP:b\nV:2\n\n'}                         | ${3} | ${'second P:'}
    ${'P:a\nV:1\nV:2\n\n'}                              | ${3} | ${'second V:'}
    ${'P:\nV:1\n\n'}                                    | ${1} | ${'empty'}
    ${'P:a\nV:1.0-1\n\n'}                               | ${2} | ${'bad-revision'}
    ${'P:a\nV:\n\n'}                                    | ${2} | ${'empty'}
    ${'P:a\nV:1\nthis is not a field\n'}                | ${3} | ${'expected a field'}
    ${'P:a\nV:1\n:x\n'}                                 | ${3} | ${'expected a field'}
    ${'P:a\nV:1\nx\n'}                                  | ${3} | ${'expected a field'}
    ${'P:a\r\nV:1\r\n'}                                 | ${2} | ${'illegal-character'}
    ${'P:a\nV:1\n \n'}                                  | ${3} | ${'expected a field'}
  `(
    'rejects $text at line $line',
    ({ text, line, detail }: { text: string; line: number; detail: string }) => {
      const error = parseError(text);

      expect(error.line).toBe(line);
      expect(error.message).toContain(detail);
      expect(error.message.startsWith(`installed:${line}: `)).toBe(true);
      expect(error.code).toBe('INVALID_INVENTORY');
    },
  );

  it('never lists a wrong package from a truncated file', () => {
    const full = parseApkInstalled(fixture);

    for (let cut = 0; cut <= fixture.length; cut++) expectTruncationCaught(fixture, full, cut);
  });

  it.each(['V:3.1.4-r5', 'A:aarch64\nS:1717452', 'o:openssl', 'm:Ariadne'])(
    'throws when the last record is cut before %j',
    (next) => {
      const prefix = fixture.slice(0, fixture.indexOf(next, fixture.indexOf('P:libcrypto3')));

      expect(parseError(prefix).line).toBe(prefix.split('\n').length - 1);
    },
  );

  it('keeps a last record cut after its o: field and the ones after it', () => {
    const prefix = fixture.slice(0, fixture.indexOf('c:89abcdef'));

    expect(parseApkInstalled(prefix).at(-1)).toEqual(pkg('libcrypto3', '3.1.4-r5', 'aarch64', 'openssl'));
  });
});

describe.skipIf(!hasReal)(
  `ecosystems/apk/inventory: real Alpine 3.18 database${hasReal ? '' : ` (skipped: ${realPath} is absent)`}`,
  () => {
    const text = hasReal ? readFileSync(realPath, 'utf8') : '';

    it('lists the 15 packages of the Alpine 3.18 base image', () => {
      const packages = parseApkInstalled(text, realPath);

      expect(packages.map((p) => [p.name, p.version, p.source?.name])).toEqual([
        ['alpine-baselayout', '3.4.3-r1', 'alpine-baselayout'],
        ['alpine-baselayout-data', '3.4.3-r1', 'alpine-baselayout'],
        ['alpine-keys', '2.4-r1', 'alpine-keys'],
        ['apk-tools', '2.14.0-r0', 'apk-tools'],
        ['busybox', '1.36.0-r9', 'busybox'],
        ['busybox-binsh', '1.36.0-r9', 'busybox'],
        ['ca-certificates-bundle', '20230506-r0', 'ca-certificates'],
        ['libc-utils', '0.7.2-r5', 'libc-dev'],
        ['libcrypto3', '3.1.0-r4', 'openssl'],
        ['libssl3', '3.1.0-r4', 'openssl'],
        ['musl', '1.2.4-r0', 'musl'],
        ['musl-utils', '1.2.4-r0', 'musl'],
        ['scanelf', '1.3.7-r1', 'pax-utils'],
        ['ssl_client', '1.36.0-r9', 'busybox'],
        ['zlib', '1.2.13-r1', 'zlib'],
      ]);
      expect(new Set(packages.map((p) => p.architecture))).toEqual(new Set(['x86_64']));
      expect(packages.every((p) => p.ecosystem === 'apk' && p.source?.version === p.version)).toBe(true);
    });

    it('never lists a wrong package from a truncated copy', () => {
      const full = parseApkInstalled(text);

      fc.assert(
        fc.property(fc.integer({ min: 0, max: text.length }), (cut) =>
          expectTruncationCaught(text, full, cut),
        ),
        { numRuns: 1000 },
      );
    });
  },
);
