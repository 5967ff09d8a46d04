/**
 * The FIRST EPSS daily file (epss_scores-YYYY-MM-DD.csv, gzip removed by the caller): an optional
 * comment line `#model_version:v2025.03.14,score_date:2025-03-14T00:00:00+0000`, an optional
 * header `cve,epss,percentile` (old files: `cve,epss`), then one row per CVE. Only `parse.ts` uses it.
 */

/** The key/value pairs of the comment line, e.g. `{model_version: 'v2025.03.14', score_date: '…'}`. */
export function readEpssComment(line: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const part of line.replace(/^#/, '').split(',')) {
    const colon = part.indexOf(':');
    if (colon <= 0) continue;
    pairs[part.slice(0, colon).trim()] = part.slice(colon + 1).trim();
  }
  return pairs;
}

/** Column positions of a header line, or null when the line is not a header naming cve and epss. */
export function readEpssHeader(
  line: string,
): { cve: number; epss: number; percentile: number | null } | null {
  const names = line.split(',').map((name) => name.trim().toLowerCase());
  const cve = names.indexOf('cve');
  const epss = names.indexOf('epss');
  if (cve === -1 || epss === -1) return null;
  const percentile = names.indexOf('percentile');
  return { cve, epss, percentile: percentile === -1 ? null : percentile };
}

/** A probability or rank in 0–1 written as a plain decimal (`0.00043`, `1`, `4.3e-05`). */
export function readUnitNumber(text: string): number | null {
  if (!/^[0-9.eE+-]+$/.test(text)) return null;
  const value = Number(text);
  return Number.isFinite(value) && value >= 0 && value <= 1 ? value : null;
}
