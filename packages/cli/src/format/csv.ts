import type { Finding } from '@patchwarden/core';
import type { ScanReport } from './report.js';

/** Columns of `--format csv`, in order; multi-valued fields are space-separated. */
export const CSV_COLUMNS = [
  'package',
  'source_package',
  'architecture',
  'ecosystem',
  'installed_version',
  'fixed_version',
  'fix_state',
  'severity',
  'risk_score',
  'due_date',
  'kev',
  'epss',
  'advisories',
  'cves',
] as const;

/** One row per finding, highest risk first, with a header row; RFC 4180 (CRLF, fields quoted when needed). */
export function formatCsv(report: ScanReport): string {
  const rows = report.findings.map((f) => row(f));
  return [CSV_COLUMNS.join(','), ...rows].map((line) => `${line}\r\n`).join('');
}

function row(f: Finding): string {
  const cells: Array<string | number | null> = [
    f.package,
    f.sourcePackage,
    f.architecture,
    f.ecosystem,
    f.installedVersion,
    f.fixedVersion,
    f.fixState,
    f.severity,
    f.riskScore,
    f.dueDate,
    f.isKev ? 'yes' : 'no',
    f.epss,
    f.advisories.join(' '),
    f.cves.join(' '),
  ];
  return cells.map(csvField).join(',');
}

/** RFC 4180 §2: a field with a comma, quote or line break is quoted and its quotes doubled; null is empty. */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
