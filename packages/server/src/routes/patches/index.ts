import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Severity } from '@patchwarden/core';
import { PATCH_SORTS, queryPatches } from '@patchwarden/store';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { groupScope } from '../../plugins/auth.js';
import { CursorSchema, DateTime, LimitSchema, Nullable, SeveritySchema } from '../hosts/schemas.js';

const PatchListQuery = Type.Object(
  {
    sort: Type.Optional(
      Type.Union(
        PATCH_SORTS.map((s) => Type.Literal(s)),
        { description: 'descending' },
      ),
    ),
    package: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    minSeverity: Type.Optional(SeveritySchema),
    kev: Type.Optional(Type.Boolean({ description: 'only fixes that close a KEV finding' })),
    cursor: Type.Optional(CursorSchema),
    limit: Type.Optional(LimitSchema),
  },
  { additionalProperties: false },
);

const PatchJson = Type.Object({
  packageName: Type.String(),
  fixedVersion: Type.String(),
  hosts: Type.Integer({ description: 'distinct hosts that need this fix' }),
  findings: Type.Integer({ description: 'open findings (host x advisory) it closes' }),
  advisories: Type.Integer(),
  cves: Type.Integer({ description: 'distinct CVEs it closes' }),
  kevCves: Type.Integer({ description: 'distinct CVEs it closes that are on the CISA KEV list' }),
  kevFindings: Type.Integer(),
  worstSeverity: Nullable(Type.String()),
  maxRiskScore: Nullable(Type.Number()),
  earliestDueAt: Nullable(DateTime),
});

/**
 * /api/v1/patches: the patch-centric view. Each available fix (package name and fixed version) with
 * how many of the caller's hosts need it and how many findings, CVEs and KEV entries it closes.
 */
export async function patchesRoutes(plain: FastifyInstance): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/',
    {
      config: { permission: 'findings:read' },
      schema: {
        querystring: PatchListQuery,
        response: {
          200: Type.Object({ patches: Type.Array(PatchJson), nextCursor: Nullable(Type.String()) }),
        },
      },
    },
    async (req) => {
      const q = req.query;
      const page = await queryPatches(app.store.db, app.store.dialect, {
        scope: groupScope(req, 'findings:read'),
        ...(q.sort === undefined ? {} : { sort: q.sort }),
        ...(q.package === undefined ? {} : { packageName: q.package }),
        ...(q.minSeverity === undefined ? {} : { minSeverity: q.minSeverity as Severity }),
        ...(q.kev === undefined ? {} : { isKevOnly: q.kev }),
        cursor: q.cursor ?? null,
        ...(q.limit === undefined ? {} : { limit: q.limit }),
      });
      return {
        patches: page.items.map((patch) => ({
          ...patch,
          earliestDueAt: patch.earliestDueAt === null ? null : patch.earliestDueAt.toISOString(),
        })),
        nextCursor: page.nextCursor,
      };
    },
  );
}
