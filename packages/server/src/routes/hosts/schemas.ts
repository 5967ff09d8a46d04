import {
  type FindingRecord,
  FLEET_MAX_PAGE_SIZE,
  FLEET_SEVERITIES,
  type FleetHost,
} from '@patchwarden/store';
import { type Static, type TSchema, Type } from 'typebox';

// JSON shapes shared by the operator read routes (hosts, findings, patches, summary).

export function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}

export const DateTime = Type.String({ format: 'date-time' });

export const SeveritySchema = Type.Union(FLEET_SEVERITIES.map((s) => Type.Literal(s)));

export const LimitSchema = Type.Integer({
  minimum: 1,
  maximum: FLEET_MAX_PAGE_SIZE,
  description: `page size, 1..${FLEET_MAX_PAGE_SIZE} (default 50)`,
});

export const CursorSchema = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'nextCursor of the previous page, with the same sort and order',
});

export const OrderSchema = Type.Union([Type.Literal('asc'), Type.Literal('desc')]);

export const OsJson = Type.Object({
  family: Type.String(),
  distro: Type.String(),
  version: Nullable(Type.String()),
  versionId: Nullable(Type.String()),
  codename: Nullable(Type.String()),
  prettyName: Type.String(),
  ecosystem: Nullable(Type.String()),
});

export const HostJson = Type.Object({
  id: Type.String(),
  name: Type.String(),
  os: Nullable(OsJson),
  labels: Type.Record(Type.String(), Type.String()),
  groupId: Nullable(Type.String()),
  owner: Nullable(Type.String()),
  environment: Nullable(Type.String()),
  criticality: Type.String(),
  createdAt: DateTime,
  lastSeenAt: Nullable(DateTime),
  inventoryUpdatedAt: Nullable(DateTime),
  kernel: Nullable(Type.String()),
  agentVersion: Nullable(Type.String()),
  rebootRequired: Type.Boolean(),
  openFindings: Type.Integer(),
  kevFindings: Type.Integer(),
  worstSeverity: Nullable(Type.String()),
  maxRiskScore: Nullable(Type.Number()),
  earliestDueAt: Nullable(DateTime),
  compliant: Type.Boolean({ description: 'no open finding is past due now' }),
});

export const FindingJson = Type.Object({
  id: Type.String(),
  hostId: Type.String(),
  hostName: Type.String(),
  advisoryId: Type.String(),
  packageName: Type.String(),
  installedVersion: Type.String(),
  fixedVersion: Nullable(Type.String()),
  severity: Nullable(Type.String()),
  riskScore: Nullable(Type.Number()),
  status: Type.String(),
  openedAt: DateTime,
  fixedAt: Nullable(DateTime),
  dueAt: Nullable(DateTime),
  overdue: Type.Boolean({ description: 'open and due at or before now' }),
  ecosystem: Nullable(Type.String()),
  architecture: Nullable(Type.String()),
  sourcePackage: Nullable(Type.String()),
  fixState: Nullable(Type.String()),
  cves: Type.Array(Type.String()),
  kev: Type.Boolean(),
  epss: Nullable(Type.Number()),
  updatedAt: Nullable(DateTime),
});

function iso(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}

export function hostJson(host: FleetHost, now: Date): Static<typeof HostJson> {
  return {
    id: host.id,
    name: host.name,
    os: host.os,
    labels: host.labels,
    groupId: host.groupId,
    owner: host.owner,
    environment: host.environment,
    criticality: host.criticality,
    createdAt: host.createdAt.toISOString(),
    lastSeenAt: iso(host.lastSeenAt),
    inventoryUpdatedAt: iso(host.inventoryUpdatedAt),
    kernel: host.kernel,
    agentVersion: host.agentVersion,
    rebootRequired: host.isRebootRequired,
    openFindings: host.openFindings,
    kevFindings: host.kevFindings,
    worstSeverity: host.worstSeverity,
    maxRiskScore: host.maxRiskScore,
    earliestDueAt: iso(host.earliestDueAt),
    compliant: host.earliestDueAt === null || host.earliestDueAt > now,
  };
}

export function findingJson(finding: FindingRecord, now: Date): Static<typeof FindingJson> {
  return {
    id: finding.id,
    hostId: finding.hostId,
    hostName: finding.hostName,
    advisoryId: finding.advisoryId,
    packageName: finding.packageName,
    installedVersion: finding.installedVersion,
    fixedVersion: finding.fixedVersion,
    severity: finding.severity,
    riskScore: finding.riskScore,
    status: finding.status,
    openedAt: finding.openedAt.toISOString(),
    fixedAt: iso(finding.fixedAt),
    dueAt: iso(finding.dueAt),
    overdue: finding.status === 'open' && finding.dueAt !== null && finding.dueAt <= now,
    ecosystem: finding.ecosystem,
    architecture: finding.architecture,
    sourcePackage: finding.sourcePackage,
    fixState: finding.fixState,
    cves: finding.cves,
    kev: finding.isKev,
    epss: finding.epss,
    updatedAt: iso(finding.updatedAt),
  };
}
