import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PatchwardenError, type Severity } from '@patchwarden/core';
import {
  appendAuditEntry,
  deleteFleetHost,
  getFleetHost,
  getHostDetail,
  HOST_SORTS,
  type HostChanges,
  inTransaction,
  queryHosts,
  type Store,
  updateFleetHost,
} from '@patchwarden/store';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { groupScope, userOf } from '../../plugins/auth.js';
import {
  CursorSchema,
  FindingJson,
  findingJson,
  HostJson,
  hostJson,
  LimitSchema,
  Nullable,
  OrderSchema,
  SeveritySchema,
} from './schemas.js';

const MAX_LABEL_FILTERS = 10;
const MAX_LABELS = 64;
const LABEL_KEY_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.\\-/]{0,127}$';

const HostListQuery = Type.Object(
  {
    label: Type.Optional(
      Type.Array(Type.String({ pattern: `^[A-Za-z0-9][A-Za-z0-9_.\\-/]{0,127}=.{0,256}$` }), {
        maxItems: MAX_LABEL_FILTERS,
        description: 'key=value; repeat for several (all must match)',
      }),
    ),
    group: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    os: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'os-release ID, e.g. debian' }),
    ),
    osVersion: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'os-release VERSION_ID, e.g. 12' }),
    ),
    package: Type.Optional(
      Type.String({ minLength: 1, maxLength: 256, description: 'an installed package name' }),
    ),
    advisory: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description: 'hosts with an open finding for this advisory id',
      }),
    ),
    cve: Type.Optional(
      Type.String({
        pattern: '^CVE-\\d{4}-\\d{4,}$',
        description: 'hosts with an open finding for this CVE',
      }),
    ),
    compliance: Type.Optional(Type.Union([Type.Literal('compliant'), Type.Literal('noncompliant')])),
    minSeverity: Type.Optional(SeveritySchema),
    kev: Type.Optional(Type.Boolean({ description: 'only hosts with an open KEV finding' })),
    sort: Type.Optional(Type.Union(HOST_SORTS.map((s) => Type.Literal(s)))),
    order: Type.Optional(OrderSchema),
    cursor: Type.Optional(CursorSchema),
    limit: Type.Optional(LimitSchema),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

const PackageJson = Type.Object({
  ecosystem: Type.String(),
  name: Type.String(),
  architecture: Nullable(Type.String()),
  version: Type.String(),
  sourceName: Nullable(Type.String()),
  sourceVersion: Nullable(Type.String()),
});

const HostDetailJson = Type.Object({
  host: HostJson,
  group: Nullable(Type.Object({ id: Type.String(), name: Type.String() })),
  packages: Type.Array(PackageJson),
  packageCount: Type.Integer(),
  packagesTruncated: Type.Boolean(),
  openFindings: Type.Array(FindingJson),
  findingsTruncated: Type.Boolean(),
});

const HostPatchBody = Type.Object(
  {
    labels: Type.Optional(
      Type.Record(Type.String({ pattern: LABEL_KEY_PATTERN }), Type.String({ maxLength: 256 }), {
        maxProperties: MAX_LABELS,
        description: 'replaces all labels',
      }),
    ),
    groupId: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 100 }))),
    owner: Type.Optional(Nullable(Type.String({ maxLength: 256 }))),
    environment: Type.Optional(Nullable(Type.String({ maxLength: 100 }))),
    criticality: Type.Optional(
      Type.Union([
        Type.Literal('low'),
        Type.Literal('medium'),
        Type.Literal('high'),
        Type.Literal('critical'),
      ]),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);

/**
 * /api/v1/hosts: the fleet's hosts with filters, sorts and keyset pagination; host detail; operator
 * edits (labels, group, owner, environment, criticality) and removal, both audited. Every route sees
 * only the hosts of the groups the caller holds the permission for; others are HOST_NOT_FOUND.
 */
export async function hostsRoutes(plain: FastifyInstance): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/',
    {
      config: { permission: 'hosts:read' },
      schema: {
        querystring: HostListQuery,
        response: { 200: Type.Object({ hosts: Type.Array(HostJson), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const q = req.query;
      const now = app.now();
      const page = await queryHosts(app.store.db, app.store.dialect, {
        scope: groupScope(req, 'hosts:read'),
        now,
        labels: parseLabelFilters(q.label ?? []),
        ...(q.group === undefined ? {} : { groupId: q.group }),
        ...(q.os === undefined ? {} : { osDistro: q.os }),
        ...(q.osVersion === undefined ? {} : { osVersion: q.osVersion }),
        ...(q.package === undefined ? {} : { packageName: q.package }),
        ...(q.advisory === undefined ? {} : { advisoryId: q.advisory }),
        ...(q.cve === undefined ? {} : { cve: q.cve }),
        ...(q.compliance === undefined ? {} : { compliance: q.compliance }),
        ...(q.minSeverity === undefined ? {} : { minSeverity: q.minSeverity as Severity }),
        ...(q.kev === undefined ? {} : { isKevOnly: q.kev }),
        ...(q.sort === undefined ? {} : { sort: q.sort }),
        ...(q.order === undefined ? {} : { order: q.order }),
        cursor: q.cursor ?? null,
        ...(q.limit === undefined ? {} : { limit: q.limit }),
      });
      return { hosts: page.items.map((host) => hostJson(host, now)), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/:id',
    {
      config: { permission: 'hosts:read' },
      schema: { params: IdParams, response: { 200: HostDetailJson } },
    },
    async (req) => {
      const now = app.now();
      const detail = await getHostDetail(app.store.db, groupScope(req, 'hosts:read'), req.params.id);
      if (detail === null) {
        throw hostNotFound(req.params.id);
      }
      return {
        host: hostJson(detail.host, now),
        group: detail.group,
        packages: detail.packages,
        packageCount: detail.packageCount,
        packagesTruncated: detail.arePackagesTruncated,
        openFindings: detail.openFindings.map((finding) => findingJson(finding, now)),
        findingsTruncated: detail.areFindingsTruncated,
      };
    },
  );

  app.patch(
    '/:id',
    {
      config: { permission: 'hosts:write' },
      schema: { params: IdParams, body: HostPatchBody, response: { 200: HostJson } },
    },
    async (req) => {
      const actor = userOf(req);
      const scope = groupScope(req, 'hosts:write');
      const changes = req.body as HostChanges;
      if (changes.groupId !== undefined && scope !== 'all') {
        // A group-scoped operator may move a host only into a group they also hold hosts:write for.
        if (changes.groupId === null || !scope.includes(changes.groupId)) {
          throw new PatchwardenError(
            'FORBIDDEN',
            `this token lacks hosts:write for the group ${changes.groupId ?? '(none)'}`,
            403,
          );
        }
      }
      const now = app.now();
      const updated = await inTransaction(app.store.db, async (trx) => {
        const before = await getFleetHost(trx, scope, req.params.id);
        if (before === null) {
          throw await notFoundOrForbidden(trx, req, req.params.id);
        }
        const after = await updateFleetHost(trx, scope, req.params.id, changes);
        if (after === null) {
          throw hostNotFound(req.params.id);
        }
        if (after.criticality !== before.criticality) {
          // A finding's risk score weighs the host's criticality: re-judge the host's findings now,
          // in this transaction, so scores, the host's rollups and risk sorts follow the edit.
          await app.detection.evaluateHost(trx, after.id);
        }
        await appendAuditEntry(
          { db: trx, dialect: app.store.dialect },
          {
            actor: actor.userId,
            action: 'host.update',
            targetType: 'host',
            targetId: after.id,
            detail: {
              name: after.name,
              before: pick(before, Object.keys(changes)),
              after: pick(after, Object.keys(changes)),
            },
          },
          now,
        );
        return after;
      });
      return hostJson(updated, now);
    },
  );

  app.delete(
    '/:id',
    {
      config: { permission: 'hosts:write' },
      schema: { params: IdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const actor = userOf(req);
      const scope = groupScope(req, 'hosts:write');
      await inTransaction(app.store.db, async (trx) => {
        const host = await getFleetHost(trx, scope, req.params.id);
        if (host === null || !(await deleteFleetHost(trx, scope, host.id))) {
          throw await notFoundOrForbidden(trx, req, req.params.id);
        }
        await appendAuditEntry(
          { db: trx, dialect: app.store.dialect },
          {
            actor: actor.userId,
            action: 'host.delete',
            targetType: 'host',
            targetId: host.id,
            detail: { name: host.name, groupId: host.groupId },
          },
          app.now(),
        );
      });
      req.log.info({ hostId: req.params.id }, 'host deleted');
      return reply.status(204).send(null);
    },
  );
}

/** 403 when the caller may read the host but not change it, 404 when they may not even see it. */
async function notFoundOrForbidden(
  db: Store['db'],
  req: FastifyRequest,
  id: string,
): Promise<PatchwardenError> {
  const readable = await getFleetHost(db, groupScope(req, 'hosts:read'), id);
  return readable === null
    ? hostNotFound(id)
    : new PatchwardenError('FORBIDDEN', `this token lacks hosts:write for host ${id}`, 403);
}

function hostNotFound(id: string): PatchwardenError {
  return new PatchwardenError('HOST_NOT_FOUND', `host ${id} does not exist`, 404);
}

function parseLabelFilters(filters: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const filter of filters) {
    const at = filter.indexOf('=');
    const key = filter.slice(0, at);
    if (Object.hasOwn(labels, key) && labels[key] !== filter.slice(at + 1)) {
      throw new PatchwardenError('INVALID_FILTER', `label ${key} is given two different values`, 400);
    }
    labels[key] = filter.slice(at + 1);
  }
  return labels;
}

function pick(host: Record<string, unknown> | object, keys: readonly string[]): Record<string, unknown> {
  const source = host as Record<string, unknown>;
  return Object.fromEntries(keys.map((key) => [key, source[key] ?? null]));
}
