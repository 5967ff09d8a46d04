import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PatchwardenError, scopeKey } from '@patchwarden/core';
import { getAdvisory, readJson, readOptionalTimestamp } from '@patchwarden/store';
import type { FastifyInstance } from 'fastify';
import { type Static, Type } from 'typebox';
import { permissionScope } from '../../auth/permissions.js';
import { userOf } from '../../plugins/auth.js';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;
const DEFAULT_HOSTS_LIMIT = 100;
const MAX_HOSTS_LIMIT = 1000;

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });

const AdvisorySummaryJson = Type.Object({
  id: Type.String({ description: 'the stored id, <source>:<record id>' }),
  externalId: Type.String(),
  source: Type.String(),
  title: Nullable(Type.String()),
  severity: Nullable(Type.String()),
  cvssScore: Nullable(Type.Number()),
  aliases: Type.Array(Type.String()),
  publishedAt: Nullable(DateTime),
  modifiedAt: Nullable(DateTime),
  withdrawnAt: Nullable(DateTime),
  feedId: Nullable(Type.String()),
});

const AffectedHostJson = Type.Object({
  hostId: Type.String(),
  hostName: Type.String(),
  groupId: Nullable(Type.String()),
  findings: Type.Array(
    Type.Object({
      findingId: Type.String(),
      packageName: Type.String(),
      installedVersion: Type.String(),
      fixedVersion: Nullable(Type.String()),
      severity: Nullable(Type.String()),
      riskScore: Nullable(Type.Number()),
      openedAt: DateTime,
      dueAt: Nullable(DateTime),
    }),
  ),
});

const AdvisoryJson = Type.Object({
  id: Type.String(),
  externalId: Type.String(),
  source: Type.String(),
  title: Nullable(Type.String()),
  aliases: Type.Array(Type.String()),
  cves: Type.Array(Type.String()),
  severity: Type.String(),
  cvss: Type.Array(
    Type.Object({
      version: Type.String(),
      vector: Type.String(),
      baseScore: Type.Number(),
      severity: Type.String(),
    }),
  ),
  publishedAt: Nullable(Type.String()),
  modifiedAt: Nullable(Type.String()),
  withdrawnAt: Nullable(DateTime),
  references: Type.Array(Type.String()),
  affected: Type.Array(
    Type.Object({
      ecosystem: Type.String(),
      scope: Nullable(Type.String({ description: 'the distribution release, e.g. debian:12' })),
      name: Type.String(),
      nameKind: Type.String(),
      ranges: Type.Array(
        Type.Object({
          introduced: Nullable(Type.String()),
          fixed: Nullable(Type.String()),
          lastAffected: Nullable(Type.String()),
          limit: Nullable(Type.String()),
        }),
      ),
      versions: Type.Array(Type.String()),
      noFixReason: Nullable(Type.String()),
    }),
  ),
  origin: Nullable(Type.Object({ location: Type.String(), timestamp: Nullable(Type.String()) })),
  feed: Nullable(Type.Object({ id: Type.String(), name: Type.String() })),
  /** CVEs of this record in the KEV catalogue, and the highest EPSS score among its CVEs. */
  kevCves: Type.Array(Type.String()),
  epss: Nullable(Type.Number()),
  hosts: Type.Object({
    /** Hosts with an open finding of this advisory that the caller may see. */
    total: Type.Integer(),
    items: Type.Array(AffectedHostJson),
    nextCursor: Nullable(Type.String()),
  }),
});

const ListQuery = Type.Object(
  {
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'part of an advisory id or alias (CVE, GHSA, DSA)',
      }),
    ),
    package: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'an affected package name' }),
    ),
    severity: Type.Optional(Type.String({ minLength: 1, maxLength: 20 })),
    feed: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'a feed id' })),
    after: Type.Optional(
      Type.String({ minLength: 1, maxLength: 400, description: 'the previous page’s nextCursor' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT })),
  },
  { additionalProperties: false },
);

const ShowQuery = Type.Object(
  {
    hostsAfter: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    hostsLimit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_HOSTS_LIMIT, default: DEFAULT_HOSTS_LIMIT }),
    ),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({
  id: Type.String({
    minLength: 1,
    maxLength: 400,
    description: 'stored id (osv:GHSA-…) or record id (DSA-5000-1)',
  }),
});

/**
 * The search text as a LIKE pattern. `%` and `_` in it stay wildcards (SQLite has no default escape
 * character, so escaping would differ between the databases); they only widen a search.
 */
function containsPattern(text: string): string {
  return `%${text.toLowerCase()}%`;
}

function iso(value: Date | string | null): string | null {
  return readOptionalTimestamp(value)?.toISOString() ?? null;
}

/** /api/v1/advisories — stored advisory records, searchable, with the hosts each affects. */
export async function advisoriesRoutes(base: FastifyInstance): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/',
    {
      config: { permission: 'advisories:read' },
      schema: {
        summary: 'Advisories in id order, filtered by id/alias, package, severity or feed; cursor-paginated',
        querystring: ListQuery,
        response: {
          200: Type.Object({
            advisories: Type.Array(AdvisorySummaryJson),
            nextCursor: Nullable(Type.String()),
          }),
        },
      },
    },
    async (req) => {
      const { q, package: packageName, severity, feed, after } = req.query;
      const limit = req.query.limit ?? DEFAULT_LIMIT;
      let query = app.store.db
        .selectFrom('advisories')
        .select([
          'id',
          'external_id',
          'source',
          'title',
          'severity',
          'cvss_score',
          'aliases',
          'published_at',
          'modified_at',
          'withdrawn_at',
          'feed_id',
        ])
        .orderBy('id')
        .limit(limit + 1);
      if (q !== undefined) {
        const pattern = containsPattern(q);
        query = query.where((eb) =>
          eb.or([
            eb(eb.fn('lower', ['advisories.id']), 'like', pattern),
            eb(eb.fn('lower', ['advisories.aliases']), 'like', pattern),
          ]),
        );
      }
      if (packageName !== undefined) {
        query = query.where((eb) =>
          eb.exists(
            eb
              .selectFrom('advisory_affected')
              .select('advisory_affected.advisory_id')
              .whereRef('advisory_affected.advisory_id', '=', 'advisories.id')
              .where('advisory_affected.package_name', '=', packageName),
          ),
        );
      }
      if (severity !== undefined) query = query.where('severity', '=', severity);
      if (feed !== undefined) query = query.where('feed_id', '=', feed);
      if (after !== undefined) query = query.where('id', '>', after);
      const rows = await query.execute();
      const page = rows.slice(0, limit);
      return {
        advisories: page.map((row) => ({
          id: row.id,
          externalId: row.external_id,
          source: row.source,
          title: row.title,
          severity: row.severity,
          cvssScore: row.cvss_score === null ? null : Number(row.cvss_score),
          aliases: readJson(row.aliases, 'advisories.aliases') as string[],
          publishedAt: iso(row.published_at),
          modifiedAt: iso(row.modified_at),
          withdrawnAt: iso(row.withdrawn_at),
          feedId: row.feed_id,
        })),
        nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
      };
    },
  );

  app.get(
    '/:id',
    {
      config: { permission: 'advisories:read' },
      schema: {
        summary:
          'One advisory with its affected ranges and the hosts with an open finding of it (those the caller may see), paginated by host',
        params: IdParams,
        querystring: ShowQuery,
        response: { 200: AdvisoryJson },
      },
    },
    async (req) => {
      const db = app.store.db;
      const stored = await getAdvisory(db, req.params.id);
      if (stored === null) {
        throw new PatchwardenError('ADVISORY_NOT_FOUND', `advisory ${req.params.id} is not stored`, 404);
      }
      const { advisory } = stored;
      const feed =
        stored.feedId === null
          ? null
          : ((await db
              .selectFrom('feeds')
              .select(['id', 'name'])
              .where('id', '=', stored.feedId)
              .executeTakeFirst()) ?? null);
      const kev =
        advisory.cves.length === 0
          ? []
          : await db
              .selectFrom('kev_entries')
              .select('cve_id')
              .where('cve_id', 'in', advisory.cves)
              .execute();
      const epss =
        advisory.cves.length === 0
          ? []
          : await db.selectFrom('epss_scores').select('epss').where('cve_id', 'in', advisory.cves).execute();
      const hosts = await affectedHosts(app, req, stored.rowId, req.query);
      const result: Static<typeof AdvisoryJson> = {
        id: stored.rowId,
        externalId: advisory.id,
        source: advisory.source,
        title: advisory.summary,
        aliases: advisory.aliases,
        cves: advisory.cves,
        severity: advisory.severity,
        cvss: advisory.cvss.map((c) => ({
          version: c.version,
          vector: c.vector,
          baseScore: c.baseScore,
          severity: c.severity,
        })),
        publishedAt: advisory.published,
        modifiedAt: advisory.modified,
        withdrawnAt: stored.withdrawnAt?.toISOString() ?? null,
        references: advisory.references,
        affected: advisory.affected.map((a) => ({
          ecosystem: a.ecosystem,
          scope: a.scope === null ? null : scopeKey(a.scope),
          name: a.name,
          nameKind: a.nameKind,
          ranges: a.ranges.map((r) => ({
            introduced: r.introduced,
            fixed: r.fixed,
            lastAffected: r.lastAffected,
            limit: r.limit,
          })),
          versions: a.versions,
          noFixReason: a.noFixReason,
        })),
        origin: stored.origin,
        feed,
        kevCves: kev.map((row) => row.cve_id).sort(),
        epss: epss.length === 0 ? null : Math.max(...epss.map((row) => Number(row.epss))),
        hosts,
      };
      return result;
    },
  );
}

/** The hosts with an open finding of `advisoryId` in the caller's `findings:read` scope, a page of hosts at a time. */
async function affectedHosts(
  app: FastifyInstance,
  req: Parameters<typeof userOf>[0],
  advisoryId: string,
  options: Static<typeof ShowQuery>,
): Promise<Static<typeof AdvisoryJson>['hosts']> {
  const scope = permissionScope(userOf(req).bindings, 'findings:read');
  if (scope === 'none' || (scope !== 'all' && scope.length === 0)) {
    return { total: 0, items: [], nextCursor: null };
  }
  const limit = options.hostsLimit ?? DEFAULT_HOSTS_LIMIT;
  const db = app.store.db;
  const base = db
    .selectFrom('findings')
    .innerJoin('hosts', 'hosts.id', 'findings.host_id')
    .where('findings.advisory_id', '=', advisoryId)
    .where('findings.status', '=', 'open')
    .$if(scope !== 'all', (qb) => qb.where('hosts.group_id', 'in', scope === 'all' ? [] : scope));
  const totalRow = await base
    .select((eb) => eb.fn.count<number | string>('findings.host_id').distinct().as('count'))
    .executeTakeFirst();
  const pageHosts = await base
    .select(['hosts.id', 'hosts.name', 'hosts.group_id'])
    .distinct()
    .$if(options.hostsAfter !== undefined, (qb) => qb.where('hosts.id', '>', options.hostsAfter ?? ''))
    .orderBy('hosts.id')
    .limit(limit + 1)
    .execute();
  const page = pageHosts.slice(0, limit);
  const findings =
    page.length === 0
      ? []
      : await db
          .selectFrom('findings')
          .select([
            'id',
            'host_id',
            'package_name',
            'installed_version',
            'fixed_version',
            'severity',
            'risk_score',
            'opened_at',
            'due_at',
          ])
          .where('advisory_id', '=', advisoryId)
          .where('status', '=', 'open')
          .where(
            'host_id',
            'in',
            page.map((h) => h.id),
          )
          .orderBy('host_id')
          .orderBy('package_name')
          .orderBy('id')
          .execute();
  return {
    total: Number(totalRow?.count ?? 0),
    items: page.map((host) => ({
      hostId: host.id,
      hostName: host.name,
      groupId: host.group_id,
      findings: findings
        .filter((f) => f.host_id === host.id)
        .map((f) => ({
          findingId: f.id,
          packageName: f.package_name,
          installedVersion: f.installed_version,
          fixedVersion: f.fixed_version,
          severity: f.severity,
          riskScore: f.risk_score === null ? null : Number(f.risk_score),
          openedAt: iso(f.opened_at) ?? '',
          dueAt: iso(f.due_at),
        })),
    })),
    nextCursor: pageHosts.length > limit ? (page.at(-1)?.id ?? null) : null,
  };
}
