import { describe, expect, it } from 'vitest';
import type { Severity } from '../types/advisory.js';
import { DEFAULT_SLA_POLICY, dueDate } from './due-date.js';
import type { SlaPolicy } from './types.js';

describe('risk/dueDate', () => {
  it.each`
    severity        | isKev    | kevDueDate      | firstSeen                      | expected
    ${'critical'}   | ${false} | ${null}         | ${'2025-03-01T10:00:00Z'}      | ${'2025-03-08'}
    ${'high'}       | ${false} | ${null}         | ${'2025-03-01T23:59:59.999Z'}  | ${'2025-03-31'}
    ${'medium'}     | ${false} | ${null}         | ${'2024-12-15T00:00:00Z'}      | ${'2025-03-15'}
    ${'low'}        | ${false} | ${null}         | ${'2024-02-28T12:00:00Z'}      | ${'2024-08-26'}
    ${'negligible'} | ${false} | ${null}         | ${'2025-03-01T00:00:00Z'}      | ${null}
    ${'unknown'}    | ${false} | ${null}         | ${'2025-03-01T00:00:00Z'}      | ${null}
    ${'high'}       | ${true}  | ${'2025-03-10'} | ${'2025-03-01T00:00:00Z'}      | ${'2025-03-10'}
    ${'critical'}   | ${true}  | ${'2025-03-10'} | ${'2025-03-01T00:00:00Z'}      | ${'2025-03-08'}
    ${'unknown'}    | ${true}  | ${'2025-03-10'} | ${'2025-03-01T00:00:00Z'}      | ${'2025-03-10'}
    ${'high'}       | ${false} | ${'2025-03-10'} | ${'2025-03-01T00:00:00Z'}      | ${'2025-03-31'}
    ${'high'}       | ${true}  | ${null}         | ${'2025-03-01T00:00:00Z'}      | ${'2025-03-31'}
    ${'high'}       | ${true}  | ${'2025-02-30'} | ${'2025-03-01T00:00:00Z'}      | ${'2025-03-31'}
    ${'high'}       | ${true}  | ${'10 March'}   | ${'2025-03-01T00:00:00Z'}      | ${'2025-03-31'}
    ${'high'}       | ${true}  | ${'2021-11-17'} | ${'2025-03-01T00:00:00Z'}      | ${'2021-11-17'}
    ${'critical'}   | ${false} | ${null}         | ${'2025-12-28T05:00:00-08:00'} | ${'2026-01-04'}
  `(
    '$severity kev=$isKev ($kevDueDate) first seen $firstSeen -> $expected',
    ({ severity, isKev, kevDueDate, firstSeen, expected }) => {
      const input = { severity: severity as Severity, isKev, kevDueDate, firstSeen: new Date(firstSeen) };

      expect(dueDate(input, DEFAULT_SLA_POLICY)).toBe(expected);
    },
  );

  it('follows a custom policy', () => {
    const policy: SlaPolicy = {
      days: { critical: 1, high: 2, medium: 3, low: null, negligible: null, unknown: 14 },
    };

    expect(
      dueDate(
        { severity: 'unknown', isKev: false, kevDueDate: null, firstSeen: new Date('2025-01-01') },
        policy,
      ),
    ).toBe('2025-01-15');
    expect(
      dueDate({ severity: 'low', isKev: false, kevDueDate: null, firstSeen: new Date('2025-01-01') }, policy),
    ).toBe(null);
  });

  it('rejects an invalid firstSeen', () => {
    expect(() =>
      dueDate(
        { severity: 'high', isKev: false, kevDueDate: null, firstSeen: new Date('nope') },
        DEFAULT_SLA_POLICY,
      ),
    ).toThrow(/firstSeen/);
  });

  it('keeps the default policy frozen', () => {
    expect(Object.isFrozen(DEFAULT_SLA_POLICY.days)).toBe(true);
  });
});
