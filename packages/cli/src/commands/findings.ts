import type { FindingRecord } from '@patchwarden/store';
import { formatFields, type Json, runListAndShowCommand } from '../admin.js';
import { formatTable } from '../client.js';
import type { Io } from '../io.js';

const USAGE = `usage: patchwarden findings list [--host HOST_ID] [--severity S] [filters] [--sort risk|due|opened]
                                 [--order asc|desc] [--limit N] [--cursor C | --all]
       patchwarden findings show FINDING_ID
Filters: --severity critical|high|medium|low|negligible|unknown (repeatable or comma-separated: any of),
         --status open|fixed|waived (default open), --kev, --overdue, --package NAME, --advisory ID, --cve CVE-…
Options: --server URL (PATCHWARDEN_URL), --token T (PATCHWARDEN_TOKEN), --json.
A page holds up to --limit findings (default 50, at most 500); --all follows the cursor to the end.`;

const LIST_FLAGS: Readonly<Record<string, string>> = {
  host: 'host',
  status: 'status',
  package: 'package',
  advisory: 'advisory',
  cve: 'cve',
  sort: 'sort',
  order: 'order',
  limit: 'limit',
  cursor: 'cursor',
};

/** A finding as GET /findings gives it: the store's record, with `kev` and `overdue`. */
type Finding = Json<Omit<FindingRecord, 'isKev'>> & { overdue: boolean; kev: boolean };

interface FindingDetail {
  finding: Finding;
  advisory: { id: string; title: string | null } | null;
  events: { kind: string; at: string; actor: string | null; detail: Record<string, unknown> }[];
}

/** `patchwarden findings list|show`: findings of the fleet, as tables or `--json`. */
export async function findingsCommand(args: string[], io: Io): Promise<number> {
  return runListAndShowCommand<Finding, FindingDetail>(args, io, {
    name: 'findings',
    usage: USAGE,
    listFlags: LIST_FLAGS,
    options: {
      severity: { type: 'string', multiple: true },
      kev: { type: 'boolean' },
      overdue: { type: 'boolean' },
    },
    filter: (values, query) => {
      for (const severity of ((values.severity as string[] | undefined) ?? []).flatMap((s) => s.split(','))) {
        if (severity.trim() !== '') query.append('severity', severity.trim());
      }
      if (values.kev === true) query.set('kev', 'true');
      if (values.overdue === true) query.set('overdue', 'true');
    },
    headers: LIST_HEADERS,
    row: listRow,
    describe,
  });
}

const LIST_HEADERS = [
  'ID',
  'HOST',
  'PACKAGE',
  'INSTALLED',
  'FIXED',
  'SEVERITY',
  'RISK',
  'DUE',
  'KEV',
  'ADVISORY',
] as const;

function listRow(finding: Finding): unknown[] {
  return [
    finding.id,
    finding.hostName,
    finding.packageName,
    finding.installedVersion,
    finding.fixedVersion ?? finding.fixState,
    finding.severity,
    finding.riskScore,
    finding.dueAt === null ? null : `${finding.dueAt.slice(0, 10)}${finding.overdue ? ' (overdue)' : ''}`,
    finding.kev ? 'yes' : '',
    finding.advisoryId,
  ];
}

function describe(detail: FindingDetail): string {
  const f = detail.finding;
  const fields: [string, unknown][] = [
    ['id', f.id],
    ['host', `${f.hostName} (${f.hostId})`],
    ['package', `${f.packageName} ${f.installedVersion}`],
    ['fixed version', f.fixedVersion ?? f.fixState],
    ['advisory', detail.advisory?.title ? `${f.advisoryId}: ${detail.advisory.title}` : f.advisoryId],
    ['cves', f.cves.join(', ')],
    ['severity', f.severity],
    ['risk', f.riskScore],
    ['kev', f.kev ? 'yes' : 'no'],
    ['status', f.status],
    ['opened', f.openedAt],
    ['due', f.dueAt === null ? null : `${f.dueAt}${f.overdue ? ' (overdue)' : ''}`],
  ];
  const events =
    detail.events.length === 0
      ? 'no events\n'
      : formatTable(
          ['AT', 'EVENT', 'ACTOR', 'DETAIL'],
          detail.events.map((e) => [e.at, e.kind, e.actor, JSON.stringify(e.detail)]),
        );
  return `${formatFields(fields)}\n\n${events}`;
}
