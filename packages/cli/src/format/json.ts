import type { ScanReport } from './report.js';

/** The documented machine format: the report object as is (docs/scan-json.schema.json), pretty-printed. */
export function formatJson(report: ScanReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
