import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PatchwardenError } from '@patchwarden/core';
import {
  appendAuditEntry,
  cancelJob,
  createJob,
  deleteGroupHook,
  expireJobs,
  type GroupHook,
  getHostGroup,
  getJob,
  inTransaction,
  JOB_FAILURE_REASONS,
  JOB_MAX_PAGE_SIZE,
  JOB_STATES,
  type Job,
  type JobHostEntry,
  LOCK_KEYS,
  listGroupHooks,
  listJobs,
  MAX_JOB_DEADLINE_SECONDS,
  MAX_JOB_HOST_IDS,
  MAX_JOB_OUTPUT_CHARS,
  MAX_JOB_PACKAGES,
  MAX_JOB_RESULT_VERSIONS,
  MIN_JOB_DEADLINE_SECONDS,
  markJobStarted,
  recordJobResult,
  type Store,
  setGroupHook,
  withExclusiveLock,
} from '@patchwarden/store';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { type Static, type TSchema, Type } from 'typebox';
import { agentOf, assertHostAccess, groupScope, userOf } from '../../plugins/auth.js';
import type { ScheduledTask } from '../../scheduler.js';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });
const Id = Type.String({ minLength: 1, maxLength: 200 });
const LABEL_KEY_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.\\-/]{0,127}$';
const HOOK_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}$';
const PackageName = Type.String({ minLength: 1, maxLength: 256 });
const Architecture = Type.String({ minLength: 1, maxLength: 64 });
const Version = Type.String({ minLength: 1, maxLength: 256 });

const JobKindSchema = Type.Union([
  Type.Literal('scan'),
  Type.Literal('install'),
  Type.Literal('upgrade'),
  Type.Literal('rollback'),
  Type.Literal('reboot'),
  Type.Literal('run-hook'),
]);
const JobStateSchema = Type.Union([
  Type.Literal('queued'),
  Type.Literal('sent'),
  Type.Literal('running'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('timed-out'),
  Type.Literal('cancelled'),
]);
const FailureReasonSchema = Type.Union(JOB_FAILURE_REASONS.map((r) => Type.Literal(r)));
// The two unions above spell out the store's JobKind and JobState; jobJson and entryJson fail to
// compile when the store gains one they lack.

const CreateJobBody = Type.Object(
  {
    kind: JobKindSchema,
    hosts: Type.Optional(
      Type.Array(Id, {
        maxItems: MAX_JOB_HOST_IDS,
        description: 'host ids, or names that exactly one host has',
      }),
    ),
    group: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'group id or name; subgroups included' }),
    ),
    labels: Type.Optional(
      Type.Record(Type.String({ pattern: LABEL_KEY_PATTERN }), Type.String({ maxLength: 256 }), {
        maxProperties: 20,
        description: 'every label must match',
      }),
    ),
    packages: Type.Optional(
      Type.Array(
        Type.Object(
          { name: PackageName, version: Version, architecture: Type.Optional(Architecture) },
          { additionalProperties: false },
        ),
        { maxItems: MAX_JOB_PACKAGES, description: 'install: exact versions' },
      ),
    ),
    rollbackOf: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'rollback: the job to undo' }),
    ),
    hook: Type.Optional(Type.String({ pattern: HOOK_NAME_PATTERN, description: 'run-hook: the hook name' })),
    dryRun: Type.Optional(
      Type.Boolean({ description: "install, upgrade, rollback: the package manager's simulation" }),
    ),
    deadlineSeconds: Type.Optional(
      Type.Integer({
        minimum: MIN_JOB_DEADLINE_SECONDS,
        maximum: MAX_JOB_DEADLINE_SECONDS,
        description: 'default 3600',
      }),
    ),
  },
  { additionalProperties: false },
);

const PackageJson = Type.Object({
  name: Type.String(),
  architecture: Type.Optional(Nullable(Type.String())),
  version: Nullable(Type.String()),
});

const Counts = Type.Object(Object.fromEntries(JOB_STATES.map((s) => [s, Type.Integer()])));

const JobJson = Type.Object({
  id: Type.String(),
  kind: JobKindSchema,
  state: Type.Union([Type.Literal('pending'), Type.Literal('finished')], {
    description: 'finished: no host is queued, sent or running',
  }),
  dryRun: Type.Boolean(),
  packages: Nullable(Type.Array(PackageJson)),
  rollbackOf: Nullable(Type.String()),
  hook: Nullable(Type.String()),
  selector: Type.Object({
    hostIds: Type.Optional(Type.Array(Type.String())),
    groupId: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    rollbackOf: Type.Optional(Type.String()),
  }),
  rolloutId: Nullable(Type.String()),
  createdBy: Nullable(Type.String()),
  createdAt: DateTime,
  deadlineAt: DateTime,
  hostCount: Type.Integer(),
  counts: Counts,
});

const ResultJson = Type.Object({
  status: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]),
  exitCode: Nullable(Type.Integer()),
  stdout: Type.String(),
  stderr: Type.String(),
  stdoutTruncated: Type.Boolean(),
  stderrTruncated: Type.Boolean(),
  before: Type.Array(PackageJson),
  after: Type.Array(PackageJson),
  failureReason: Nullable(Type.String()),
  message: Nullable(Type.String()),
  startedAt: Nullable(Type.String()),
  finishedAt: Nullable(Type.String()),
});

const EntryJson = Type.Object({
  hostId: Type.String(),
  hostName: Nullable(Type.String()),
  state: JobStateSchema,
  attempt: Type.Integer(),
  packages: Nullable(Type.Array(PackageJson, { description: "this host's own packages (a rollback's)" })),
  queuedAt: DateTime,
  deadlineAt: DateTime,
  sentAt: Nullable(DateTime),
  startedAt: Nullable(DateTime),
  finishedAt: Nullable(DateTime),
  timedOutAt: Nullable(DateTime),
  cancelledAt: Nullable(DateTime),
  late: Type.Boolean({ description: 'the result arrived after the entry had timed out' }),
  failureReason: Nullable(Type.String()),
  result: Nullable(ResultJson),
});

const JobDetailJson = Type.Object({
  job: JobJson,
  hosts: Type.Array(EntryJson),
  nextCursor: Nullable(Type.String({ description: 'pass as cursor for the next page of hosts' })),
});

const PageQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: JOB_MAX_PAGE_SIZE, description: 'default 50' })),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Id });

const VersionBody = Type.Object(
  {
    name: PackageName,
    architecture: Type.Optional(Nullable(Architecture)),
    version: Nullable(Version),
  },
  { additionalProperties: false },
);

/** The agent's result for one job; every field bounded. */
const ResultBody = Type.Object(
  {
    status: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]),
    exitCode: Nullable(Type.Integer({ minimum: -2_147_483_648, maximum: 2_147_483_647 })),
    stdout: Type.Optional(Type.String({ maxLength: MAX_JOB_OUTPUT_CHARS })),
    stderr: Type.Optional(Type.String({ maxLength: MAX_JOB_OUTPUT_CHARS })),
    stdoutTruncated: Type.Optional(Type.Boolean()),
    stderrTruncated: Type.Optional(Type.Boolean()),
    before: Type.Optional(Type.Array(VersionBody, { maxItems: MAX_JOB_RESULT_VERSIONS })),
    after: Type.Optional(Type.Array(VersionBody, { maxItems: MAX_JOB_RESULT_VERSIONS })),
    failureReason: Type.Optional(Nullable(FailureReasonSchema)),
    message: Type.Optional(Nullable(Type.String({ maxLength: 4096 }))),
    startedAt: Type.Optional(Nullable(DateTime)),
    finishedAt: Type.Optional(Nullable(DateTime)),
  },
  { additionalProperties: false },
);

const ResultReply = Type.Object({
  state: JobStateSchema,
  outcome: Type.Union([Type.Literal('recorded'), Type.Literal('late'), Type.Literal('duplicate')]),
  late: Type.Boolean(),
});

const HookParams = Type.Object({
  group: Type.String({ minLength: 1, maxLength: 200, description: 'group id' }),
  name: Type.String({ pattern: HOOK_NAME_PATTERN }),
});

const HookBody = Type.Object(
  {
    phase: Type.Union([Type.Literal('pre'), Type.Literal('post'), Type.Literal('manual')], {
      description: 'pre/post: around every job that changes packages; manual: run-hook jobs only',
    }),
    command: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), {
      minItems: 1,
      maxItems: 64,
      description: 'argv, run without a shell',
    }),
    timeoutSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
  },
  { additionalProperties: false },
);

const HookJson = Type.Object({
  groupId: Type.String(),
  name: Type.String(),
  phase: Type.String(),
  command: Type.Array(Type.String()),
  timeoutSeconds: Type.Integer(),
  createdAt: DateTime,
  updatedAt: DateTime,
});

/**
 * /api/v1/jobs: create a job for hosts, a group or labels (resolved to hosts at once), list and
 * inspect jobs with each host's state and output, cancel what is still queued. A caller sees and
 * targets only the hosts of the groups they hold jobs:read / jobs:write for.
 */
export async function jobsRoutes(plain: FastifyInstance): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/',
    {
      config: { permission: 'jobs:write' },
      schema: { body: CreateJobBody, response: { 201: JobDetailJson } },
    },
    async (req, reply) => {
      const actor = userOf(req);
      const body = req.body;
      const now = app.now();
      const detail = await inTransaction(app.store.db, async (trx) => {
        const created = await createJob(
          { db: trx, dialect: app.store.dialect },
          {
            kind: body.kind,
            selector: {
              ...(body.hosts === undefined ? {} : { hostIds: body.hosts }),
              ...(body.group === undefined ? {} : { groupId: body.group }),
              ...(body.labels === undefined ? {} : { labels: body.labels }),
            },
            ...(body.packages === undefined
              ? {}
              : {
                  packages: body.packages.map((p) => ({
                    name: p.name,
                    version: p.version,
                    architecture: p.architecture ?? null,
                  })),
                }),
            ...(body.rollbackOf === undefined ? {} : { rollbackOf: body.rollbackOf }),
            ...(body.hook === undefined ? {} : { hook: body.hook }),
            isDryRun: body.dryRun === true,
            ...(body.deadlineSeconds === undefined ? {} : { deadlineSeconds: body.deadlineSeconds }),
            createdBy: actor.userId,
            scope: groupScope(req, 'jobs:write'),
          },
          now,
        );
        await appendAuditEntry(
          { db: trx, dialect: app.store.dialect },
          {
            actor: actor.userId,
            action: 'job.create',
            targetType: 'job',
            targetId: created.job.id,
            detail: {
              kind: created.job.kind,
              dryRun: created.job.isDryRun,
              payload: created.job.payload,
              selector: created.job.selector,
              hostCount: created.job.hostCount,
            },
          },
          now,
        );
        return created;
      });
      req.log.info(
        { jobId: detail.job.id, kind: detail.job.kind, hostCount: detail.job.hostCount },
        'job created',
      );
      return reply.status(201).send(detailJson(detail));
    },
  );

  app.get(
    '/',
    {
      config: { permission: 'jobs:read' },
      schema: {
        querystring: PageQuery,
        response: { 200: Type.Object({ jobs: Type.Array(JobJson), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const page = await listJobs(app.store.db, {
        scope: groupScope(req, 'jobs:read'),
        cursor: req.query.cursor ?? null,
        ...(req.query.limit === undefined ? {} : { limit: req.query.limit }),
      });
      return { jobs: page.jobs.map(jobJson), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/:id',
    {
      config: { permission: 'jobs:read' },
      schema: { params: IdParams, querystring: PageQuery, response: { 200: JobDetailJson } },
    },
    async (req) => {
      const detail = await getJob(app.store.db, groupScope(req, 'jobs:read'), req.params.id, {
        cursor: req.query.cursor ?? null,
        ...(req.query.limit === undefined ? {} : { limit: req.query.limit }),
      });
      if (detail === null) {
        throw jobNotFound(req.params.id);
      }
      return detailJson(detail);
    },
  );

  app.post(
    '/:id/cancel',
    {
      config: { permission: 'jobs:write' },
      schema: {
        params: IdParams,
        response: { 200: Type.Object({ cancelled: Type.Integer(), job: JobJson }) },
      },
    },
    async (req) => {
      const actor = userOf(req);
      const now = app.now();
      const id = req.params.id;
      const writeScope = groupScope(req, 'jobs:write');
      const cancelled = await inTransaction(app.store.db, async (trx) => {
        const result = await cancelJob(trx, writeScope, id, now);
        if (result === null) {
          const readable = await getJob(trx, groupScope(req, 'jobs:read'), id, { limit: 1 });
          throw readable === null
            ? jobNotFound(id)
            : new PatchwardenError(
                'FORBIDDEN',
                `this token lacks jobs:write for the hosts of job ${id}`,
                403,
              );
        }
        await appendAuditEntry(
          { db: trx, dialect: app.store.dialect },
          {
            actor: actor.userId,
            action: 'job.cancel',
            targetType: 'job',
            targetId: id,
            detail: { cancelled: result.cancelled },
          },
          now,
        );
        return result.cancelled;
      });
      const detail = await getJob(app.store.db, groupScope(req, 'jobs:read'), id, { limit: 1 });
      if (detail === null) {
        throw jobNotFound(id);
      }
      req.log.info({ jobId: id, cancelled }, 'job cancelled');
      return { cancelled, job: jobJson(detail.job) };
    },
  );

  // Hooks run commands as root on every host of a group, so changing them is for holders of
  // groups:write (admins); reading them follows jobs:read for the group.
  app.get(
    '/hooks/:group',
    {
      config: { permission: 'jobs:read' },
      schema: {
        params: Type.Object({ group: HookParams.properties.group }),
        response: { 200: Type.Object({ hooks: Type.Array(HookJson) }) },
      },
    },
    async (req) => {
      await assertGroupExists(app.store, req.params.group);
      assertHostAccess(req, 'jobs:read', req.params.group);
      const hooks = await listGroupHooks(app.store.db, req.params.group);
      return { hooks: hooks.map(hookJson) };
    },
  );

  app.put(
    '/hooks/:group/:name',
    {
      config: { permission: 'groups:write' },
      schema: { params: HookParams, body: HookBody, response: { 200: HookJson } },
    },
    async (req) => {
      const actor = userOf(req);
      const now = app.now();
      const hook = await inTransaction(app.store.db, async (trx) => {
        const saved = await setGroupHook(
          trx,
          { groupId: req.params.group, name: req.params.name, ...req.body },
          now,
        );
        await appendAuditEntry(
          { db: trx, dialect: app.store.dialect },
          {
            actor: actor.userId,
            action: 'group-hook.set',
            targetType: 'group',
            targetId: req.params.group,
            detail: {
              name: saved.name,
              phase: saved.phase,
              command: saved.command,
              timeoutSeconds: saved.timeoutSeconds,
            },
          },
          now,
        );
        return saved;
      });
      return hookJson(hook);
    },
  );

  app.delete(
    '/hooks/:group/:name',
    {
      config: { permission: 'groups:write' },
      schema: { params: HookParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const actor = userOf(req);
      const now = app.now();
      await inTransaction(app.store.db, async (trx) => {
        if (!(await deleteGroupHook(trx, req.params.group, req.params.name))) {
          throw new PatchwardenError(
            'HOOK_NOT_FOUND',
            `group ${req.params.group} has no hook ${req.params.name}`,
            404,
          );
        }
        await appendAuditEntry(
          { db: trx, dialect: app.store.dialect },
          {
            actor: actor.userId,
            action: 'group-hook.delete',
            targetType: 'group',
            targetId: req.params.group,
            detail: { name: req.params.name },
          },
          now,
        );
      });
      return reply.status(204).send(null);
    },
  );
}

/**
 * /api/v1/agent/jobs: the agent reports on the jobs its check-in handed it. The host is the node
 * key's; a host can only report on its own entries.
 */
export async function agentJobsRoutes(plain: FastifyInstance): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/:id/started',
    {
      config: { auth: 'agent' },
      schema: { params: IdParams, response: { 200: Type.Object({ state: JobStateSchema }) } },
    },
    async (req) => {
      const { hostId } = agentOf(req);
      const entry = await markJobStarted(app.store.db, hostId, req.params.id, app.now());
      return { state: entry.state };
    },
  );

  app.post(
    '/:id/result',
    {
      config: { auth: 'agent' },
      schema: { params: IdParams, body: ResultBody, response: { 200: ResultReply } },
    },
    async (req) => {
      const { hostId } = agentOf(req);
      const now = app.now();
      const jobId = req.params.id;
      const body = req.body;
      const recorded = await inTransaction(app.store.db, async (trx) => {
        const result = await recordJobResult(
          trx,
          hostId,
          jobId,
          {
            status: body.status,
            exitCode: body.exitCode,
            ...(body.stdout === undefined ? {} : { stdout: body.stdout }),
            ...(body.stderr === undefined ? {} : { stderr: body.stderr }),
            ...(body.stdoutTruncated === undefined ? {} : { stdoutTruncated: body.stdoutTruncated }),
            ...(body.stderrTruncated === undefined ? {} : { stderrTruncated: body.stderrTruncated }),
            ...(body.before === undefined ? {} : { before: body.before }),
            ...(body.after === undefined ? {} : { after: body.after }),
            failureReason: body.failureReason ?? null,
            message: body.message ?? null,
            startedAt: body.startedAt ?? null,
            finishedAt: body.finishedAt ?? null,
          },
          now,
        );
        if (result.outcome !== 'duplicate') {
          await appendAuditEntry(
            { db: trx, dialect: app.store.dialect },
            {
              actor: `agent:${hostId}`,
              action: 'job.result',
              targetType: 'job',
              targetId: jobId,
              detail: {
                hostId,
                status: body.status,
                failureReason: body.failureReason ?? null,
                late: result.outcome === 'late',
              },
            },
            now,
          );
        }
        return result;
      });
      if (recorded.outcome === 'late') {
        req.log.warn({ jobId, hostId, status: body.status }, 'job result arrived after its deadline');
      } else if (body.status === 'failed') {
        req.log.info({ jobId, hostId, failureReason: body.failureReason }, 'job failed on host');
      }
      return { state: recorded.entry.state, outcome: recorded.outcome, late: recorded.entry.isLate };
    },
  );
}

/**
 * The scheduled task that times out job entries past their deadline (fleet-wide); on PostgreSQL one
 * replica at a time runs it (advisory lock `jobTimeouts`), though the update is safe to repeat.
 */
export function createJobExpiryTask(deps: {
  store: Store;
  log: FastifyBaseLogger;
  now: () => Date;
}): ScheduledTask {
  return {
    name: 'job-expiry',
    async run() {
      const outcome = await withExclusiveLock(deps.store.db, deps.store.dialect, LOCK_KEYS.jobTimeouts, () =>
        expireJobs(deps.store.db, deps.now()),
      );
      if (outcome.acquired && outcome.value > 0) {
        deps.log.info({ timedOut: outcome.value }, 'job entries timed out');
      }
      return outcome;
    },
  };
}

async function assertGroupExists(store: Store, groupId: string): Promise<void> {
  if ((await getHostGroup(store.db, groupId)) === null) {
    throw new PatchwardenError('GROUP_NOT_FOUND', `group ${groupId} does not exist`, 404);
  }
}

function hookJson(hook: GroupHook): Static<typeof HookJson> {
  return {
    groupId: hook.groupId,
    name: hook.name,
    phase: hook.phase,
    command: hook.command,
    timeoutSeconds: hook.timeoutSeconds,
    createdAt: hook.createdAt.toISOString(),
    updatedAt: hook.updatedAt.toISOString(),
  };
}

function jobNotFound(id: string): PatchwardenError {
  return new PatchwardenError('JOB_NOT_FOUND', `job ${id} does not exist`, 404);
}

function jobJson(job: Job): Static<typeof JobJson> {
  return {
    id: job.id,
    kind: job.kind,
    state: job.isFinished ? 'finished' : 'pending',
    dryRun: job.isDryRun,
    packages: job.payload.packages ?? null,
    rollbackOf: job.payload.rollbackOf ?? null,
    hook: job.payload.hook ?? null,
    selector: job.selector,
    rolloutId: job.rolloutId,
    createdBy: job.createdBy,
    createdAt: job.createdAt.toISOString(),
    deadlineAt: job.deadlineAt.toISOString(),
    hostCount: job.hostCount,
    counts: job.counts,
  };
}

function entryJson(entry: JobHostEntry): Static<typeof EntryJson> {
  const iso = (d: Date | null) => (d === null ? null : d.toISOString());
  return {
    hostId: entry.hostId,
    hostName: entry.hostName,
    state: entry.state,
    attempt: entry.attempt,
    packages: entry.payload?.packages ?? null,
    queuedAt: entry.queuedAt.toISOString(),
    deadlineAt: entry.deadlineAt.toISOString(),
    sentAt: iso(entry.sentAt),
    startedAt: iso(entry.startedAt),
    finishedAt: iso(entry.finishedAt),
    timedOutAt: iso(entry.timedOutAt),
    cancelledAt: iso(entry.cancelledAt),
    late: entry.isLate,
    failureReason: entry.failureReason,
    result: entry.result,
  };
}

function detailJson(detail: { job: Job; hosts: JobHostEntry[]; nextCursor: string | null }) {
  return { job: jobJson(detail.job), hosts: detail.hosts.map(entryJson), nextCursor: detail.nextCursor };
}
