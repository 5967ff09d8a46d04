import { listEcosystems, PatchwardenError, type Severity } from '@patchwarden/core';
import { type Kysely, type RawBuilder, type SqlBool, sql } from 'kysely';
import {
  decodeCursor,
  encodeCursor,
  readJson,
  readOptionalTimestamp,
  readTimestamp,
  writeTimestamp,
} from '../codec.js';
import type { StoreDialect } from '../dialect.js';
import type { Criticality, Database, FindingStatus, HostRow } from '../schema.js';
import { inTransaction } from '../transaction.js';
import { type Host, toHost } from './hosts.js';

// The operator's read side of the fleet: host list and detail, findings, the patch-centric view and
// the fleet summary. Every query takes a group scope and sees only hosts of those groups.

/** Which hosts a caller may see: every host, or the hosts of these groups (none when empty). */
export type GroupScope = 'all' | readonly string[];

export type SortOrder = 'asc' | 'desc';

/** Severity words, highest first (as core orders them). */
export const FLEET_SEVERITIES: readonly Severity[] = [
  'critical',
  'high',
  'medium',
  'low',
  'negligible',
  'unknown',
];

export const FLEET_DEFAULT_PAGE_SIZE = 50;
/** The largest page any fleet list returns; a larger `limit` throws `INVALID_PAGE_SIZE` (400). */
export const FLEET_MAX_PAGE_SIZE = 500;
/** Host detail lists at most this many packages and open findings (with `…Truncated` set). */
export const HOST_DETAIL_MAX_PACKAGES = 10_000;
export const HOST_DETAIL_MAX_FINDINGS = 1000;

// --- hosts --------------------------------------------------------------------------------------

export type HostSort = 'name' | 'last_seen' | 'open_findings' | 'risk';
export const HOST_SORTS: readonly HostSort[] = ['name', 'last_seen', 'open_findings', 'risk'];

/** What a host list may be narrowed by; every given filter must hold (AND). */
export interface HostFilter {
  /** Each `key: value` must be one of the host's labels. */
  labels?: Readonly<Record<string, string>>;
  groupId?: string;
  /** `os-release` ID, e.g. `debian`. */
  osDistro?: string;
  /** `os-release` VERSION_ID, e.g. `12`. */
  osVersion?: string;
  /** The host has an installed package of this name (binary name, any ecosystem and architecture). */
  packageName?: string;
  /** The host has an open finding for this advisory row id (`<source>:<id>`). */
  advisoryId?: string;
  /** The host has an open finding whose advisory covers this CVE. */
  cve?: string;
  /** `compliant`: no open finding past due at `now`; `noncompliant`: at least one. */
  compliance?: 'compliant' | 'noncompliant';
  /** The host's worst open finding is at least this severe. */
  minSeverity?: Severity;
  /** Only hosts with an open finding on CISA's Known Exploited Vulnerabilities list. */
  isKevOnly?: boolean;
}

export interface HostQuery extends HostFilter {
  scope: GroupScope;
  /** The clock for `compliance`. */
  now: Date;
  /** Default `name`. */
  sort?: HostSort;
  /** Default: `asc` for name, `desc` for the others. */
  order?: SortOrder;
  /** `nextCursor` of the previous page; it must come from the same sort and order. */
  cursor?: string | null;
  /** 1..FLEET_MAX_PAGE_SIZE, default FLEET_DEFAULT_PAGE_SIZE. */
  limit?: number;
}

/** A host with the rollups of its open findings. */
/** A host with what the fleet views add: agent facts and the rollups of its open findings. */
export interface FleetHost extends Host {
  kernel: string | null;
  agentVersion: string | null;
  isRebootRequired: boolean;
  openFindings: number;
  kevFindings: number;
  /** Of the open findings; null when there are none. */
  worstSeverity: string | null;
  maxRiskScore: number | null;
  /** The earliest due date among the open findings, or null. */
  earliestDueAt: Date | null;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back as `cursor` for the next page. Null on the last page. */
  nextCursor: string | null;
}

interface SortKey {
  column: string;
  isNullable: boolean;
  kind: 'text' | 'number' | 'timestamp';
}

const HOST_SORT_KEYS: Readonly<Record<HostSort, SortKey>> = {
  name: { column: 'hosts.name', isNullable: false, kind: 'text' },
  last_seen: { column: 'hosts.last_seen_at', isNullable: true, kind: 'timestamp' },
  open_findings: { column: 'hosts.open_findings', isNullable: false, kind: 'number' },
  risk: { column: 'hosts.max_risk_score', isNullable: true, kind: 'number' },
};

/**
 * One page of the hosts in `scope` matching the filters, in `sort` order with ties broken by id
 * (same direction). Hosts without a value for the sort key (never seen, no findings) come last in
 * either direction. Keyset pagination: a page costs the same however deep it is, and walking every
 * page yields each host once, also while hosts are added. Throws `INVALID_PAGE_SIZE`,
 * `INVALID_CURSOR` and `INVALID_FILTER` (400).
 */
export async function queryHosts(
  db: Kysely<Database>,
  dialect: StoreDialect,
  query: HostQuery,
): Promise<Page<FleetHost>> {
  const limit = checkPageSize(query.limit);
  const sort = query.sort ?? 'name';
  const order = query.order ?? (sort === 'name' ? 'asc' : 'desc');
  const key = HOST_SORT_KEYS[sort];
  const after = decodeFleetCursor(query.cursor, `hosts:${sort}:${order}`);
  const filters = hostFilterConditions(dialect, { ...query, scope: 'all' });
  const scope = query.scope === 'all' ? 'all' : [...new Set(query.scope)];
  const page = await keysetPage({
    key,
    idColumn: 'hosts.id',
    order,
    after,
    limit,
    fetch: async (condition, orderBy, rowLimit) => {
      if (scope !== 'all' && scope.length > 1 && scope.length <= MAX_MERGED_GROUPS) {
        // One index range per group, merged: an IN list over group_id cannot be read in another
        // column's order, and SQLite would then sort every host of those groups.
        const parts = scope.map(
          (groupId) =>
            sql`select * from (select hosts.* from hosts where hosts.group_id = ${groupId} and ${and([...filters, condition])} order by ${orderBy} limit ${rowLimit}) as part`,
        );
        const { rows } =
          await sql<HostRow>`select * from (${sql.join(parts, sql` union all `)}) as hosts order by ${orderBy} limit ${rowLimit}`.execute(
            db,
          );
        return rows;
      }
      return db
        .selectFrom('hosts')
        .selectAll()
        .where(() => and([scopeCondition(scope, 'hosts.group_id'), ...filters, condition]))
        .orderBy(orderBy)
        .limit(rowLimit)
        .execute();
    },
    keyOf: (row) => ({ value: keyValue(row, key), id: row.id }),
  });
  return {
    items: page.rows.map(toFleetHost),
    nextCursor: page.last === null ? null : encodeFleetCursor(`hosts:${sort}:${order}`, page.last),
  };
}

/** The number of hosts in `scope` matching the filters. */
export async function countHosts(
  db: Kysely<Database>,
  dialect: StoreDialect,
  query: HostFilter & { scope: GroupScope; now: Date },
): Promise<number> {
  const filters = hostFilterConditions(dialect, query);
  const row = await db
    .selectFrom('hosts')
    .select((eb) => eb.fn.countAll().as('count'))
    .where(() => and(filters))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

// Up to this many groups in a scope, the host list reads each group's index range and merges them.
const MAX_MERGED_GROUPS = 32;

const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,127}$/;
const CVE_ID = /^CVE-\d{4}-\d{4,}$/;

function hostFilterConditions(
  dialect: StoreDialect,
  query: HostFilter & { scope: GroupScope; now: Date },
): RawBuilder<SqlBool>[] {
  const conditions: RawBuilder<SqlBool>[] = [scopeCondition(query.scope, 'hosts.group_id')];
  for (const [name, value] of Object.entries(query.labels ?? {})) {
    if (!LABEL_KEY.test(name)) {
      throw new PatchwardenError(
        'INVALID_FILTER',
        `label key ${JSON.stringify(name)} must be letters, digits and _ . - / (up to 128)`,
        400,
      );
    }
    conditions.push(labelEquals(dialect, name, value));
  }
  if (query.groupId !== undefined) {
    conditions.push(sql<SqlBool>`hosts.group_id = ${query.groupId}`);
  }
  if (query.osDistro !== undefined) {
    conditions.push(sql<SqlBool>`hosts.os_distro = ${query.osDistro}`);
  }
  if (query.osVersion !== undefined) {
    conditions.push(sql<SqlBool>`hosts.os_version_id = ${query.osVersion}`);
  }
  if (query.packageName !== undefined) {
    conditions.push(hasPackage(query.packageName));
  }
  if (query.advisoryId !== undefined) {
    conditions.push(
      sql<SqlBool>`hosts.id in (select f.host_id from findings f where f.advisory_id = ${query.advisoryId} and f.status = 'open')`,
    );
  }
  if (query.cve !== undefined) {
    conditions.push(
      sql<SqlBool>`hosts.id in (select f.host_id from findings f where f.status = 'open' and ${coversCve('f', query.cve)})`,
    );
  }
  const now = writeTimestamp(query.now);
  if (query.compliance === 'noncompliant') {
    conditions.push(sql<SqlBool>`hosts.earliest_due_at <= ${now}`);
  } else if (query.compliance === 'compliant') {
    conditions.push(sql<SqlBool>`(hosts.earliest_due_at is null or hosts.earliest_due_at > ${now})`);
  }
  if (query.minSeverity !== undefined) {
    conditions.push(inList(sql.ref('hosts.worst_severity'), severitiesAtLeast(query.minSeverity)));
  }
  if (query.isKevOnly === true) {
    conditions.push(sql<SqlBool>`hosts.kev_findings > 0`);
  }
  return conditions;
}

/**
 * The label `name` equals `value`. Labels are a JSON object in a text column; SQLite reads it with
 * json_extract, PostgreSQL with ->> on a jsonb cast. `name` was checked against LABEL_KEY, so it
 * needs no quoting inside the SQLite JSON path.
 */
function labelEquals(dialect: StoreDialect, name: string, value: string): RawBuilder<SqlBool> {
  return dialect === 'postgres'
    ? sql<SqlBool>`(hosts.labels::jsonb ->> ${name}) = ${value}`
    : sql<SqlBool>`json_extract(hosts.labels, ${`$."${name}"`}) = ${value}`;
}

/**
 * The host has an installed package named `name`: an override that adds it, or a member of its
 * package set that no override of the host removes. The ecosystem list lets both databases use the
 * (ecosystem, name, …) indexes.
 */
function hasPackage(name: string): RawBuilder<SqlBool> {
  const ecosystems = listEcosystems().map((e) => e.id as string);
  return sql<SqlBool>`(hosts.id in (select o.host_id from host_package_overrides o where ${inList(
    sql.ref('o.ecosystem'),
    ecosystems,
  )} and o.name = ${name} and o.version is not null)
    or (hosts.package_set_id in (select m.package_set_id from package_set_members m where ${inList(
      sql.ref('m.ecosystem'),
      ecosystems,
    )} and m.name = ${name})
      and exists (select 1 from package_set_members m where m.package_set_id = hosts.package_set_id and ${inList(
        sql.ref('m.ecosystem'),
        ecosystems,
      )} and m.name = ${name}
        and not exists (select 1 from host_package_overrides o where o.host_id = hosts.id
          and o.ecosystem = m.ecosystem and o.name = m.name and o.architecture = coalesce(m.architecture, '')))))`;
}

/**
 * The finding row `alias` lists `cve` among its CVEs. `cves` is a JSON array of strings, and a CVE id
 * has no LIKE wildcards or JSON escapes, so its quoted form appears in the text exactly when it is an
 * element.
 */
function coversCve(alias: string, cve: string): RawBuilder<SqlBool> {
  if (!CVE_ID.test(cve)) {
    throw new PatchwardenError(
      'INVALID_FILTER',
      `${JSON.stringify(cve)} is not a CVE id (CVE-YYYY-NNNN)`,
      400,
    );
  }
  return sql<SqlBool>`${sql.ref(`${alias}.cves`)} like ${`%"${cve}"%`}`;
}

function severitiesAtLeast(min: Severity): string[] {
  const index = FLEET_SEVERITIES.indexOf(min);
  if (index < 0) {
    throw new PatchwardenError('INVALID_FILTER', `unknown severity ${JSON.stringify(min)}`, 400);
  }
  return FLEET_SEVERITIES.slice(0, index + 1) as string[];
}

/** A host in `scope` with that id, or null (also when it exists outside the scope). */
export async function getFleetHost(
  db: Kysely<Database>,
  scope: GroupScope,
  id: string,
): Promise<FleetHost | null> {
  const row = await db
    .selectFrom('hosts')
    .selectAll()
    .where('id', '=', id)
    .where(() => scopeCondition(scope, 'hosts.group_id'))
    .executeTakeFirst();
  return row === undefined ? null : toFleetHost(row);
}

export interface HostPackage {
  ecosystem: string;
  name: string;
  architecture: string | null;
  version: string;
  sourceName: string | null;
  sourceVersion: string | null;
}

export interface HostDetail {
  host: FleetHost;
  group: { id: string; name: string } | null;
  /** The installed packages (package set with the host's overrides applied), by name and architecture. */
  packages: HostPackage[];
  packageCount: number;
  /** True when `packages` stops at HOST_DETAIL_MAX_PACKAGES. */
  arePackagesTruncated: boolean;
  /** Open findings, highest risk first. */
  openFindings: FindingRecord[];
  areFindingsTruncated: boolean;
}

/** Host detail for a host in `scope`, or null. */
export async function getHostDetail(
  db: Kysely<Database>,
  scope: GroupScope,
  id: string,
): Promise<HostDetail | null> {
  const host = await getFleetHost(db, scope, id);
  if (host === null) {
    return null;
  }
  const group =
    host.groupId === null
      ? undefined
      : await db
          .selectFrom('host_groups')
          .select(['id', 'name'])
          .where('id', '=', host.groupId)
          .executeTakeFirst();
  const packages = await listHostPackages(db, host.id, host.packageSetId);
  const findings = await db
    .selectFrom('findings')
    .innerJoin('hosts', 'hosts.id', 'findings.host_id')
    .select(FINDING_COLUMNS)
    .where('findings.host_id', '=', host.id)
    .where('findings.status', '=', 'open')
    .orderBy(sql`findings.risk_score desc nulls last`)
    .orderBy('findings.id')
    .limit(HOST_DETAIL_MAX_FINDINGS + 1)
    .execute();
  return {
    host,
    group: group ?? null,
    packages: packages.slice(0, HOST_DETAIL_MAX_PACKAGES),
    packageCount: packages.length,
    arePackagesTruncated: packages.length > HOST_DETAIL_MAX_PACKAGES,
    openFindings: findings.slice(0, HOST_DETAIL_MAX_FINDINGS).map(toFindingRecord),
    areFindingsTruncated: findings.length > HOST_DETAIL_MAX_FINDINGS,
  };
}

/** A host's installed packages: its package set's members with its overrides applied. */
async function listHostPackages(
  db: Kysely<Database>,
  hostId: string,
  packageSetId: string | null,
): Promise<HostPackage[]> {
  const members =
    packageSetId === null
      ? []
      : await db
          .selectFrom('package_set_members')
          .select(['ecosystem', 'name', 'architecture', 'version', 'source_name', 'source_version'])
          .where('package_set_id', '=', packageSetId)
          .execute();
  const overrides = await db
    .selectFrom('host_package_overrides')
    .select(['ecosystem', 'name', 'architecture', 'version', 'source_name', 'source_version'])
    .where('host_id', '=', hostId)
    .execute();
  const byKey = new Map<string, HostPackage>();
  for (const m of members) {
    byKey.set(JSON.stringify([m.ecosystem, m.name, m.architecture ?? '']), {
      ecosystem: m.ecosystem,
      name: m.name,
      architecture: m.architecture,
      version: m.version,
      sourceName: m.source_name,
      sourceVersion: m.source_version,
    });
  }
  for (const o of overrides) {
    const mapKey = JSON.stringify([o.ecosystem, o.name, o.architecture]);
    if (o.version === null) {
      byKey.delete(mapKey);
    } else {
      byKey.set(mapKey, {
        ecosystem: o.ecosystem,
        name: o.name,
        architecture: o.architecture === '' ? null : o.architecture,
        version: o.version,
        sourceName: o.source_name,
        sourceVersion: o.source_version,
      });
    }
  }
  return [...byKey.values()].sort(
    (a, b) =>
      compareText(a.name, b.name) ||
      compareText(a.architecture ?? '', b.architecture ?? '') ||
      compareText(a.ecosystem, b.ecosystem),
  );
}

export interface HostChanges {
  labels?: Record<string, string>;
  groupId?: string | null;
  owner?: string | null;
  environment?: string | null;
  criticality?: Criticality;
}

/**
 * Applies operator edits to a host in `scope` and returns it, or null when there is no such host.
 * Throws `GROUP_NOT_FOUND` (400) for an unknown group. Runs in the caller's transaction when given one.
 */
export async function updateFleetHost(
  db: Kysely<Database>,
  scope: GroupScope,
  id: string,
  changes: HostChanges,
): Promise<FleetHost | null> {
  return inTransaction(db, async (trx) => {
    if (changes.groupId != null) {
      const group = await trx
        .selectFrom('host_groups')
        .select('id')
        .where('id', '=', changes.groupId)
        .executeTakeFirst();
      if (group === undefined) {
        throw new PatchwardenError('GROUP_NOT_FOUND', `host group ${changes.groupId} does not exist`, 400);
      }
    }
    const set = {
      ...(changes.labels === undefined ? {} : { labels: JSON.stringify(sortedObject(changes.labels)) }),
      ...(changes.groupId === undefined ? {} : { group_id: changes.groupId }),
      ...(changes.owner === undefined ? {} : { owner: changes.owner }),
      ...(changes.environment === undefined ? {} : { environment: changes.environment }),
      ...(changes.criticality === undefined ? {} : { criticality: changes.criticality }),
    };
    if (Object.keys(set).length > 0) {
      await trx
        .updateTable('hosts')
        .set(set)
        .where('id', '=', id)
        .where(() => scopeCondition(scope, 'hosts.group_id'))
        .execute();
    }
    return getFleetHost(trx, scope, id);
  });
}

/** Deletes a host in `scope` with its findings, overrides, node keys and jobs; false when there was none. */
export async function deleteFleetHost(db: Kysely<Database>, scope: GroupScope, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('hosts')
    .where('id', '=', id)
    .where(() => scopeCondition(scope, 'hosts.group_id'))
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

// --- findings -----------------------------------------------------------------------------------

export type FindingSort = 'risk' | 'due' | 'opened';
export const FINDING_SORTS: readonly FindingSort[] = ['risk', 'due', 'opened'];

export interface FindingQuery {
  scope: GroupScope;
  hostId?: string;
  /** Any of these severities. */
  severities?: readonly Severity[];
  /** Default `open`. */
  status?: FindingStatus;
  isKevOnly?: boolean;
  packageName?: string;
  advisoryId?: string;
  cve?: string;
  /** Only findings due at or before `now` (requires `now`). */
  isOverdueOnly?: boolean;
  now: Date;
  /** Default `risk` (descending). */
  sort?: FindingSort;
  /** Default `desc` for risk, `asc` for due, `desc` for opened. */
  order?: SortOrder;
  cursor?: string | null;
  limit?: number;
}

/** One finding row: one advisory on one package of one host. */
export interface FindingRecord {
  id: string;
  hostId: string;
  hostName: string;
  advisoryId: string;
  packageName: string;
  installedVersion: string;
  fixedVersion: string | null;
  severity: string | null;
  riskScore: number | null;
  status: FindingStatus;
  openedAt: Date;
  fixedAt: Date | null;
  dueAt: Date | null;
  ecosystem: string | null;
  architecture: string | null;
  sourcePackage: string | null;
  fixState: string | null;
  cves: string[];
  isKev: boolean;
  epss: number | null;
  updatedAt: Date | null;
}

export interface FindingEventRecord {
  id: string;
  kind: string;
  at: Date;
  actor: string | null;
  detail: Record<string, unknown>;
}

export interface FindingDetail extends FindingRecord {
  evidence: unknown;
  advisory: { id: string; title: string | null; severity: string | null; cvssScore: number | null } | null;
  /** Oldest first. */
  events: FindingEventRecord[];
}

const FINDING_SORT_KEYS: Readonly<Record<FindingSort, SortKey>> = {
  risk: { column: 'findings.risk_score', isNullable: true, kind: 'number' },
  due: { column: 'findings.due_at', isNullable: true, kind: 'timestamp' },
  opened: { column: 'findings.opened_at', isNullable: false, kind: 'timestamp' },
};

const FINDING_COLUMNS = [
  'findings.id',
  'findings.host_id',
  'hosts.name as host_name',
  'findings.advisory_id',
  'findings.package_name',
  'findings.installed_version',
  'findings.fixed_version',
  'findings.severity',
  'findings.risk_score',
  'findings.status',
  'findings.opened_at',
  'findings.fixed_at',
  'findings.due_at',
  'findings.ecosystem',
  'findings.architecture',
  'findings.source_package',
  'findings.fix_state',
  'findings.cves',
  'findings.is_kev',
  'findings.epss',
  'findings.updated_at',
] as const;

/**
 * One page of findings of hosts in `scope`, by `sort` with ties broken by id; findings without a
 * value for the key come last. Keyset pagination as for hosts. Throws `INVALID_PAGE_SIZE`,
 * `INVALID_CURSOR`, `INVALID_FILTER` (400).
 */
export async function queryFindings(db: Kysely<Database>, query: FindingQuery): Promise<Page<FindingRecord>> {
  const limit = checkPageSize(query.limit);
  const sort = query.sort ?? 'risk';
  const order = query.order ?? (sort === 'due' ? 'asc' : 'desc');
  const key = FINDING_SORT_KEYS[sort];
  const status = query.status ?? 'open';
  const after = decodeFleetCursor(query.cursor, `findings:${sort}:${order}:${status}`);
  const conditions: RawBuilder<SqlBool>[] = [
    scopeCondition(query.scope, 'hosts.group_id'),
    sql<SqlBool>`findings.status = ${status}`,
  ];
  if (query.hostId !== undefined) {
    conditions.push(sql<SqlBool>`findings.host_id = ${query.hostId}`);
  }
  if (query.severities !== undefined && query.severities.length > 0) {
    conditions.push(inList(sql.ref('findings.severity'), query.severities));
  }
  if (query.isKevOnly === true) {
    conditions.push(sql<SqlBool>`findings.is_kev = 1`);
  }
  if (query.packageName !== undefined) {
    conditions.push(sql<SqlBool>`findings.package_name = ${query.packageName}`);
  }
  if (query.advisoryId !== undefined) {
    conditions.push(sql<SqlBool>`findings.advisory_id = ${query.advisoryId}`);
  }
  if (query.cve !== undefined) {
    conditions.push(coversCve('findings', query.cve));
  }
  if (query.isOverdueOnly === true) {
    conditions.push(sql<SqlBool>`findings.due_at <= ${writeTimestamp(query.now)}`);
  }
  const page = await keysetPage({
    key,
    idColumn: 'findings.id',
    order,
    after,
    limit,
    fetch: (condition, orderBy, rowLimit) =>
      db
        .selectFrom('findings')
        .innerJoin('hosts', 'hosts.id', 'findings.host_id')
        .select(FINDING_COLUMNS)
        .where(() => and([...conditions, condition]))
        .orderBy(orderBy)
        .limit(rowLimit)
        .execute(),
    keyOf: (row) => ({
      value:
        sort === 'risk'
          ? row.risk_score
          : sort === 'due'
            ? optionalIso(row.due_at)
            : readTimestamp(row.opened_at).toISOString(),
      id: row.id,
    }),
  });
  return {
    items: page.rows.map(toFindingRecord),
    nextCursor:
      page.last === null ? null : encodeFleetCursor(`findings:${sort}:${order}:${status}`, page.last),
  };
}

/** A finding of a host in `scope` with its advisory and history, or null. */
export async function getFindingDetail(
  db: Kysely<Database>,
  scope: GroupScope,
  id: string,
): Promise<FindingDetail | null> {
  const row = await db
    .selectFrom('findings')
    .innerJoin('hosts', 'hosts.id', 'findings.host_id')
    .leftJoin('advisories', 'advisories.id', 'findings.advisory_id')
    .select([
      ...FINDING_COLUMNS,
      'findings.evidence',
      'advisories.id as advisory_row_id',
      'advisories.title as advisory_title',
      'advisories.severity as advisory_severity',
      'advisories.cvss_score as advisory_cvss_score',
    ])
    .where('findings.id', '=', id)
    .where(() => scopeCondition(scope, 'hosts.group_id'))
    .executeTakeFirst();
  if (row === undefined) {
    return null;
  }
  const events = await db
    .selectFrom('finding_events')
    .selectAll()
    .where('finding_id', '=', id)
    .orderBy('at')
    .orderBy('id')
    .execute();
  return {
    ...toFindingRecord(row),
    evidence: readJson(row.evidence, 'findings.evidence'),
    advisory:
      row.advisory_row_id === null
        ? null
        : {
            id: row.advisory_row_id,
            title: row.advisory_title,
            severity: row.advisory_severity,
            cvssScore: row.advisory_cvss_score,
          },
    events: events.map((event) => ({
      id: event.id,
      kind: event.kind,
      at: readTimestamp(event.at),
      actor: event.actor,
      detail: readJson(event.detail, 'finding_events.detail') as Record<string, unknown>,
    })),
  };
}

// --- patches ------------------------------------------------------------------------------------

export type PatchSort = 'hosts' | 'cves';
export const PATCH_SORTS: readonly PatchSort[] = ['hosts', 'cves'];

export interface PatchQuery {
  scope: GroupScope;
  /** Default `hosts`; always descending, ties by package name then fixed version. */
  sort?: PatchSort;
  packageName?: string;
  /** Only fixes that close a finding at least this severe. */
  minSeverity?: Severity;
  /** Only fixes that close a KEV finding. */
  isKevOnly?: boolean;
  cursor?: string | null;
  limit?: number;
}

/** One available fix (package at fixed version) and what installing it closes across the scope. */
export interface PatchRecord {
  packageName: string;
  fixedVersion: string;
  /** Distinct hosts that need it. */
  hosts: number;
  /** Open finding rows (host × advisory) it closes. */
  findings: number;
  advisories: number;
  /** Distinct CVE ids among those advisories. */
  cves: number;
  /** Distinct CVEs among them that are on the KEV list. */
  kevCves: number;
  /** Open findings it closes that are KEV findings. */
  kevFindings: number;
  worstSeverity: string | null;
  maxRiskScore: number | null;
  earliestDueAt: Date | null;
}

/**
 * The patch-centric view: open findings with a fixed version, grouped by (package name, fixed
 * version), with what each fix closes. Keyset-paginated over the aggregate (ordered by `sort`
 * descending, then package name and fixed version ascending).
 *
 * Sorted by hosts, the aggregate is read from the partial covering index of open findings and the
 * CVE counts (which unpack the JSON `cves` column) are computed for the page's fixes only; sorted
 * by CVEs, every open finding's CVE list is unpacked, which costs a pass over them.
 */
export async function queryPatches(
  db: Kysely<Database>,
  dialect: StoreDialect,
  query: PatchQuery,
): Promise<Page<PatchRecord>> {
  const limit = checkPageSize(query.limit);
  const sort = query.sort ?? 'hosts';
  const after = decodeFleetCursor(query.cursor, `patches:${sort}`);
  const conditions: RawBuilder<SqlBool>[] = [
    sql<SqlBool>`f.status = 'open'`,
    sql<SqlBool>`f.fixed_version is not null`,
  ];
  if (query.scope !== 'all') {
    conditions.push(
      sql<SqlBool>`f.host_id in (select hosts.id from hosts where ${scopeCondition(query.scope, 'hosts.group_id')})`,
    );
  }
  if (query.packageName !== undefined) {
    conditions.push(sql<SqlBool>`f.package_name = ${query.packageName}`);
  }
  const having: RawBuilder<SqlBool>[] = [];
  if (query.minSeverity !== undefined) {
    having.push(sql<SqlBool>`min(${SEVERITY_RANK_SQL}) <= ${severityRank(query.minSeverity)}`);
  }
  if (query.isKevOnly === true) {
    having.push(sql<SqlBool>`max(f.is_kev) = 1`);
  }
  const withCves = sort === 'cves';
  const sortValue = withCves ? sql`count(distinct cve.value)` : sql`count(distinct f.host_id)`;
  if (after !== null) {
    const [packageName, fixedVersion] = JSON.parse(after.id) as [string, string];
    having.push(
      sql<SqlBool>`(${sortValue} < ${after.value} or (${sortValue} = ${after.value} and (f.package_name > ${packageName} or (f.package_name = ${packageName} and f.fixed_version > ${fixedVersion}))))`,
    );
  }
  const { rows } = await sql<PatchRow>`select f.package_name, f.fixed_version,
      count(distinct f.host_id) as hosts,
      ${withCves ? sql`count(distinct f.id)` : sql`count(*)`} as findings,
      count(distinct f.advisory_id) as advisories,
      ${withCves ? sql`count(distinct cve.value)` : sql`null`} as cves,
      ${withCves ? sql`count(distinct k.cve_id)` : sql`null`} as kev_cves,
      ${withCves ? sql`count(distinct case when f.is_kev = 1 then f.id end)` : sql`sum(f.is_kev)`} as kev_findings,
      min(${SEVERITY_RANK_SQL}) as severity_rank,
      max(f.risk_score) as max_risk_score,
      min(f.due_at) as earliest_due_at
    from findings f
    ${withCves ? sql`${cveJoin(dialect)} left join kev_entries k on k.cve_id = cve.value` : sql``}
    where ${and(conditions)}
    group by f.package_name, f.fixed_version
    ${having.length > 0 ? sql`having ${and(having)}` : sql``}
    order by ${sortValue} desc, f.package_name asc, f.fixed_version asc
    limit ${limit + 1}`.execute(db);
  const page = rows.slice(0, limit);
  const cveCounts = withCves
    ? new Map<string, PatchCveCounts>()
    : await countPatchCves(db, dialect, page, conditions);
  const items = page.map((row): PatchRecord => {
    const counts = cveCounts.get(JSON.stringify([row.package_name, row.fixed_version]));
    return {
      packageName: row.package_name,
      fixedVersion: row.fixed_version,
      hosts: Number(row.hosts),
      findings: Number(row.findings),
      advisories: Number(row.advisories),
      cves: counts?.cves ?? Number(row.cves ?? 0),
      kevCves: counts?.kevCves ?? Number(row.kev_cves ?? 0),
      kevFindings: Number(row.kev_findings),
      worstSeverity:
        row.severity_rank === null ? null : (FLEET_SEVERITIES[Number(row.severity_rank)] ?? null),
      maxRiskScore: row.max_risk_score === null ? null : Number(row.max_risk_score),
      earliestDueAt: readOptionalTimestamp(row.earliest_due_at),
    };
  });
  const last = items.at(-1);
  return {
    items,
    nextCursor:
      rows.length > limit && last !== undefined
        ? encodeFleetCursor(`patches:${sort}`, {
            value: sort === 'hosts' ? last.hosts : last.cves,
            id: JSON.stringify([last.packageName, last.fixedVersion]),
          })
        : null,
  };
}

interface PatchRow {
  package_name: string;
  fixed_version: string;
  hosts: number | string;
  findings: number | string;
  advisories: number | string;
  cves: number | string | null;
  kev_cves: number | string | null;
  kev_findings: number | string;
  severity_rank: number | string | null;
  max_risk_score: number | null;
  earliest_due_at: Date | string | null;
}

interface PatchCveCounts {
  cves: number;
  kevCves: number;
}

/** Distinct CVEs and KEV CVEs of the open findings of the fixes on one page, by `[name, fixed]` JSON. */
async function countPatchCves(
  db: Kysely<Database>,
  dialect: StoreDialect,
  page: readonly PatchRow[],
  conditions: readonly RawBuilder<SqlBool>[],
): Promise<Map<string, PatchCveCounts>> {
  const counts = new Map<string, PatchCveCounts>();
  if (page.length === 0) {
    return counts;
  }
  const fixes = sql.join(page.map((row) => sql`(${row.package_name}, ${row.fixed_version})`));
  const { rows } = await sql<{
    package_name: string;
    fixed_version: string;
    cves: number | string;
    kev_cves: number | string;
  }>`select f.package_name, f.fixed_version, count(distinct cve.value) as cves, count(distinct k.cve_id) as kev_cves
    from findings f
    ${cveJoin(dialect)}
    left join kev_entries k on k.cve_id = cve.value
    where ${and(conditions)} and (f.package_name, f.fixed_version) in (values ${fixes})
    group by f.package_name, f.fixed_version`.execute(db);
  for (const row of rows) {
    counts.set(JSON.stringify([row.package_name, row.fixed_version]), {
      cves: Number(row.cves),
      kevCves: Number(row.kev_cves),
    });
  }
  return counts;
}

/** The CVE ids of finding `f` as rows `cve(value)`: a JSON array unpacked the way each database does. */
function cveJoin(dialect: StoreDialect): RawBuilder<unknown> {
  return dialect === 'postgres'
    ? sql`left join lateral jsonb_array_elements_text(f.cves::jsonb) as cve(value) on true`
    : sql`left join json_each(f.cves) as cve`;
}

// Rank of a finding's severity as an index into FLEET_SEVERITIES (0 = critical); unknown words last.
const SEVERITY_RANK_SQL = sql`case f.severity when 'critical' then 0 when 'high' then 1 when 'medium' then 2 when 'low' then 3 when 'negligible' then 4 else 5 end`;

function severityRank(severity: Severity): number {
  const index = FLEET_SEVERITIES.indexOf(severity);
  if (index < 0) {
    throw new PatchwardenError('INVALID_FILTER', `unknown severity ${JSON.stringify(severity)}`, 400);
  }
  return index;
}

// --- summary ------------------------------------------------------------------------------------

export interface FleetSummaryQuery {
  scope: GroupScope;
  now: Date;
  /** A host not seen for longer than this is stale (never-seen hosts count separately). */
  staleAfterHours: number;
}

export interface FleetSummary {
  at: Date;
  staleAfterHours: number;
  hosts: {
    total: number;
    withOpenFindings: number;
    withKevFindings: number;
    /** With an open finding past due at `at`. */
    noncompliant: number;
    /** Last seen more than `staleAfterHours` ago. */
    stale: number;
    neverSeen: number;
    rebootRequired: number;
  };
  findings: {
    open: number;
    /** Every word of FLEET_SEVERITIES, plus any other word the data holds; `unknown` includes null. */
    bySeverity: Record<string, number>;
    /** `fix-available`, `no-fix-yet`, `will-not-fix`, and `unknown` for rows without a fix state. */
    byFixState: Record<string, number>;
    kev: number;
    /** Open findings due at or before `at`. */
    overdue: number;
    /** Waived findings (not counted as open). */
    waived: number;
  };
}

/** Counts over the hosts in `scope` and their open findings at `now`. */
export async function getFleetSummary(db: Kysely<Database>, query: FleetSummaryQuery): Promise<FleetSummary> {
  const now = writeTimestamp(query.now);
  const staleBefore = writeTimestamp(new Date(query.now.getTime() - query.staleAfterHours * 3_600_000));
  const scope = scopeCondition(query.scope, 'hosts.group_id');
  const hosts = await sql<Record<string, number | string | null>>`select
      count(*) as total,
      sum(case when open_findings > 0 then 1 else 0 end) as with_open,
      sum(case when kev_findings > 0 then 1 else 0 end) as with_kev,
      sum(case when earliest_due_at <= ${now} then 1 else 0 end) as noncompliant,
      sum(case when last_seen_at < ${staleBefore} then 1 else 0 end) as stale,
      sum(case when last_seen_at is null then 1 else 0 end) as never_seen,
      sum(case when reboot_required = 1 then 1 else 0 end) as reboot_required
    from hosts where ${scope}`.execute(db);
  const h = hosts.rows[0] ?? {};
  // One pass over the open findings (the partial covering index of open findings holds every column
  // read here), grouped by severity and fix state.
  const findingScope =
    query.scope === 'all'
      ? sql<SqlBool>`1 = 1`
      : sql<SqlBool>`findings.host_id in (select hosts.id from hosts where ${scope})`;
  const groups = await sql<{
    severity: string | null;
    fix_state: string | null;
    count: number | string;
    kev: number | string | null;
    overdue: number | string | null;
  }>`select findings.severity, findings.fix_state, count(*) as count,
      sum(findings.is_kev) as kev,
      sum(case when findings.due_at <= ${now} then 1 else 0 end) as overdue
    from findings where findings.status = 'open' and ${findingScope}
    group by findings.severity, findings.fix_state`.execute(db);
  const waived = await sql<{ count: number | string }>`select count(*) as count from findings
    where findings.status = 'waived' and ${findingScope}`.execute(db);
  const bySeverity = Object.fromEntries(FLEET_SEVERITIES.map((s) => [s, 0])) as Record<string, number>;
  const byFixState: Record<string, number> = {
    'fix-available': 0,
    'no-fix-yet': 0,
    'will-not-fix': 0,
    unknown: 0,
  };
  let open = 0;
  let kev = 0;
  let overdue = 0;
  for (const row of groups.rows) {
    const count = Number(row.count);
    const severity = row.severity ?? 'unknown';
    const fixState = row.fix_state ?? 'unknown';
    bySeverity[severity] = (bySeverity[severity] ?? 0) + count;
    byFixState[fixState] = (byFixState[fixState] ?? 0) + count;
    open += count;
    kev += Number(row.kev ?? 0);
    overdue += Number(row.overdue ?? 0);
  }
  return {
    at: query.now,
    staleAfterHours: query.staleAfterHours,
    hosts: {
      total: Number(h.total ?? 0),
      withOpenFindings: Number(h.with_open ?? 0),
      withKevFindings: Number(h.with_kev ?? 0),
      noncompliant: Number(h.noncompliant ?? 0),
      stale: Number(h.stale ?? 0),
      neverSeen: Number(h.never_seen ?? 0),
      rebootRequired: Number(h.reboot_required ?? 0),
    },
    findings: {
      open,
      bySeverity,
      byFixState,
      kev,
      overdue,
      waived: Number(waived.rows[0]?.count ?? 0),
    },
  };
}

// --- shared -------------------------------------------------------------------------------------

function checkPageSize(limit: number | undefined): number {
  const size = limit ?? FLEET_DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > FLEET_MAX_PAGE_SIZE) {
    throw new PatchwardenError(
      'INVALID_PAGE_SIZE',
      `page size must be an integer from 1 to ${FLEET_MAX_PAGE_SIZE}, got ${size}`,
      400,
    );
  }
  return size;
}

function scopeCondition(scope: GroupScope, column: string): RawBuilder<SqlBool> {
  if (scope === 'all') {
    return sql<SqlBool>`1 = 1`;
  }
  return scope.length === 0 ? sql<SqlBool>`1 = 0` : inList(sql.ref(column), scope);
}

function inList(column: RawBuilder<unknown>, values: readonly unknown[]): RawBuilder<SqlBool> {
  return sql<SqlBool>`${column} in (${sql.join(values.map((v) => sql`${v}`))})`;
}

function and(conditions: readonly RawBuilder<SqlBool>[]): RawBuilder<SqlBool> {
  return conditions.length === 0 ? sql<SqlBool>`1 = 1` : sql<SqlBool>`(${sql.join(conditions, sql` and `)})`;
}

type KeyValue = string | number | null;

interface Cursor {
  value: KeyValue;
  id: string;
}

/** base64url JSON of `[context, value, id]`; `context` ties a cursor to the sort it came from. */
function encodeFleetCursor(context: string, cursor: Cursor): string {
  return encodeCursor([context, cursor.value, cursor.id]);
}

function decodeFleetCursor(cursor: string | null | undefined, context: string): Cursor | null {
  const parts = decodeCursor(
    cursor,
    (p) =>
      p.length === 3 &&
      p[0] === context &&
      (p[1] === null || typeof p[1] === 'string' || typeof p[1] === 'number') &&
      typeof p[2] === 'string',
    'the cursor is not one this listing returned with the same sort and order; start again without it',
  );
  return parts === null ? null : { value: parts[1] as KeyValue, id: parts[2] as string };
}

/**
 * Keyset pagination over (key, id), nulls of a nullable key last in both directions: first the rows
 * with a value after the cursor (row-value comparison, which both databases answer from an index on
 * (key, id)), then, when the page is not full, the rows without a value by id.
 */
async function keysetPage<R>(options: {
  key: SortKey;
  idColumn: string;
  order: SortOrder;
  after: Cursor | null;
  limit: number;
  fetch: (condition: RawBuilder<SqlBool>, orderBy: RawBuilder<unknown>, limit: number) => Promise<R[]>;
  keyOf: (row: R) => Cursor;
}): Promise<{ rows: R[]; last: Cursor | null }> {
  const { key, idColumn, order, after, limit } = options;
  const column = sql.ref(key.column);
  const id = sql.ref(idColumn);
  const direction = sql.raw(order);
  const comparison = sql.raw(order === 'asc' ? '>' : '<');
  const rows: R[] = [];
  if (after === null || after.value !== null) {
    const condition =
      after === null
        ? key.isNullable
          ? sql<SqlBool>`${column} is not null`
          : sql<SqlBool>`1 = 1`
        : sql<SqlBool>`(${column}, ${id}) ${comparison} (${cursorValue(key, after.value)}, ${after.id})`;
    rows.push(
      ...(await options.fetch(condition, sql`${column} ${direction}, ${id} ${direction}`, limit + 1)),
    );
  }
  if (key.isNullable && rows.length <= limit) {
    const condition =
      after === null || after.value !== null
        ? sql<SqlBool>`${column} is null`
        : sql<SqlBool>`${column} is null and ${id} ${comparison} ${after.id}`;
    rows.push(...(await options.fetch(condition, sql`${id} ${direction}`, limit + 1 - rows.length)));
  }
  const page = rows.slice(0, limit);
  const lastRow = page.at(-1);
  return { rows: page, last: rows.length > limit && lastRow !== undefined ? options.keyOf(lastRow) : null };
}

function cursorValue(key: SortKey, value: KeyValue): RawBuilder<unknown> {
  if (key.kind === 'number' && typeof value !== 'number') {
    throw new PatchwardenError('INVALID_CURSOR', 'the cursor does not fit this sort', 400);
  }
  if (key.kind !== 'number' && typeof value !== 'string') {
    throw new PatchwardenError('INVALID_CURSOR', 'the cursor does not fit this sort', 400);
  }
  return sql`${value}`;
}

function keyValue(row: HostRow, key: SortKey): KeyValue {
  switch (key.column) {
    case 'hosts.name':
      return row.name;
    case 'hosts.last_seen_at':
      return optionalIso(row.last_seen_at);
    case 'hosts.open_findings':
      return Number(row.open_findings);
    default:
      return row.max_risk_score === null ? null : Number(row.max_risk_score);
  }
}

function optionalIso(value: Date | string | null): string | null {
  return value === null ? null : readTimestamp(value).toISOString();
}

function toFleetHost(row: HostRow): FleetHost {
  return {
    ...toHost(row),
    kernel: row.kernel,
    agentVersion: row.agent_version,
    isRebootRequired: Number(row.reboot_required) === 1,
    openFindings: Number(row.open_findings),
    kevFindings: Number(row.kev_findings),
    worstSeverity: row.worst_severity,
    maxRiskScore: row.max_risk_score === null ? null : Number(row.max_risk_score),
    earliestDueAt: readOptionalTimestamp(row.earliest_due_at),
  };
}

interface FindingRow {
  id: string;
  host_id: string;
  host_name: string;
  advisory_id: string;
  package_name: string;
  installed_version: string;
  fixed_version: string | null;
  severity: string | null;
  risk_score: number | null;
  status: FindingStatus;
  opened_at: Date | string;
  fixed_at: Date | string | null;
  due_at: Date | string | null;
  ecosystem: string | null;
  architecture: string | null;
  source_package: string | null;
  fix_state: string | null;
  cves: string;
  is_kev: number;
  epss: number | null;
  updated_at: Date | string | null;
}

function toFindingRecord(row: FindingRow): FindingRecord {
  return {
    id: row.id,
    hostId: row.host_id,
    hostName: row.host_name,
    advisoryId: row.advisory_id,
    packageName: row.package_name,
    installedVersion: row.installed_version,
    fixedVersion: row.fixed_version,
    severity: row.severity,
    riskScore: row.risk_score === null ? null : Number(row.risk_score),
    status: row.status,
    openedAt: readTimestamp(row.opened_at),
    fixedAt: readOptionalTimestamp(row.fixed_at),
    dueAt: readOptionalTimestamp(row.due_at),
    ecosystem: row.ecosystem,
    architecture: row.architecture,
    sourcePackage: row.source_package,
    fixState: row.fix_state,
    cves: readJson(row.cves, 'findings.cves') as string[],
    isKev: Number(row.is_kev) === 1,
    epss: row.epss === null ? null : Number(row.epss),
    updatedAt: readOptionalTimestamp(row.updated_at),
  };
}

function sortedObject(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => compareText(a, b)));
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
