import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Severity } from '../types/advisory.js';
import { riskScore } from './score.js';
import type { Criticality, RiskInput } from './types.js';

const SEVERITY_ORDER: Severity[] = ['unknown', 'negligible', 'low', 'medium', 'high', 'critical'];
const CRITICALITY_ORDER: Criticality[] = ['low', 'medium', 'high', 'critical'];

const base: RiskInput = {
  severity: 'unknown',
  cvssScore: null,
  epss: null,
  isKev: false,
  knownRansomwareUse: false,
  criticality: 'critical',
};

describe('risk/riskScore', () => {
  it.each`
    severity        | cvssScore | epss    | isKev    | knownRansomwareUse | criticality   | expected
    ${'unknown'}    | ${null}   | ${null} | ${false} | ${false}           | ${'critical'} | ${3}
    ${'negligible'} | ${null}   | ${null} | ${false} | ${false}           | ${'critical'} | ${3}
    ${'low'}        | ${null}   | ${null} | ${false} | ${false}           | ${'critical'} | ${12}
    ${'medium'}     | ${null}   | ${null} | ${false} | ${false}           | ${'critical'} | ${24}
    ${'high'}       | ${null}   | ${null} | ${false} | ${false}           | ${'critical'} | ${42}
    ${'critical'}   | ${null}   | ${null} | ${false} | ${false}           | ${'critical'} | ${54}
    ${'critical'}   | ${10}     | ${null} | ${false} | ${false}           | ${'critical'} | ${60}
    ${'low'}        | ${9.8}    | ${null} | ${false} | ${false}           | ${'critical'} | ${58.8}
    ${'high'}       | ${5}      | ${null} | ${false} | ${false}           | ${'critical'} | ${42}
    ${'high'}       | ${7.5}    | ${0.01} | ${false} | ${false}           | ${'medium'}   | ${33.6}
    ${'high'}       | ${7.5}    | ${0.25} | ${false} | ${false}           | ${'critical'} | ${60}
    ${'critical'}   | ${9.8}    | ${0.02} | ${true}  | ${false}           | ${'high'}     | ${75.5}
    ${'critical'}   | ${10}     | ${1}    | ${true}  | ${true}            | ${'critical'} | ${100}
    ${'critical'}   | ${10}     | ${1}    | ${true}  | ${true}            | ${'low'}      | ${55}
    ${'medium'}     | ${null}   | ${null} | ${false} | ${true}            | ${'critical'} | ${64}
    ${'medium'}     | ${42}     | ${7}    | ${false} | ${false}           | ${'critical'} | ${90}
    ${'medium'}     | ${-1}     | ${-1}   | ${false} | ${false}           | ${'critical'} | ${24}
    ${'medium'}     | ${NaN}    | ${NaN}  | ${false} | ${false}           | ${'critical'} | ${24}
  `(
    '$severity cvss=$cvssScore epss=$epss kev=$isKev ransomware=$knownRansomwareUse on $criticality -> $expected',
    (row: RiskInput & { expected: number }) => {
      const { expected, ...input } = row;

      expect(riskScore(input)).toBe(expected);
    },
  );

  const arbInput = fc.record({
    severity: fc.integer({ min: 0, max: SEVERITY_ORDER.length - 1 }),
    cvssScore: fc.option(fc.double({ min: 0, max: 10, noNaN: true }), { nil: null }),
    epss: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
    isKev: fc.boolean(),
    knownRansomwareUse: fc.boolean(),
    criticality: fc.integer({ min: 0, max: CRITICALITY_ORDER.length - 1 }),
  });
  type Arb = typeof arbInput extends fc.Arbitrary<infer T> ? T : never;
  const toInput = (a: Arb): RiskInput => ({
    ...a,
    severity: SEVERITY_ORDER[a.severity]!,
    criticality: CRITICALITY_ORDER[a.criticality]!,
  });
  const raise = fc.oneof(
    fc.constant((a: Arb): Arb => ({ ...a, severity: Math.min(a.severity + 1, SEVERITY_ORDER.length - 1) })),
    fc.constant(
      (a: Arb): Arb => ({ ...a, criticality: Math.min(a.criticality + 1, CRITICALITY_ORDER.length - 1) }),
    ),
    fc.constant((a: Arb): Arb => ({ ...a, isKev: true })),
    fc.constant((a: Arb): Arb => ({ ...a, knownRansomwareUse: true })),
    fc.double({ min: 0, max: 10, noNaN: true }).map(
      (d) =>
        (a: Arb): Arb => ({ ...a, cvssScore: Math.min(10, (a.cvssScore ?? 0) + d) }),
    ),
    fc.double({ min: 0, max: 1, noNaN: true }).map(
      (d) =>
        (a: Arb): Arb => ({ ...a, epss: Math.min(1, (a.epss ?? 0) + d) }),
    ),
  );

  it('is monotone: raising any one input never lowers the score', () => {
    fc.assert(
      fc.property(arbInput, raise, (a, step) => {
        expect(riskScore(toInput(step(a)))).toBeGreaterThanOrEqual(riskScore(toInput(a)));
      }),
      { numRuns: 5000 },
    );
  });

  it('stays within 0–100', () => {
    fc.assert(
      fc.property(arbInput, (a) => {
        const score = riskScore(toInput(a));
        expect(score).toBeGreaterThanOrEqual(0);
        expect(score).toBeLessThanOrEqual(100);
      }),
    );
  });

  it('gives a KEV finding more than the same finding without KEV', () => {
    expect(riskScore({ ...base, severity: 'high', isKev: true })).toBeGreaterThan(
      riskScore({ ...base, severity: 'high' }),
    );
  });
});
