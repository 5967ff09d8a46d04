import { formatFields, runListAndShowCommand } from '../admin.js';
import { formatTable } from '../client.js';
import { UsageError } from '../errors.js';
import type { Io } from '../io.js';

const USAGE = `usage: patchwarden hosts list [filters] [--sort name|last_seen|open_findings|risk] [--order asc|desc]
                              [--limit N] [--cursor C | --all]
       patchwarden hosts show HOST_ID
Filters: --label KEY=VALUE (repeatable, all must match), --group GROUP_ID, --os ID, --os-version V,
         --package NAME, --advisory ID, --cve CVE-…, --compliance compliant|noncompliant,
         --min-severity critical|high|medium|low|negligible|unknown, --kev
Options: --server URL (PATCHWARDEN_URL), --token T (PATCHWARDEN_TOKEN), --json.
A page holds up to --limit hosts (default 50, at most 500); --all follows the cursor to the end.`;

/** The filters and paging flags of `hosts list`, as query parameters of GET /hosts. */
const LIST_FLAGS: Readonly<Record<string, string>> = {
  group: 'group',
  os: 'os',
  'os-version': 'osVersion',
  package: 'package',
  advisory: 'advisory',
  cve: 'cve',
  compliance: 'compliance',
  'min-severity': 'minSeverity',
  sort: 'sort',
  order: 'order',
  limit: 'limit',
  cursor: 'cursor',
};

interface Host {
  id: string;
  name: string;
  os: { distro: string; versionId: string | null; prettyName: string } | null;
  labels: Record<string, string>;
  groupId: string | null;
  owner: string | null;
  environment: string | null;
  criticality: string;
  lastSeenAt: string | null;
  kernel: string | null;
  agentVersion: string | null;
  rebootRequired: boolean;
  openFindings: number;
  kevFindings: number;
  worstSeverity: string | null;
  maxRiskScore: number | null;
  earliestDueAt: string | null;
  compliant: boolean;
}

interface HostDetail {
  host: Host;
  group: { id: string; name: string } | null;
  packages: { name: string; version: string; architecture: string | null }[];
  packageCount: number;
  packagesTruncated: boolean;
  openFindings: {
    id: string;
    packageName: string;
    installedVersion: string;
    fixedVersion: string | null;
    severity: string | null;
    riskScore: number | null;
    dueAt: string | null;
    overdue: boolean;
    kev: boolean;
    advisoryId: string;
  }[];
  findingsTruncated: boolean;
}

/** `patchwarden hosts list|show`: the fleet's hosts, as tables or `--json`. */
export async function hostsCommand(args: string[], io: Io): Promise<number> {
  return runListAndShowCommand<Host, HostDetail>(args, io, {
    name: 'hosts',
    usage: USAGE,
    listFlags: LIST_FLAGS,
    options: {
      label: { type: 'string', multiple: true },
      kev: { type: 'boolean' },
    },
    filter: (values, query) => {
      for (const label of (values.label as string[] | undefined) ?? []) {
        if (!label.includes('=')) {
          throw new UsageError(`--label takes KEY=VALUE, got ${JSON.stringify(label)}`);
        }
        query.append('label', label);
      }
      if (values.kev === true) query.set('kev', 'true');
    },
    headers: LIST_HEADERS,
    row: listRow,
    describe,
  });
}

const LIST_HEADERS = [
  'ID',
  'NAME',
  'OS',
  'GROUP',
  'LAST SEEN',
  'OPEN',
  'KEV',
  'WORST',
  'RISK',
  'COMPLIANT',
] as const;

function listRow(host: Host): unknown[] {
  return [
    host.id,
    host.name,
    osName(host),
    host.groupId,
    host.lastSeenAt ?? 'never',
    host.openFindings,
    host.kevFindings,
    host.worstSeverity,
    host.maxRiskScore,
    host.compliant ? 'yes' : 'no',
  ];
}

function osName(host: Host): string | null {
  return host.os === null ? null : `${host.os.distro} ${host.os.versionId ?? ''}`.trim();
}

function describe(detail: HostDetail): string {
  const { host } = detail;
  const labels = Object.entries(host.labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
  const fields: [string, unknown][] = [
    ['id', host.id],
    ['name', host.name],
    ['os', host.os?.prettyName ?? null],
    ['kernel', host.kernel],
    ['group', detail.group === null ? null : `${detail.group.name} (${detail.group.id})`],
    ['labels', labels],
    ['owner', host.owner],
    ['environment', host.environment],
    ['criticality', host.criticality],
    ['last seen', host.lastSeenAt ?? 'never'],
    ['agent', host.agentVersion],
    ['reboot required', host.rebootRequired ? 'yes' : 'no'],
    ['packages', `${detail.packageCount}${detail.packagesTruncated ? ' (list truncated)' : ''}`],
    ['open findings', `${host.openFindings} (${host.kevFindings} KEV)`],
    ['compliant', host.compliant ? 'yes' : `no (earliest due ${host.earliestDueAt})`],
  ];
  const findings =
    detail.openFindings.length === 0
      ? 'no open findings\n'
      : formatTable(
          ['FINDING', 'PACKAGE', 'INSTALLED', 'FIXED', 'SEVERITY', 'RISK', 'DUE', 'KEV', 'ADVISORY'],
          detail.openFindings.map((f) => [
            f.id,
            f.packageName,
            f.installedVersion,
            f.fixedVersion,
            f.severity,
            f.riskScore,
            f.dueAt === null ? null : `${f.dueAt.slice(0, 10)}${f.overdue ? ' (overdue)' : ''}`,
            f.kev ? 'yes' : '',
            f.advisoryId,
          ]),
        );
  return `${formatFields(fields)}\n\n${findings}`;
}
