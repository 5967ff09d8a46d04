import type { FleetSummary } from '@patchwarden/store';
import { type Json, parseAdminArgs, positiveIntFlag, printResult } from '../admin.js';
import { formatTable } from '../client.js';
import { EXIT, UsageError } from '../errors.js';
import type { Io } from '../io.js';

const USAGE = `usage: patchwarden summary [--stale-after-hours N]
Hosts, open findings by severity and fix state, KEV exposure and overdue findings, for the hosts
your token may read. A host not seen for more than N hours (default 24) counts as stale.
Options: --server URL (PATCHWARDEN_URL), --token T (PATCHWARDEN_TOKEN), --json.`;

/** GET /summary: the store's fleet summary as JSON. */
type Summary = Json<FleetSummary>;

/** `patchwarden summary`: the fleet summary, as text or `--json`. */
export async function summaryCommand(args: string[], io: Io): Promise<number> {
  const parsed = await parseAdminArgs(args, io, { 'stale-after-hours': { type: 'string' } }, USAGE);
  if (parsed === null) {
    return EXIT.ok;
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0) {
    throw new UsageError(`summary takes no arguments, got ${positionals.length}\n${USAGE}`);
  }
  const stale = values['stale-after-hours'] as string | undefined;
  positiveIntFlag(stale, '--stale-after-hours must be a whole number of hours');
  const summary = await parsed.client().call<Summary>('GET', '/summary', {
    query: { staleAfterHours: stale },
  });
  await printResult(io, parsed.json, summary, describe(summary));
  return EXIT.ok;
}

function describe(s: Summary): string {
  const { hosts, findings } = s;
  const lines = [
    `fleet at ${s.at}`,
    '',
    formatTable(
      ['HOSTS', 'COUNT'],
      [
        ['total', hosts.total],
        ['with open findings', hosts.withOpenFindings],
        ['with KEV findings', hosts.withKevFindings],
        ['noncompliant (past due)', hosts.noncompliant],
        [`stale (> ${s.staleAfterHours} h)`, hosts.stale],
        ['never seen', hosts.neverSeen],
        ['reboot required', hosts.rebootRequired],
      ],
    ),
    formatTable(
      ['OPEN FINDINGS', 'COUNT'],
      [
        ['total', findings.open],
        ...Object.entries(findings.bySeverity).map(([severity, count]) => [`  ${severity}`, count]),
        ['KEV', findings.kev],
        ['overdue', findings.overdue],
        ...Object.entries(findings.byFixState).map(([state, count]) => [`  ${state}`, count]),
        ['waived (not open)', findings.waived],
      ],
    ),
  ];
  return lines.join('\n');
}
