import type { EpssScore, SkippedRecord } from '../../types/advisory.js';
import { isCveId, isIsoDate, splitLines, stripBom } from '../common.js';
import { readEpssComment, readEpssHeader, readUnitNumber } from './schema.js';

/** The parsed EPSS file. */
export interface EpssFile {
  /** YYYY-MM-DD from the comment line, or null when the file has none. */
  scoreDate: string | null;
  /** `v2025.03.14` from the comment line, or null. */
  modelVersion: string | null;
  scores: EpssScore[];
  skipped: SkippedRecord[];
}

/**
 * Parses a FIRST EPSS daily CSV (already decompressed). The comment line gives the model version
 * and score date, stored with every score since scores shift when the model changes; old files
 * without it give nulls. The header decides the columns; a file without one is read as
 * `cve,epss[,percentile]`; no percentile column gives `percentile: null`. A row whose CVE id or
 * numbers (0–1) do not parse is reported in `skipped` with its line (`<location>:<line>`).
 */
export function parseEpss(text: string, location: string): EpssFile {
  const lines = splitLines(stripBom(text));
  let scoreDate: string | null = null;
  let modelVersion: string | null = null;
  let columns: { cve: number; epss: number; percentile: number | null } = { cve: 0, epss: 1, percentile: 2 };
  const scores: EpssScore[] = [];
  const skipped: SkippedRecord[] = [];
  let isFirstRow = true;
  for (const [index, line] of lines.entries()) {
    const where = `${location}:${index + 1}`;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const pairs = readEpssComment(line);
      modelVersion = pairs.model_version ?? modelVersion;
      const date = pairs.score_date?.slice(0, 10);
      if (date !== undefined && isIsoDate(date)) scoreDate = date;
      else if (pairs.score_date !== undefined)
        skipped.push({
          location: where,
          recordId: null,
          reason: `score_date "${pairs.score_date}" is not a date`,
        });
      continue;
    }
    if (isFirstRow) {
      isFirstRow = false;
      const header = readEpssHeader(line);
      if (header !== null) {
        columns = header;
        continue;
      }
    }
    const fields = line.split(',');
    const cve = fields[columns.cve]?.trim() ?? '';
    const epss = readUnitNumber(fields[columns.epss]?.trim() ?? '');
    const percentileText = columns.percentile === null ? undefined : fields[columns.percentile]?.trim();
    const percentile =
      percentileText === undefined || percentileText === '' ? null : readUnitNumber(percentileText);
    const problems: string[] = [];
    if (!isCveId(cve)) problems.push('cve must be a CVE id');
    if (epss === null) problems.push('epss must be a number from 0 to 1');
    if (percentileText !== undefined && percentileText !== '' && percentile === null) {
      problems.push('percentile must be a number from 0 to 1');
    }
    if (problems.length > 0 || epss === null) {
      skipped.push({ location: where, recordId: cve === '' ? null : cve, reason: problems.join('; ') });
      continue;
    }
    scores.push({ cve, epss, percentile, scoreDate, modelVersion });
  }
  return { scoreDate, modelVersion, scores, skipped };
}
