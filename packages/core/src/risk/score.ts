import type { Severity } from '../types/advisory.js';
import type { Criticality, RiskInput } from './types.js';

/**
 * Severity as a CVSS-like floor (0–10): the score a finding gets from its severity word alone.
 * `unknown` scores like `negligible`, so that the order unknown ≤ negligible < low < … holds.
 */
export const SEVERITY_FLOOR: Readonly<Record<Severity, number>> = Object.freeze({
  critical: 9,
  high: 7,
  medium: 4,
  low: 2,
  negligible: 0.5,
  unknown: 0.5,
});

/** Share of the score kept for a host of each criticality (1 = all of it). */
export const CRITICALITY_WEIGHT: Readonly<Record<Criticality, number>> = Object.freeze({
  low: 0.55,
  medium: 0.7,
  high: 0.85,
  critical: 1,
});

const TECHNICAL_POINTS = 60;
const LIKELIHOOD_POINTS = 30;
const RANSOMWARE_POINTS = 10;

/**
 * Risk of one finding, 0–100 with one decimal (formula in readme.md). Monotone: raising any input
 * (severity in the order of `SEVERITY_FLOOR`, CVSS, EPSS, KEV, ransomware, criticality) never
 * lowers it. Out-of-range or NaN numbers are clamped (NaN counts as absent).
 */
export function riskScore(input: RiskInput): number {
  const technical = Math.max(clamp(input.cvssScore, 10), SEVERITY_FLOOR[input.severity]);
  const isExploited = input.isKev || input.knownRansomwareUse;
  const likelihood = isExploited ? 1 : Math.sqrt(clamp(input.epss, 1));
  const ransomware = input.knownRansomwareUse ? 1 : 0;
  const raw =
    (TECHNICAL_POINTS * technical) / 10 + LIKELIHOOD_POINTS * likelihood + RANSOMWARE_POINTS * ransomware;
  return Math.round(raw * CRITICALITY_WEIGHT[input.criticality] * 10) / 10;
}

function clamp(value: number | null, max: number): number {
  if (value === null || Number.isNaN(value) || value < 0) return 0;
  return value > max ? max : value;
}
