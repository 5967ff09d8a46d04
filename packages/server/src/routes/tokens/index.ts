import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PatchwardenError } from '@patchwarden/core';
import {
  type ApiToken,
  appendAuditEntry,
  createApiToken,
  getApiToken,
  getUser,
  inTransaction,
  listApiTokens,
  revokeApiToken,
} from '@patchwarden/store';
import type { FastifyInstance } from 'fastify';
import { type Static, Type } from 'typebox';
import { permissionScope } from '../../auth/permissions.js';
import { generateSecret, hashSecret } from '../../auth/secrets.js';
import { userOf } from '../../plugins/auth.js';

/** The longest an API token may live, whatever is asked or configured. */
export const TOKEN_MAX_TTL_DAYS = 365;
const DAY_MS = 86_400_000;

export const TokenJson = Type.Object({
  id: Type.String(),
  userId: Type.String(),
  name: Type.String(),
  state: Type.Union([Type.Literal('active'), Type.Literal('revoked'), Type.Literal('expired')]),
  createdAt: Type.String({ format: 'date-time' }),
  /** null: never (only the bootstrap token). */
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const CreateTokenBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: TOKEN_MAX_TTL_DAYS })),
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
    userId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'mint for another user; needs users:write' }),
    ),
  },
  { additionalProperties: false },
);

const CreatedToken = Type.Object({
  token: TokenJson,
  /** The secret, shown this once; only its hash is stored. */
  secret: Type.String(),
});

function tokenJson(token: ApiToken, now: Date): Static<typeof TokenJson> {
  const state =
    token.revokedAt !== null
      ? 'revoked'
      : token.expiresAt !== null && token.expiresAt <= now
        ? 'expired'
        : 'active';
  return {
    id: token.id,
    userId: token.userId,
    name: token.name,
    state,
    createdAt: token.createdAt.toISOString(),
    expiresAt: token.expiresAt?.toISOString() ?? null,
    lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
    revokedAt: token.revokedAt?.toISOString() ?? null,
  };
}

function expiryOf(body: Static<typeof CreateTokenBody>, defaultDays: number, now: Date): Date {
  if (body.expiresInDays !== undefined && body.expiresAt !== undefined) {
    throw new PatchwardenError('INVALID_EXPIRY', 'give expiresInDays or expiresAt, not both', 400);
  }
  const latest = new Date(now.getTime() + TOKEN_MAX_TTL_DAYS * DAY_MS);
  if (body.expiresAt !== undefined) {
    const at = new Date(body.expiresAt);
    if (!(at > now) || at > latest) {
      throw new PatchwardenError(
        'INVALID_EXPIRY',
        `expiresAt must be after now and at most ${TOKEN_MAX_TTL_DAYS} days ahead (${latest.toISOString()})`,
        400,
      );
    }
    return at;
  }
  const days = body.expiresInDays ?? Math.min(defaultDays, TOKEN_MAX_TTL_DAYS);
  return new Date(now.getTime() + days * DAY_MS);
}

/**
 * /api/v1/tokens: API tokens. Anyone with tokens:write manages their own; users:write manages
 * anyone's, users:read lists anyone's. A token acts with its user's roles as they are at each
 * request, so it never holds more than its user. The secret is returned once, on create.
 */
export async function tokensRoutes(plain: FastifyInstance): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/',
    {
      config: { permission: 'tokens:write' },
      schema: { body: CreateTokenBody, response: { 201: CreatedToken } },
    },
    async (req, reply) => {
      const actor = userOf(req);
      const now = app.now();
      const userId = req.body.userId ?? actor.userId;
      if (userId !== actor.userId && permissionScope(actor.bindings, 'users:write') !== 'all') {
        throw new PatchwardenError('FORBIDDEN', 'creating a token for another user needs users:write', 403);
      }
      const expiresAt = expiryOf(req.body, app.config.tokenTtlDays, now);
      const secret = generateSecret('token');
      const token = await inTransaction(app.store.db, async (trx) => {
        const user = await getUser(trx, userId);
        if (user === null) {
          throw new PatchwardenError('USER_NOT_FOUND', `user ${userId} does not exist`, 404);
        }
        if (user.disabledAt !== null) {
          throw new PatchwardenError('USER_DISABLED', `the user ${user.email} is disabled`, 409);
        }
        const created = await createApiToken(
          trx,
          { userId, name: req.body.name, tokenHash: hashSecret(secret), expiresAt },
          now,
        );
        await appendAuditEntry(
          { db: trx, dialect: app.store.dialect },
          {
            actor: actor.userId,
            action: 'token.create',
            targetType: 'token',
            targetId: created.id,
            detail: { userId, name: created.name, expiresAt: expiresAt.toISOString() },
          },
          now,
        );
        return created;
      });
      req.log.info({ tokenId: token.id, userId }, 'API token created');
      return reply.status(201).send({ token: tokenJson(token, now), secret });
    },
  );

  app.get(
    '/',
    {
      config: { permission: 'tokens:write' },
      schema: {
        querystring: Type.Object(
          { userId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ tokens: Type.Array(TokenJson) }) },
      },
    },
    async (req) => {
      const actor = userOf(req);
      const canSeeAll = permissionScope(actor.bindings, 'users:read') === 'all';
      const userId = req.query.userId ?? (canSeeAll ? null : actor.userId);
      if (userId !== actor.userId && !canSeeAll) {
        throw new PatchwardenError('FORBIDDEN', "listing another user's tokens needs users:read", 403);
      }
      const now = app.now();
      const tokens = await listApiTokens(app.store.db, { userId });
      return { tokens: tokens.map((t) => tokenJson(t, now)) };
    },
  );

  app.delete(
    '/:id',
    {
      config: { permission: 'tokens:write' },
      schema: {
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) }),
        response: { 200: TokenJson },
      },
    },
    async (req) => {
      const actor = userOf(req);
      const now = app.now();
      const revoked = await inTransaction(app.store.db, async (trx) => {
        const token = await getApiToken(trx, req.params.id);
        const isOwn = token?.userId === actor.userId;
        if (token === null || (!isOwn && permissionScope(actor.bindings, 'users:read') !== 'all')) {
          throw new PatchwardenError('TOKEN_NOT_FOUND', `no API token ${req.params.id}`, 404);
        }
        if (!isOwn && permissionScope(actor.bindings, 'users:write') !== 'all') {
          throw new PatchwardenError('FORBIDDEN', "revoking another user's token needs users:write", 403);
        }
        const result = await revokeApiToken(trx, token.id, now);
        await appendAuditEntry(
          { db: trx, dialect: app.store.dialect },
          {
            actor: actor.userId,
            action: 'token.revoke',
            targetType: 'token',
            targetId: token.id,
            detail: { userId: token.userId, name: token.name },
          },
          now,
        );
        return result ?? token;
      });
      req.log.info({ tokenId: revoked.id }, 'API token revoked');
      return tokenJson(revoked, now);
    },
  );
}
