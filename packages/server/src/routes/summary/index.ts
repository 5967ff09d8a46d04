import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { getFleetSummary } from '@patchwarden/store';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { groupScope } from '../../plugins/auth.js';
import { DateTime } from '../hosts/schemas.js';

const DEFAULT_STALE_AFTER_HOURS = 24;

const SummaryQuery = Type.Object(
  {
    staleAfterHours: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 8760,
        description: `a host not seen for longer is stale (default ${DEFAULT_STALE_AFTER_HOURS})`,
      }),
    ),
  },
  { additionalProperties: false },
);

const Counts = Type.Record(Type.String(), Type.Integer());

const SummaryJson = Type.Object({
  at: DateTime,
  staleAfterHours: Type.Integer(),
  hosts: Type.Object({
    total: Type.Integer(),
    withOpenFindings: Type.Integer(),
    withKevFindings: Type.Integer(),
    noncompliant: Type.Integer({ description: 'hosts with an open finding past due' }),
    stale: Type.Integer(),
    neverSeen: Type.Integer(),
    rebootRequired: Type.Integer(),
  }),
  findings: Type.Object({
    open: Type.Integer(),
    bySeverity: Counts,
    byFixState: Counts,
    kev: Type.Integer(),
    overdue: Type.Integer(),
    waived: Type.Integer(),
  }),
});

/** /api/v1/summary: counts over the caller's hosts and their open findings, now. */
export async function summaryRoutes(plain: FastifyInstance): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/',
    {
      config: { permission: 'reports:read' },
      schema: { querystring: SummaryQuery, response: { 200: SummaryJson } },
    },
    async (req) => {
      const summary = await getFleetSummary(app.store.db, {
        scope: groupScope(req, 'reports:read'),
        now: app.now(),
        staleAfterHours: req.query.staleAfterHours ?? DEFAULT_STALE_AFTER_HOURS,
      });
      return { ...summary, at: summary.at.toISOString() };
    },
  );
}
