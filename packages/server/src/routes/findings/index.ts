import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PatchwardenError, type Severity } from '@patchwarden/core';
import { FINDING_SORTS, getFindingDetail, queryFindings } from '@patchwarden/store';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { groupScope } from '../../plugins/auth.js';
import {
  CursorSchema,
  DateTime,
  FindingJson,
  findingJson,
  LimitSchema,
  Nullable,
  OrderSchema,
  SeveritySchema,
} from '../hosts/schemas.js';

const FindingListQuery = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'a host id' })),
    severity: Type.Optional(
      Type.Array(SeveritySchema, { maxItems: 6, description: 'any of these; repeat for several' }),
    ),
    status: Type.Optional(
      Type.Union([Type.Literal('open'), Type.Literal('fixed'), Type.Literal('waived')], { default: 'open' }),
    ),
    kev: Type.Optional(Type.Boolean({ description: 'only findings on the CISA KEV list' })),
    package: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    advisory: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'an advisory id' })),
    cve: Type.Optional(Type.String({ pattern: '^CVE-\\d{4}-\\d{4,}$' })),
    overdue: Type.Optional(Type.Boolean({ description: 'only findings due at or before now' })),
    sort: Type.Optional(Type.Union(FINDING_SORTS.map((s) => Type.Literal(s)))),
    order: Type.Optional(OrderSchema),
    cursor: Type.Optional(CursorSchema),
    limit: Type.Optional(LimitSchema),
  },
  { additionalProperties: false },
);

const FindingDetailJson = Type.Object({
  finding: FindingJson,
  evidence: Type.Unknown({ description: "core's FindingEvidence for this advisory" }),
  advisory: Nullable(
    Type.Object({
      id: Type.String(),
      title: Nullable(Type.String()),
      severity: Nullable(Type.String()),
      cvssScore: Nullable(Type.Number()),
    }),
  ),
  events: Type.Array(
    Type.Object({
      id: Type.String(),
      kind: Type.String(),
      at: DateTime,
      actor: Nullable(Type.String()),
      detail: Type.Record(Type.String(), Type.Unknown()),
    }),
  ),
});

/**
 * /api/v1/findings: findings (one advisory on one package of one host) of the hosts the caller may
 * read, filtered, sorted and keyset-paginated; one finding with its advisory and history.
 */
export async function findingsRoutes(plain: FastifyInstance): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/',
    {
      config: { permission: 'findings:read' },
      schema: {
        querystring: FindingListQuery,
        response: {
          200: Type.Object({ findings: Type.Array(FindingJson), nextCursor: Nullable(Type.String()) }),
        },
      },
    },
    async (req) => {
      const q = req.query;
      const now = app.now();
      const page = await queryFindings(app.store.db, {
        scope: groupScope(req, 'findings:read'),
        now,
        ...(q.host === undefined ? {} : { hostId: q.host }),
        ...(q.severity === undefined ? {} : { severities: q.severity as Severity[] }),
        ...(q.status === undefined ? {} : { status: q.status }),
        ...(q.kev === undefined ? {} : { isKevOnly: q.kev }),
        ...(q.package === undefined ? {} : { packageName: q.package }),
        ...(q.advisory === undefined ? {} : { advisoryId: q.advisory }),
        ...(q.cve === undefined ? {} : { cve: q.cve }),
        ...(q.overdue === undefined ? {} : { isOverdueOnly: q.overdue }),
        ...(q.sort === undefined ? {} : { sort: q.sort }),
        ...(q.order === undefined ? {} : { order: q.order }),
        cursor: q.cursor ?? null,
        ...(q.limit === undefined ? {} : { limit: q.limit }),
      });
      return { findings: page.items.map((f) => findingJson(f, now)), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/:id',
    {
      config: { permission: 'findings:read' },
      schema: {
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 200: FindingDetailJson },
      },
    },
    async (req) => {
      const detail = await getFindingDetail(app.store.db, groupScope(req, 'findings:read'), req.params.id);
      if (detail === null) {
        throw new PatchwardenError('FINDING_NOT_FOUND', `finding ${req.params.id} does not exist`, 404);
      }
      return {
        finding: findingJson(detail, app.now()),
        evidence: detail.evidence,
        advisory: detail.advisory,
        events: detail.events.map((event) => ({ ...event, at: event.at.toISOString() })),
      };
    },
  );
}
