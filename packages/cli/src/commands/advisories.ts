import { positiveIntFlag, printResult, runAdminCommand } from '../admin.js';
import { formatTable } from '../client.js';
import { EXIT, UsageError } from '../errors.js';
import { type Io, write } from '../io.js';

const USAGE = `usage: patchwarden advisories show ID [--hosts-limit N] [--hosts-after HOST_ID]
       patchwarden advisories list [--search TEXT] [--package NAME] [--severity S] [--limit N] [--after CURSOR]
Options: --server URL (PATCHWARDEN_URL), --token T (PATCHWARDEN_TOKEN), --json.
ID is the record's id (DSA-5000-1, GHSA-…, CVE-… for the tracker) or the stored id (osv:GHSA-…).
\`show\` lists the hosts with an open finding of the advisory that your token may see.`;

interface AdvisorySummary {
  id: string;
  externalId: string;
  source: string;
  title: string | null;
  severity: string | null;
  cvssScore: number | null;
  aliases: string[];
  publishedAt: string | null;
}

interface Advisory {
  id: string;
  externalId: string;
  source: string;
  title: string | null;
  aliases: string[];
  cves: string[];
  severity: string;
  cvss: Array<{ version: string; vector: string; baseScore: number }>;
  publishedAt: string | null;
  modifiedAt: string | null;
  withdrawnAt: string | null;
  references: string[];
  affected: Array<{
    ecosystem: string;
    scope: string | null;
    name: string;
    ranges: Array<{ introduced: string | null; fixed: string | null; lastAffected: string | null }>;
    versions: string[];
    noFixReason: string | null;
  }>;
  feed: { id: string; name: string } | null;
  kevCves: string[];
  epss: number | null;
  hosts: {
    total: number;
    nextCursor: string | null;
    items: Array<{
      hostId: string;
      hostName: string;
      findings: Array<{
        packageName: string;
        installedVersion: string;
        fixedVersion: string | null;
        dueAt: string | null;
      }>;
    }>;
  };
}

/** `patchwarden advisories show|list`: stored advisories and the hosts they affect, as tables or `--json`. */
export async function advisoriesCommand(args: string[], io: Io): Promise<number> {
  return runAdminCommand(
    args,
    io,
    USAGE,
    {
      'hosts-limit': { type: 'string' },
      'hosts-after': { type: 'string' },
      search: { type: 'string' },
      package: { type: 'string' },
      severity: { type: 'string' },
      limit: { type: 'string' },
      after: { type: 'string' },
    },
    (parsed) => {
      const { values, rest, json } = parsed;
      return {
        show: async () => {
          if (rest.length !== 1 || rest[0] === undefined)
            throw new UsageError(`advisories show needs one ID\n${USAGE}`);
          const advisory = await parsed
            .client()
            .call<Advisory>('GET', `/advisories/${encodeURIComponent(rest[0])}`, {
              query: {
                hostsLimit: positiveInt('--hosts-limit', values['hosts-limit']),
                hostsAfter: values['hosts-after'] as string | undefined,
              },
            });
          await printResult(io, json, advisory, describe(advisory));
          return EXIT.ok;
        },
        list: async () => {
          if (rest.length !== 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}\n${USAGE}`);
          const page = await parsed.client().call<{
            advisories: AdvisorySummary[];
            nextCursor: string | null;
          }>('GET', '/advisories', {
            query: {
              q: values.search as string | undefined,
              package: values.package as string | undefined,
              severity: values.severity as string | undefined,
              limit: positiveInt('--limit', values.limit),
              after: values.after as string | undefined,
            },
          });
          if (json) {
            await printResult(io, json, page, '');
            return EXIT.ok;
          }
          await write(
            io.stdout,
            formatTable(
              ['ID', 'SEVERITY', 'CVSS', 'PUBLISHED', 'ALIASES', 'TITLE'],
              page.advisories.map((a) => [
                a.externalId,
                a.severity,
                a.cvssScore,
                a.publishedAt?.slice(0, 10),
                a.aliases.slice(0, 3).join(' ') + (a.aliases.length > 3 ? ' …' : ''),
                a.title,
              ]),
            ),
          );
          if (page.nextCursor !== null) await write(io.stdout, `\nmore: --after ${page.nextCursor}\n`);
          return EXIT.ok;
        },
      };
    },
    { missing: 'usage' },
  );
}

function positiveInt(flag: string, value: unknown): number | undefined {
  return positiveIntFlag(value, `${flag} must be a whole number above 0`);
}

function describe(advisory: Advisory): string {
  const cvss = advisory.cvss.map((c) => `${c.baseScore} (CVSS ${c.version})`).join(', ');
  const lines = [
    `${advisory.externalId}${advisory.title === null ? '' : `: ${advisory.title}`}`,
    `id:         ${advisory.id}`,
    `source:     ${advisory.source}${advisory.feed === null ? '' : ` (feed ${advisory.feed.name})`}`,
    `severity:   ${advisory.severity}${cvss === '' ? '' : `, ${cvss}`}`,
    `cves:       ${advisory.cves.join(' ') || '-'}`,
    `aliases:    ${advisory.aliases.join(' ') || '-'}`,
    `kev:        ${advisory.kevCves.length === 0 ? 'no' : `yes (${advisory.kevCves.join(' ')})`}`,
    `epss:       ${advisory.epss ?? '-'}`,
    `published:  ${advisory.publishedAt ?? '-'}`,
    ...(advisory.withdrawnAt === null ? [] : [`withdrawn:  ${advisory.withdrawnAt}`]),
    '',
    'affected:',
    formatTable(
      ['SCOPE', 'PACKAGE', 'INTRODUCED', 'FIXED', 'NOTE'],
      advisory.affected.flatMap((a) =>
        (a.ranges.length === 0 ? [null] : a.ranges).map((r) => [
          a.scope ?? a.ecosystem,
          a.name,
          r?.introduced,
          r?.fixed ?? (r?.lastAffected ? `<= ${r.lastAffected}` : null),
          a.noFixReason ?? (a.versions.length > 0 ? `versions: ${a.versions.join(' ')}` : null),
        ]),
      ),
    ).trimEnd(),
    '',
    `hosts with an open finding: ${advisory.hosts.total}`,
  ];
  if (advisory.hosts.items.length > 0) {
    lines.push(
      formatTable(
        ['HOST', 'PACKAGE', 'INSTALLED', 'FIXED', 'DUE'],
        advisory.hosts.items.flatMap((h) =>
          h.findings.map((f) => [
            h.hostName,
            f.packageName,
            f.installedVersion,
            f.fixedVersion,
            f.dueAt?.slice(0, 10),
          ]),
        ),
      ).trimEnd(),
    );
  }
  if (advisory.hosts.nextCursor !== null)
    lines.push(`more hosts: --hosts-after ${advisory.hosts.nextCursor}`);
  return `${lines.join('\n')}\n`;
}
