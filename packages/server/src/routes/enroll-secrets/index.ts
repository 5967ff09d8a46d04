import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PatchwardenError } from '@patchwarden/core';
import {
  appendAuditEntry,
  createEnrollmentSecret,
  type EnrollmentSecret,
  getEnrollmentSecret,
  inTransaction,
  listEnrollmentSecrets,
  revokeEnrollmentSecret,
} from '@patchwarden/store';
import type { FastifyInstance } from 'fastify';
import { type Static, Type } from 'typebox';
import { generateSecret, hashSecret } from '../../auth/secrets.js';
import { groupScope, userOf } from '../../plugins/auth.js';

/** The longest an enrolment secret may live. */
export const ENROLL_SECRET_MAX_TTL_DAYS = 365;
const DAY_MS = 86_400_000;

export const EnrollSecretJson = Type.Object({
  id: Type.String(),
  name: Type.String(),
  groupId: Type.Union([Type.String(), Type.Null()]),
  state: Type.Union([
    Type.Literal('active'),
    Type.Literal('revoked'),
    Type.Literal('expired'),
    Type.Literal('used-up'),
  ]),
  maxUses: Type.Union([Type.Integer(), Type.Null()]),
  useCount: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    groupId: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Null()])),
    /** Default: never expires. */
    expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: ENROLL_SECRET_MAX_TTL_DAYS })),
    /** Default: unlimited. */
    maxUses: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);

const Created = Type.Object({
  enrollSecret: EnrollSecretJson,
  /** The secret, shown this once; only its hash is stored. */
  secret: Type.String(),
});

function secretJson(secret: EnrollmentSecret, now: Date): Static<typeof EnrollSecretJson> {
  const state =
    secret.revokedAt !== null
      ? 'revoked'
      : secret.expiresAt !== null && secret.expiresAt <= now
        ? 'expired'
        : secret.maxUses !== null && secret.useCount >= secret.maxUses
          ? 'used-up'
          : 'active';
  return {
    id: secret.id,
    name: secret.name,
    groupId: secret.groupId,
    state,
    maxUses: secret.maxUses,
    useCount: secret.useCount,
    createdAt: secret.createdAt.toISOString(),
    expiresAt: secret.expiresAt?.toISOString() ?? null,
    revokedAt: secret.revokedAt?.toISOString() ?? null,
  };
}

function isInScope(scope: 'all' | string[], groupId: string | null): boolean {
  return scope === 'all' || (groupId !== null && scope.includes(groupId));
}

/**
 * /api/v1/enroll-secrets: the secrets agents enrol with. The secret is returned once, on create;
 * lists never show it. A user scoped to some groups manages only secrets of those groups.
 */
export async function enrollSecretsRoutes(plain: FastifyInstance): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/',
    {
      config: { permission: 'enroll-secrets:write' },
      schema: { body: CreateBody, response: { 201: Created } },
    },
    async (req, reply) => {
      const actor = userOf(req);
      const now = app.now();
      const groupId = req.body.groupId ?? null;
      if (!isInScope(groupScope(req, 'enroll-secrets:write'), groupId)) {
        throw new PatchwardenError(
          'FORBIDDEN',
          groupId === null
            ? 'this token may create enrolment secrets only for its groups; give groupId'
            : `this token lacks enroll-secrets:write for group ${groupId}`,
          403,
        );
      }
      const secret = generateSecret('enroll-secret');
      const expiresAt =
        req.body.expiresInDays === undefined
          ? null
          : new Date(now.getTime() + req.body.expiresInDays * DAY_MS);
      const created = await inTransaction(app.store.db, async (trx) => {
        const record = await createEnrollmentSecret(
          trx,
          {
            name: req.body.name,
            secretHash: hashSecret(secret),
            groupId,
            expiresAt,
            maxUses: req.body.maxUses ?? null,
          },
          now,
        );
        await appendAuditEntry(
          { db: trx, dialect: app.store.dialect },
          {
            actor: actor.userId,
            action: 'enroll-secret.create',
            targetType: 'enroll-secret',
            targetId: record.id,
            detail: {
              name: record.name,
              groupId,
              expiresAt: expiresAt?.toISOString() ?? null,
              maxUses: record.maxUses,
            },
          },
          now,
        );
        return record;
      });
      req.log.info({ enrollSecretId: created.id }, 'enrolment secret created');
      return reply.status(201).send({ enrollSecret: secretJson(created, now), secret });
    },
  );

  app.get(
    '/',
    {
      config: { permission: 'enroll-secrets:read' },
      schema: { response: { 200: Type.Object({ enrollSecrets: Type.Array(EnrollSecretJson) }) } },
    },
    async (req) => {
      const scope = groupScope(req, 'enroll-secrets:read');
      const now = app.now();
      const secrets = await listEnrollmentSecrets(app.store.db);
      return {
        enrollSecrets: secrets.filter((s) => isInScope(scope, s.groupId)).map((s) => secretJson(s, now)),
      };
    },
  );

  app.delete(
    '/:id',
    {
      config: { permission: 'enroll-secrets:write' },
      schema: {
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) }),
        response: { 200: EnrollSecretJson },
      },
    },
    async (req) => {
      const actor = userOf(req);
      const now = app.now();
      const scope = groupScope(req, 'enroll-secrets:write');
      const revoked = await inTransaction(app.store.db, async (trx) => {
        const existing = await getEnrollmentSecret(trx, req.params.id);
        if (existing === null || !isInScope(scope, existing.groupId)) {
          throw new PatchwardenError('ENROLL_SECRET_NOT_FOUND', `no enrolment secret ${req.params.id}`, 404);
        }
        const result = await revokeEnrollmentSecret(trx, existing.id, now);
        if (result.isNewlyRevoked) {
          await appendAuditEntry(
            { db: trx, dialect: app.store.dialect },
            {
              actor: actor.userId,
              action: 'enroll-secret.revoke',
              targetType: 'enroll-secret',
              targetId: existing.id,
              detail: { name: existing.name, groupId: existing.groupId },
            },
            now,
          );
        }
        return result.secret;
      });
      req.log.info({ enrollSecretId: revoked.id }, 'enrolment secret revoked');
      return secretJson(revoked, now);
    },
  );
}
