import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PatchwardenError } from '@patchwarden/core';
import {
  appendAuditEntry,
  bindRole,
  countActiveAdmins,
  createUser,
  getRoleBinding,
  getUser,
  inTransaction,
  listRoleBindings,
  listUsers,
  type RoleBindingRecord,
  type Store,
  setUserDisabled,
  type User,
  unbindRole,
} from '@patchwarden/store';
import type { FastifyInstance } from 'fastify';
import { type Static, Type } from 'typebox';
import { userOf } from '../../plugins/auth.js';

export const RoleName = Type.Union([
  Type.Literal('admin'),
  Type.Literal('operator'),
  Type.Literal('approver'),
  Type.Literal('auditor'),
]);

const BindingInput = Type.Object(
  {
    role: RoleName,
    groupId: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Null()])),
  },
  { additionalProperties: false },
);

const BindingJson = Type.Object({
  id: Type.String(),
  role: RoleName,
  /** null: everywhere. */
  groupId: Type.Union([Type.String(), Type.Null()]),
});

export const UserJson = Type.Object({
  id: Type.String(),
  email: Type.String(),
  displayName: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  disabledAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  roles: Type.Array(BindingJson),
});

const CreateUserBody = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' }),
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    roles: Type.Array(BindingInput, { maxItems: 100, default: [] }),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });
const BindingParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 100 }),
  bindingId: Type.String({ minLength: 1, maxLength: 100 }),
});
const ListQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ maxLength: 254, description: 'the last email of the previous page' })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);

function userJson(user: User, bindings: readonly RoleBindingRecord[]): Static<typeof UserJson> {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    createdAt: user.createdAt.toISOString(),
    disabledAt: user.disabledAt?.toISOString() ?? null,
    roles: bindings.map((b) => ({ id: b.id, role: b.role, groupId: b.groupId })),
  };
}

async function requireUser(db: Store['db'], id: string): Promise<User> {
  const user = await getUser(db, id);
  if (user === null) {
    throw new PatchwardenError('USER_NOT_FOUND', `user ${id} does not exist`, 404);
  }
  return user;
}

/**
 * /api/v1/users: people, their role bindings (a role everywhere or for one host group) and whether
 * they are disabled. Reads need users:read, changes users:write; every change is audited. The last
 * enabled admin cannot be disabled or lose the admin role (`LAST_ADMIN`), so access stays repairable.
 */
export async function usersRoutes(plain: FastifyInstance): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const audit = (db: typeof app.store.db) => ({ db, dialect: app.store.dialect });

  app.get(
    '/',
    {
      config: { permission: 'users:read' },
      schema: {
        querystring: ListQuery,
        response: {
          200: Type.Object({
            users: Type.Array(UserJson),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (req) => {
      const page = await listUsers(app.store.db, { after: req.query.after ?? null, limit: req.query.limit });
      return { users: page.users.map((u) => userJson(u, u.bindings)), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/:id',
    { config: { permission: 'users:read' }, schema: { params: IdParams, response: { 200: UserJson } } },
    async (req) => {
      const user = await requireUser(app.store.db, req.params.id);
      return userJson(user, await listRoleBindings(app.store.db, user.id));
    },
  );

  app.post(
    '/',
    {
      config: { permission: 'users:write' },
      schema: { body: CreateUserBody, response: { 201: UserJson } },
    },
    async (req, reply) => {
      const actor = userOf(req);
      const created = await inTransaction(app.store.db, async (trx) => {
        const user = await createUser(
          trx,
          {
            email: req.body.email.toLowerCase(),
            ...(req.body.displayName === undefined ? {} : { displayName: req.body.displayName }),
          },
          app.now(),
        );
        const bindings: RoleBindingRecord[] = [];
        for (const binding of req.body.roles) {
          bindings.push(
            await bindRole(
              trx,
              { userId: user.id, role: binding.role, groupId: binding.groupId ?? null },
              app.now(),
            ),
          );
        }
        await appendAuditEntry(
          audit(trx),
          {
            actor: actor.userId,
            action: 'user.create',
            targetType: 'user',
            targetId: user.id,
            detail: { email: user.email, roles: bindings.map((b) => ({ role: b.role, groupId: b.groupId })) },
          },
          app.now(),
        );
        return userJson(user, bindings);
      });
      return reply.status(201).send(created);
    },
  );

  app.post(
    '/:id/roles',
    {
      config: { permission: 'users:write' },
      schema: { params: IdParams, body: BindingInput, response: { 201: UserJson } },
    },
    async (req, reply) => {
      const actor = userOf(req);
      const result = await inTransaction(app.store.db, async (trx) => {
        const binding = await bindRole(
          trx,
          { userId: req.params.id, role: req.body.role, groupId: req.body.groupId ?? null },
          app.now(),
        );
        await appendAuditEntry(
          audit(trx),
          {
            actor: actor.userId,
            action: 'user.role.grant',
            targetType: 'user',
            targetId: req.params.id,
            detail: { bindingId: binding.id, role: binding.role, groupId: binding.groupId },
          },
          app.now(),
        );
        const user = await requireUser(trx, req.params.id);
        return userJson(user, await listRoleBindings(trx, user.id));
      });
      return reply.status(201).send(result);
    },
  );

  app.delete(
    '/:id/roles/:bindingId',
    {
      config: { permission: 'users:write' },
      schema: { params: BindingParams, response: { 200: UserJson } },
    },
    async (req) => {
      const actor = userOf(req);
      return inTransaction(app.store.db, async (trx) => {
        const binding = await getRoleBinding(trx, req.params.bindingId);
        if (binding === null || binding.userId !== req.params.id) {
          throw new PatchwardenError(
            'ROLE_BINDING_NOT_FOUND',
            `user ${req.params.id} has no role binding ${req.params.bindingId}`,
            404,
          );
        }
        // The audit entry first: it takes the audit chain's lock, which serialises concurrent
        // changes, so two admins cannot each remove the other and leave none.
        await appendAuditEntry(
          audit(trx),
          {
            actor: actor.userId,
            action: 'user.role.revoke',
            targetType: 'user',
            targetId: binding.userId,
            detail: { bindingId: binding.id, role: binding.role, groupId: binding.groupId },
          },
          app.now(),
        );
        await unbindRole(trx, binding.id);
        if ((await countActiveAdmins(trx)) === 0) {
          throw new PatchwardenError(
            'LAST_ADMIN',
            'this is the last enabled admin; grant admin to another user first',
            409,
          );
        }
        const user = await requireUser(trx, req.params.id);
        return userJson(user, await listRoleBindings(trx, user.id));
      });
    },
  );

  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(
      `/:id/${verb}`,
      { config: { permission: 'users:write' }, schema: { params: IdParams, response: { 200: UserJson } } },
      async (req) => {
        const actor = userOf(req);
        return inTransaction(app.store.db, async (trx) => {
          const before = await requireUser(trx, req.params.id);
          if ((before.disabledAt !== null) === disabled) {
            return userJson(before, await listRoleBindings(trx, before.id));
          }
          // The audit entry first, for its lock (see the role revoke above).
          await appendAuditEntry(
            audit(trx),
            { actor: actor.userId, action: `user.${verb}`, targetType: 'user', targetId: before.id },
            app.now(),
          );
          const user = (await setUserDisabled(trx, before.id, disabled ? app.now() : null)) ?? before;
          if (disabled && (await countActiveAdmins(trx)) === 0) {
            throw new PatchwardenError(
              'LAST_ADMIN',
              'this is the last enabled admin; it cannot be disabled',
              409,
            );
          }
          return userJson(user, await listRoleBindings(trx, user.id));
        });
      },
    );
  }
}
