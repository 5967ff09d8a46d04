import cvssCalculator from 'ae-cvss-calculator';
import type { CvssScore, Severity } from '../types/advisory.js';

type Version = CvssScore['version'];

/** The base metrics each version requires (v2 guide §3.2.1, v3.x spec §7.4, v4.0 spec §7). */
const BASE_METRICS: Readonly<Record<Version, readonly string[]>> = {
  '2.0': ['AV', 'AC', 'Au', 'C', 'I', 'A'],
  '3.0': ['AV', 'AC', 'PR', 'UI', 'S', 'C', 'I', 'A'],
  '3.1': ['AV', 'AC', 'PR', 'UI', 'S', 'C', 'I', 'A'],
  '4.0': ['AV', 'AC', 'AT', 'PR', 'UI', 'VC', 'VI', 'VA', 'SC', 'SI', 'SA'],
};

const PREFIXES: ReadonlyArray<readonly [string, Version]> = [
  ['CVSS:4.0/', '4.0'],
  ['CVSS:3.1/', '3.1'],
  ['CVSS:3.0/', '3.0'],
  ['CVSS:2.0/', '2.0'],
];

/**
 * The CVSS base score of `vector`, computed by ae-cvss-calculator (FIRST's formulas for 2.0, 3.0,
 * 3.1 and 4.0), or null when `vector` is not a complete, well-formed vector: unknown version
 * prefix, unknown metric or value, a metric given twice, or a base metric missing or `X`.
 *
 * v3.x vectors need their `CVSS:3.x/` prefix; a bare vector is read as v2 (NVD writes v2 vectors
 * bare, sometimes in parentheses). Temporal, threat and environmental metrics may be present but
 * never change `baseScore`: for v4.0 it is the CVSS-B score of the base metrics alone. `vector` is
 * returned as given (trimmed).
 */
export function cvssScore(vector: string): CvssScore | null {
  const text = vector.trim();
  let version: Version = '2.0';
  let body = text;
  for (const [prefix, candidate] of PREFIXES) {
    if (text.startsWith(prefix)) {
      version = candidate;
      body = text.slice(prefix.length);
      break;
    }
  }
  if (version === '2.0' && body.startsWith('(') && body.endsWith(')')) body = body.slice(1, -1);
  const metrics = parseMetrics(body);
  if (metrics === null) return null;
  for (const metric of BASE_METRICS[version]) {
    const value = metrics.get(metric);
    if (value === undefined || value === 'X' || value === 'ND') return null;
  }
  const baseScore = computeBaseScore(version, body);
  if (baseScore === null) return null;
  return { version, vector: text, baseScore, severity: ratingOf(version, baseScore) };
}

/** `AV:N/AC:L/…` -> metric -> value; null on empty parts or repeated metrics. */
function parseMetrics(body: string): Map<string, string> | null {
  const metrics = new Map<string, string>();
  for (const part of body.split('/')) {
    const colon = part.indexOf(':');
    if (colon <= 0 || colon === part.length - 1 || part.indexOf(':', colon + 1) !== -1) return null;
    const metric = part.slice(0, colon);
    if (metrics.has(metric)) return null;
    metrics.set(metric, part.slice(colon + 1));
  }
  return metrics;
}

function computeBaseScore(version: Version, body: string): number | null {
  try {
    switch (version) {
      case '2.0':
        return roundScore(new cvssCalculator.Cvss2(body).calculateScores().base);
      case '3.0':
        return roundScore(new cvssCalculator.Cvss3P0(`CVSS:3.0/${body}`).calculateScores().base);
      case '3.1':
        return roundScore(new cvssCalculator.Cvss3P1(`CVSS:3.1/${body}`).calculateScores().base);
      case '4.0':
        return roundScore(new cvssCalculator.Cvss4P0(`CVSS:4.0/${body}`).calculateScores().baseMetricsOnly);
    }
  } catch {
    // The library throws on an unknown metric or value: that is "not a vector", i.e. null.
    return null;
  }
}

function roundScore(score: number | undefined): number | null {
  if (score === undefined || !Number.isFinite(score) || score < 0 || score > 10) return null;
  return Math.round(score * 10) / 10;
}

/**
 * The qualitative rating. v3.x/v4.0 (spec §5 / §6): 0.0 None, 0.1–3.9 Low, 4.0–6.9 Medium,
 * 7.0–8.9 High, 9.0–10.0 Critical. v2 has no rating of its own; NVD's: 0.0–3.9 Low, 4.0–6.9 Medium,
 * 7.0–10.0 High. "None" has no `Severity` word and becomes `negligible`.
 */
function ratingOf(version: Version, score: number): Severity {
  if (version === '2.0') {
    if (score >= 7) return 'high';
    return score >= 4 ? 'medium' : 'low';
  }
  if (score === 0) return 'negligible';
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  return score >= 4 ? 'medium' : 'low';
}
