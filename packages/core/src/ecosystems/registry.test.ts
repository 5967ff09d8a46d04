import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidVersionError } from '../errors.js';
import { getEcosystem, isEcosystemId, listEcosystems } from './index.js';

// Orderings every ecosystem shares: plain dotted numbers, numeric (not lexical) runs of any length, equality.
const shared: Array<[string, string, number]> = [
  ['1.0.0', '1.0.0', 0],
  ['1.0.0', '1.0.1', -1],
  ['1.10.0', '1.9.0', 1],
  ['2.0.0', '10.0.0', -1],
  ['1.0.99999999999999999999', '1.0.99999999999999999998', 1],
];

describe('ecosystems registry', () => {
  it('lists the five ecosystems by package-URL type', () => {
    expect(listEcosystems().map((e) => e.id)).toEqual(['deb', 'rpm', 'alpm', 'apk', 'semver']);
  });

  it('answers unknown ids with undefined', () => {
    expect(getEcosystem('msi')).toBeUndefined();
    expect(isEcosystemId('msi')).toBe(false);
  });

  describe.each(listEcosystems().map((e) => [e.id, e] as const))('%s', (id, ecosystem) => {
    it('is registered under its own id, has a title and a readme', () => {
      expect(getEcosystem(id)).toBe(ecosystem);
      expect(ecosystem.title.length).toBeGreaterThan(0);
      expect(existsSync(new URL(`./${id}/readme.md`, import.meta.url))).toBe(true);
    });

    it.each(shared)('orders %s against %s as %i', (a, b, expected) => {
      expect(Math.sign(ecosystem.compare(a, b))).toBe(expected);
      expect(Math.sign(ecosystem.compare(b, a))).toBe(expected === 0 ? 0 : -expected);
    });

    it('rejects the empty version without throwing from parse or check', () => {
      expect(ecosystem.parseVersion('')).toBeNull();
      expect(ecosystem.checkVersion('')).toBeInstanceOf(InvalidVersionError);
      expect(() => ecosystem.compare('', '1.0.0')).toThrow(InvalidVersionError);
    });

    it('accepts what it compares', () => {
      expect(ecosystem.checkVersion('1.0.0')).toBeNull();
      expect(ecosystem.parseVersion('1.0.0')).not.toBeNull();
    });
  });
});
