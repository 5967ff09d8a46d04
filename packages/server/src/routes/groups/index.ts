import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PatchwardenError } from '@patchwarden/core';
import {
  appendAuditEntry,
  createHostGroup,
  deleteHostGroup,
  getHostGroup,
  type HostGroup,
  inTransaction,
  listHostGroups,
} from '@patchwarden/store';
import type { FastifyInstance } from 'fastify';
import { type Static, Type } from 'typebox';
import { groupScope, userOf } from '../../plugins/auth.js';

const GroupJson = Type.Object({
  id: Type.String(),
  name: Type.String(),
  parentId: Type.Union([Type.String(), Type.Null()]),
  description: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
});

const CreateGroupBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    parentId: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Null()])),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

function groupJson(group: HostGroup): Static<typeof GroupJson> {
  return { ...group, createdAt: group.createdAt.toISOString() };
}

/**
 * /api/v1/groups: host groups, the unit roles are scoped to. Reads need hosts:read and show only
 * the groups the caller holds it for (a group-scoped role sees its groups and their subgroups);
 * changes need groups:write and are audited. A group with hosts or subgroups cannot be deleted.
 */
export async function groupsRoutes(plain: FastifyInstance): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/',
    {
      config: { permission: 'hosts:read' },
      schema: { response: { 200: Type.Object({ groups: Type.Array(GroupJson) }) } },
    },
    async (req) => {
      const scope = groupScope(req, 'hosts:read');
      const groups = await listHostGroups(app.store.db);
      return {
        groups: groups.filter((g) => scope === 'all' || scope.includes(g.id)).map(groupJson),
      };
    },
  );

  app.get(
    '/:id',
    { config: { permission: 'hosts:read' }, schema: { params: IdParams, response: { 200: GroupJson } } },
    async (req) => {
      const scope = groupScope(req, 'hosts:read');
      const group = await getHostGroup(app.store.db, req.params.id);
      if (group === null || (scope !== 'all' && !scope.includes(group.id))) {
        throw new PatchwardenError('GROUP_NOT_FOUND', `host group ${req.params.id} does not exist`, 404);
      }
      return groupJson(group);
    },
  );

  app.post(
    '/',
    {
      config: { permission: 'groups:write' },
      schema: { body: CreateGroupBody, response: { 201: GroupJson } },
    },
    async (req, reply) => {
      const actor = userOf(req);
      const group = await inTransaction(app.store.db, async (trx) => {
        const created = await createHostGroup(
          trx,
          {
            name: req.body.name,
            parentId: req.body.parentId ?? null,
            description: req.body.description ?? null,
          },
          app.now(),
        );
        await appendAuditEntry(
          { db: trx, dialect: app.store.dialect },
          {
            actor: actor.userId,
            action: 'group.create',
            targetType: 'group',
            targetId: created.id,
            detail: { name: created.name, parentId: created.parentId },
          },
          app.now(),
        );
        return created;
      });
      return reply.status(201).send(groupJson(group));
    },
  );

  app.delete(
    '/:id',
    { config: { permission: 'groups:write' }, schema: { params: IdParams, response: { 204: Type.Null() } } },
    async (req, reply) => {
      const actor = userOf(req);
      await inTransaction(app.store.db, async (trx) => {
        const group = await getHostGroup(trx, req.params.id);
        if (group === null || !(await deleteHostGroup(trx, group.id))) {
          throw new PatchwardenError('GROUP_NOT_FOUND', `host group ${req.params.id} does not exist`, 404);
        }
        await appendAuditEntry(
          { db: trx, dialect: app.store.dialect },
          {
            actor: actor.userId,
            action: 'group.delete',
            targetType: 'group',
            targetId: group.id,
            detail: { name: group.name },
          },
          app.now(),
        );
      });
      return reply.status(204).send(null);
    },
  );
}
