import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareIds } from './ids.js';

describe('detection/ids', () => {
  it.each`
    a                  | b                  | expected
    ${'CVE-2024-999'}  | ${'CVE-2024-1000'} | ${-1}
    ${'CVE-2023-9999'} | ${'CVE-2024-1000'} | ${-1}
    ${'DSA-999-1'}     | ${'DSA-5000-1'}    | ${-1}
    ${'DSA-5000-1'}    | ${'DSA-5000-2'}    | ${-1}
    ${'DSA-5000'}      | ${'DSA-5000-1'}    | ${-1}
    ${'DLA-1'}         | ${'DSA-1'}         | ${-1}
    ${'CVE-2024-0002'} | ${'CVE-2024-2'}    | ${1}
    ${'CVE-1'}         | ${'CVE-1'}         | ${0}
    ${'A1'}            | ${'A-1'}           | ${1}
    ${'ALSA-2024:1'}   | ${'ALSA-2024:10'}  | ${-1}
  `('compareIds($a, $b) is $expected', ({ a, b, expected }) => {
    expect(Math.sign(compareIds(a, b)) || 0).toBe(expected);
    expect(Math.sign(compareIds(b, a)) || 0).toBe(-expected || 0);
  });

  it('orders like a digit-run-aware comparison of the ids', () => {
    const arbId = fc.stringMatching(/^[A-Z:-]{0,3}[0-9]{0,12}[-:]?[0-9]{0,4}[a-z]?$/);
    // Scans both ids, comparing digit runs by value (BigInt) and other characters by code unit.
    const reference = (a: string, b: string) => {
      let i = 0;
      let j = 0;
      while (i < a.length && j < b.length) {
        const da = /\d/.test(a[i]!);
        const db = /\d/.test(b[j]!);
        if (da && db) {
          const x = /^\d+/.exec(a.slice(i))![0];
          const y = /^\d+/.exec(b.slice(j))![0];
          if (BigInt(x) !== BigInt(y)) return BigInt(x) < BigInt(y) ? -1 : 1;
          i += x.length;
          j += y.length;
          continue;
        }
        if (a[i] !== b[j]) return a.charCodeAt(i) < b.charCodeAt(j) ? -1 : 1;
        i++;
        j++;
      }
      return Math.sign(a.length - i - (b.length - j));
    };
    fc.assert(
      fc.property(arbId, arbId, (a, b) => {
        const expected = reference(a, b);
        if (expected !== 0) expect(Math.sign(compareIds(a, b))).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });
});
