import type { Finding } from '@patchwarden/core';
import { type ScanReport, SEVERITIES } from './report.js';

/** Advisory ids shown per row before `+N more`. */
const ADVISORIES_SHOWN = 3;

/**
 * For people: what was scanned against what, one row per affected package (highest risk first) with its
 * installed and fixed versions, severity, due date and advisories, and a one-line summary.
 */
export function formatTable(report: ScanReport): string {
  const lines: string[] = [];
  const { host } = report;
  lines.push(`${host.os.prettyName}: ${host.packages} packages from ${host.source}`);
  for (const feed of report.feeds) {
    const kinds = Object.entries(feed.documents)
      .map(([kind, count]) => `${count} ${kind}`)
      .join(', ');
    const when = feed.newestTimestamp ? `, newest ${feed.newestTimestamp}` : '';
    lines.push(`feed ${feed.source}: ${kinds || 'no documents'}; ${feed.records} records${when}`);
  }
  lines.push('');

  if (report.findings.length === 0) {
    lines.push('No findings: no loaded advisory applies to an installed package.');
  } else {
    lines.push(...renderRows(report.findings));
  }
  lines.push('', summaryLine(report));
  return `${lines.join('\n')}\n`;
}

function renderRows(findings: Finding[]): string[] {
  const header = ['RISK', 'SEVERITY', 'PACKAGE', 'INSTALLED', 'FIXED', 'DUE', 'ADVISORIES'];
  const rows = findings.map((f) => [
    f.riskScore.toFixed(1),
    f.severity,
    f.architecture && f.architecture !== 'all' ? `${f.package}:${f.architecture}` : f.package,
    f.installedVersion,
    f.fixedVersion ?? fixStateLabel(f),
    f.dueDate ?? '-',
    advisoriesCell(f),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const render = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [render(header), ...rows.map(render)];
}

function fixStateLabel(finding: Finding): string {
  return finding.fixState === 'will-not-fix' ? '(will not fix)' : '(no fix yet)';
}

function advisoriesCell(finding: Finding): string {
  const shown = finding.advisories.slice(0, ADVISORIES_SHOWN).join(' ');
  const more =
    finding.advisories.length > ADVISORIES_SHOWN
      ? ` +${finding.advisories.length - ADVISORIES_SHOWN} more`
      : '';
  const flags = [finding.isKev ? 'KEV' : '', finding.knownRansomwareUse ? 'ransomware' : ''].filter(Boolean);
  return `${shown}${more}${flags.length > 0 ? ` [${flags.join(', ')}]` : ''}`;
}

/** `802 packages scanned, 3 affected; 4 findings: 1 critical, 2 high, 1 medium; 1 in KEV; 2 records skipped`. */
export function summaryLine(report: ScanReport): string {
  const { summary } = report;
  const bySeverity = SEVERITIES.filter((s) => summary.bySeverity[s] > 0).map(
    (s) => `${summary.bySeverity[s]} ${s}`,
  );
  const findings = `${summary.findings} finding${summary.findings === 1 ? '' : 's'}${bySeverity.length > 0 ? `: ${bySeverity.join(', ')}` : ''}`;
  return [
    `${summary.packagesScanned} packages scanned, ${summary.packagesAffected} affected`,
    findings,
    `${summary.kev} in KEV`,
    `${summary.advisoriesLoaded} advisory records loaded (${summary.advisoriesForHost} for ${report.host.os.distro} ${report.host.os.version ?? 'rolling'})`,
    `${summary.skipped} skipped`,
  ].join('; ');
}
