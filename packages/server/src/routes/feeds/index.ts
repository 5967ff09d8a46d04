import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PatchwardenError } from '@patchwarden/core';
import {
  appendAuditEntry,
  createFeed,
  deleteFeed,
  type Feed,
  getFeed,
  inTransaction,
  listFeeds,
  updateFeed,
} from '@patchwarden/store';
import type { FastifyInstance } from 'fastify';
import { type Static, Type } from 'typebox';
import { FeedConfigSchema } from '../../config.js';
import { isFeedUrl } from '../../feeds/index.js';
import { userOf } from '../../plugins/auth.js';

const FeedKindSchema = FeedConfigSchema.properties.kind;
const NameSchema = FeedConfigSchema.properties.name;
const LocationSchema = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'an http(s) URL, or an absolute path to a file or directory on the server',
});
const ScheduleSchema = Type.Union([Type.Integer({ minimum: 60, maximum: 31_536_000 }), Type.Null()], {
  description: 'seconds between scheduled syncs; null syncs only on demand',
});

const Counts = Type.Object({
  documents: Type.Integer(),
  records: Type.Integer(),
  added: Type.Integer(),
  changed: Type.Integer(),
  unchanged: Type.Integer(),
  removed: Type.Integer(),
  kev: Type.Integer(),
  epss: Type.Integer(),
  skipped: Type.Integer(),
  packagesTouched: Type.Integer(),
  hostsReevaluated: Type.Union([Type.Integer(), Type.Null()]),
  durationMs: Type.Integer(),
  notes: Type.Array(Type.String()),
});

const ErrorJson = Type.Object({ code: Type.String(), message: Type.String() });

export const FeedJson = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  location: Type.String(),
  scheduleSeconds: Type.Union([Type.Integer(), Type.Null()]),
  enabled: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  nextSyncAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastSync: Type.Object({
    status: Type.Union([Type.Literal('running'), Type.Literal('ok'), Type.Literal('failed'), Type.Null()]),
    startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    error: Type.Union([ErrorJson, Type.Null()]),
    counts: Type.Union([Counts, Type.Null()]),
  }),
});

const SyncResultJson = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('failed')]),
  error: Type.Union([ErrorJson, Type.Null()]),
  counts: Type.Union([Counts, Type.Null()]),
  feed: FeedJson,
});

const CreateBody = Type.Object(
  {
    name: NameSchema,
    kind: Type.Optional(FeedKindSchema),
    location: LocationSchema,
    scheduleSeconds: Type.Optional(ScheduleSchema),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const UpdateBody = Type.Object(
  {
    name: Type.Optional(NameSchema),
    kind: Type.Optional(FeedKindSchema),
    location: Type.Optional(LocationSchema),
    scheduleSeconds: Type.Optional(ScheduleSchema),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

const IdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200, description: 'id or name' }),
});

/** Default schedule of a feed created without one: daily, as the sources publish. */
const DEFAULT_SCHEDULE_SECONDS = 86_400;

export function feedJson(feed: Feed): Static<typeof FeedJson> {
  return {
    id: feed.id,
    name: feed.name,
    kind: feed.kind,
    location: feed.location,
    scheduleSeconds: feed.scheduleSeconds,
    enabled: feed.isEnabled,
    createdAt: feed.createdAt.toISOString(),
    updatedAt: feed.updatedAt.toISOString(),
    nextSyncAt: feed.nextSyncAt?.toISOString() ?? null,
    lastSync: {
      status: feed.lastSyncStatus,
      startedAt: feed.lastSyncStartedAt?.toISOString() ?? null,
      finishedAt: feed.lastSyncFinishedAt?.toISOString() ?? null,
      error: parseStoredError(feed.lastSyncError),
      counts: feed.lastSyncCounts,
    },
  };
}

/** The sync stores its error as `CODE: message`. */
function parseStoredError(text: string | null): Static<typeof ErrorJson> | null {
  if (text === null) return null;
  const match = /^([A-Z][A-Z0-9_]*): ([\s\S]*)$/.exec(text);
  return match?.[1] !== undefined && match[2] !== undefined
    ? { code: match[1], message: match[2] }
    : { code: 'FEED_SYNC_FAILED', message: text };
}

/**
 * A location must be an http(s) URL with a host, or an absolute path that exists on this server
 * (a relative path would depend on each replica's working directory).
 */
async function checkLocation(location: string): Promise<void> {
  if (isFeedUrl(location)) {
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      throw new PatchwardenError('INVALID_FEED_LOCATION', `${location} is not a valid URL`, 400);
    }
    if (url.hostname === '') {
      throw new PatchwardenError('INVALID_FEED_LOCATION', `${location} names no host`, 400);
    }
    return;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new PatchwardenError(
      'INVALID_FEED_LOCATION',
      `${location}: only http(s) URLs and local paths are feed locations`,
      400,
    );
  }
  if (!isAbsolute(location)) {
    throw new PatchwardenError(
      'INVALID_FEED_LOCATION',
      `${location} is a relative path; give an absolute path on the server`,
      400,
    );
  }
  try {
    await stat(location);
  } catch {
    throw new PatchwardenError('FEED_NOT_FOUND', `${location} does not exist on the server`, 400);
  }
}

async function feedOr404(app: FastifyInstance, id: string): Promise<Feed> {
  const feed = await getFeed(app.store.db, id);
  if (feed === null) {
    throw new PatchwardenError('FEED_NOT_FOUND', `feed ${id} does not exist`, 404);
  }
  return feed;
}

/** /api/v1/feeds — advisory sources, their settings and sync status; syncs on demand. */
export async function feedsRoutes(base: FastifyInstance): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/',
    {
      config: { permission: 'feeds:read' },
      schema: {
        summary: 'Every feed with its sync status, by name',
        response: { 200: Type.Object({ feeds: Type.Array(FeedJson) }) },
      },
    },
    async () => ({ feeds: (await listFeeds(app.store.db)).map(feedJson) }),
  );

  app.get(
    '/:id',
    {
      config: { permission: 'feeds:read' },
      schema: { summary: 'One feed by id or name', params: IdParams, response: { 200: FeedJson } },
    },
    async (req) => feedJson(await feedOr404(app, req.params.id)),
  );

  app.post(
    '/',
    {
      config: { permission: 'feeds:write' },
      schema: {
        summary: 'Create a feed; a scheduled feed is due for its first sync at once',
        body: CreateBody,
        response: { 201: FeedJson },
      },
    },
    async (req, reply) => {
      const user = userOf(req);
      const body = req.body;
      await checkLocation(body.location);
      const now = app.now();
      const feed = await inTransaction(app.store.db, async (trx) => {
        const created = await createFeed(
          trx,
          {
            name: body.name,
            kind: body.kind ?? 'auto',
            location: body.location,
            scheduleSeconds:
              body.scheduleSeconds === undefined ? DEFAULT_SCHEDULE_SECONDS : body.scheduleSeconds,
            isEnabled: body.enabled ?? true,
          },
          now,
        );
        await appendAuditEntry(
          { db: trx, dialect: app.store.dialect },
          {
            actor: user.userId,
            action: 'feed.create',
            targetType: 'feed',
            targetId: created.id,
            detail: {
              name: created.name,
              kind: created.kind,
              location: created.location,
              scheduleSeconds: created.scheduleSeconds,
            },
          },
          now,
        );
        return created;
      });
      return reply.status(201).send(feedJson(feed));
    },
  );

  app.patch(
    '/:id',
    {
      config: { permission: 'feeds:write' },
      schema: {
        summary: 'Change a feed; a changed source or schedule makes it due at once',
        params: IdParams,
        body: UpdateBody,
        response: { 200: FeedJson },
      },
    },
    async (req) => {
      const user = userOf(req);
      const body = req.body;
      if (body.location !== undefined) await checkLocation(body.location);
      const old = await feedOr404(app, req.params.id);
      const now = app.now();
      const feed = await inTransaction(app.store.db, async (trx) => {
        const updated = await updateFeed(
          trx,
          old.id,
          {
            ...(body.name === undefined ? {} : { name: body.name }),
            ...(body.kind === undefined ? {} : { kind: body.kind }),
            ...(body.location === undefined ? {} : { location: body.location }),
            ...(body.scheduleSeconds === undefined ? {} : { scheduleSeconds: body.scheduleSeconds }),
            ...(body.enabled === undefined ? {} : { isEnabled: body.enabled }),
          },
          now,
        );
        await appendAuditEntry(
          { db: trx, dialect: app.store.dialect },
          {
            actor: user.userId,
            action: 'feed.update',
            targetType: 'feed',
            targetId: old.id,
            detail: { name: updated.name, changes: body },
          },
          now,
        );
        return updated;
      });
      return feedJson(feed);
    },
  );

  app.delete(
    '/:id',
    {
      config: { permission: 'feeds:write' },
      schema: {
        summary: 'Delete a feed; its advisories stay and belong to no feed',
        params: IdParams,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      const user = userOf(req);
      const feed = await feedOr404(app, req.params.id);
      const now = app.now();
      await inTransaction(app.store.db, async (trx) => {
        if (!(await deleteFeed(trx, feed.id))) {
          throw new PatchwardenError('FEED_NOT_FOUND', `feed ${req.params.id} does not exist`, 404);
        }
        await appendAuditEntry(
          { db: trx, dialect: app.store.dialect },
          {
            actor: user.userId,
            action: 'feed.delete',
            targetType: 'feed',
            targetId: feed.id,
            detail: { name: feed.name, location: feed.location },
          },
          now,
        );
      });
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/:id/sync',
    {
      config: { permission: 'feeds:sync' },
      schema: {
        summary:
          'Sync a feed now and wait for it: 200 with the outcome and counts (a failed load is status "failed"); ' +
          '409 FEED_SYNC_IN_PROGRESS when this or another replica is syncing it',
        params: IdParams,
        response: { 200: SyncResultJson },
      },
    },
    async (req) => {
      const user = userOf(req);
      const feed = await feedOr404(app, req.params.id);
      await appendAuditEntry(
        app.store,
        {
          actor: user.userId,
          action: 'feed.sync',
          targetType: 'feed',
          targetId: feed.id,
          detail: { name: feed.name },
        },
        app.now(),
      );
      const result = await app.feedSync.syncFeed(feed.id);
      return {
        status: result.status,
        error: result.error,
        counts: result.counts,
        feed: feedJson(await feedOr404(app, feed.id)),
      };
    },
  );
}
