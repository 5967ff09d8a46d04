import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { listAuditEntries, MAX_AUDIT_PAGE_SIZE, verifyAuditChain } from '@patchwarden/store';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

const Filter = Type.String({ minLength: 1, maxLength: 200 });

const AuditQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, description: 'the last seq of the previous page' })),
    limit: Type.Integer({ minimum: 1, maximum: MAX_AUDIT_PAGE_SIZE, default: 100 }),
    action: Type.Optional(Filter),
    actor: Type.Optional(Filter),
    targetType: Type.Optional(Filter),
    targetId: Type.Optional(Filter),
  },
  { additionalProperties: false },
);

const AuditEntryJson = Type.Object({
  seq: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  actor: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  targetType: Type.Union([Type.String(), Type.Null()]),
  targetId: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Record(Type.String(), Type.Unknown()),
  prevHash: Type.Union([Type.String(), Type.Null()]),
  hash: Type.String(),
});

const ChainReport = Type.Object({
  isIntact: Type.Boolean(),
  count: Type.Integer(),
  /** seq of the first entry whose hash or link does not match; absent when intact. */
  brokenAt: Type.Optional(Type.Integer()),
});

/** /api/v1/audit: the hash-chained audit log, read in seq order, and a check of its chain. */
export async function auditRoutes(plain: FastifyInstance): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/',
    {
      config: { permission: 'audit:read' },
      schema: {
        querystring: AuditQuery,
        response: {
          200: Type.Object({
            entries: Type.Array(AuditEntryJson),
            nextCursor: Type.Union([Type.Integer(), Type.Null()]),
          }),
        },
      },
    },
    async (req) => {
      const { after, limit, action, actor, targetType, targetId } = req.query;
      const page = await listAuditEntries(app.store.db, {
        after: after ?? null,
        limit,
        ...(action === undefined ? {} : { action }),
        ...(actor === undefined ? {} : { actor }),
        ...(targetType === undefined ? {} : { targetType }),
        ...(targetId === undefined ? {} : { targetId }),
      });
      return {
        entries: page.entries.map((e) => ({ ...e, at: e.at.toISOString() })),
        nextCursor: page.nextCursor,
      };
    },
  );

  app.get(
    '/verify',
    { config: { permission: 'audit:read' }, schema: { response: { 200: ChainReport } } },
    async () => verifyAuditChain(app.store.db),
  );
}
