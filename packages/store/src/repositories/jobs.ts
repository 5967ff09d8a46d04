import { randomUUID } from 'node:crypto';
import { PatchwardenError } from '@patchwarden/core';
import {
  type ExpressionBuilder,
  type Kysely,
  type RawBuilder,
  type Selectable,
  type SqlBool,
  sql,
} from 'kysely';
import {
  decodeCursor,
  encodeCursor,
  readJson,
  readOptionalTimestamp,
  readTimestamp,
  writeTimestamp,
} from '../codec.js';
import { forUpdateSkipLocked, type StoreDialect } from '../dialect.js';
import type { Database, HookPhase, JobHostsTable, JobKind, JobState, JobsTable } from '../schema.js';
import { inTransaction } from '../transaction.js';
import type { GroupScope } from './fleet.js';

// Jobs (docs/jobs.md): a job is created for a selector, which is resolved to hosts at once; each
// host's entry goes queued → sent → running → succeeded | failed | timed-out | cancelled. A host has
// at most one entry sent or running (a partial unique index holds it); the check-in claims the next.

export const JOB_KINDS: readonly JobKind[] = ['scan', 'install', 'upgrade', 'rollback', 'reboot', 'run-hook'];
/** Kinds that change packages: they take `dryRun` and run the group's pre/post hooks. */
export const PACKAGE_JOB_KINDS: readonly JobKind[] = ['install', 'upgrade', 'rollback'];
export const JOB_STATES: readonly JobState[] = [
  'queued',
  'sent',
  'running',
  'succeeded',
  'failed',
  'timed-out',
  'cancelled',
];
/** Why a job failed on a host, as the agent classifies the package manager's failure. */
export const JOB_FAILURE_REASONS = [
  'lock-held',
  'dependency-conflict',
  'maintainer-script',
  'download',
  'disk-full',
  'timeout',
  'hook-failed',
  'hook-missing',
  'unknown',
] as const;
export type JobFailureReason = (typeof JOB_FAILURE_REASONS)[number];

/** Most hosts one job may target. */
export const MAX_JOB_HOSTS = 5_000;
/** Most host ids one selector may list. */
export const MAX_JOB_HOST_IDS = 1_000;
/** Most packages an install names. */
export const MAX_JOB_PACKAGES = 500;
/** Most characters kept of each of stdout and stderr (64 KiB of ASCII). */
export const MAX_JOB_OUTPUT_CHARS = 65_536;
/** Most package versions a result lists before and after. */
export const MAX_JOB_RESULT_VERSIONS = 5_000;
export const DEFAULT_JOB_DEADLINE_SECONDS = 3_600;
export const MIN_JOB_DEADLINE_SECONDS = 60;
export const MAX_JOB_DEADLINE_SECONDS = 7 * 86_400;
export const JOB_DEFAULT_PAGE_SIZE = 50;
export const JOB_MAX_PAGE_SIZE = 500;
/** Most jobs one check-in hands out; a host runs one at a time. */
export const MAX_JOBS_PER_CLAIM = 1;

const UNFINISHED: readonly JobState[] = ['queued', 'sent', 'running'];
const ACTIVE: readonly JobState[] = ['sent', 'running'];
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,127}$/;
const INSERT_CHUNK = 500;

/**
 * Which hosts a job targets: `hostIds` (ids, or names that exactly one host has), or `groupId` (id or
 * name; with its subgroups) and/or `labels` (all must match).
 */
export interface JobSelector {
  hostIds?: string[];
  groupId?: string;
  labels?: Record<string, string>;
}

/** A package to install at an exact version; `version` null (rollbacks only) removes it. */
export interface JobPackage {
  name: string;
  architecture?: string | null;
  version: string | null;
}

export interface JobPayload {
  packages?: JobPackage[];
  /** The job a rollback undoes. */
  rollbackOf?: string;
  /** The hook a run-hook job runs. */
  hook?: string;
}

export interface NewJob {
  kind: JobKind;
  selector: JobSelector;
  packages?: JobPackage[];
  rollbackOf?: string;
  hook?: string;
  isDryRun?: boolean;
  /** Seconds from creation until unfinished entries time out; default 3,600. */
  deadlineSeconds?: number;
  /** User id, or null for the system. */
  createdBy: string | null;
  /** The groups whose hosts the creator may target; a selector reaching outside is FORBIDDEN. */
  scope: GroupScope;
  rolloutId?: string | null;
}

export type JobCounts = Record<JobState, number>;

export interface Job {
  id: string;
  kind: JobKind;
  payload: JobPayload;
  isDryRun: boolean;
  selector: JobSelector;
  rolloutId: string | null;
  createdBy: string | null;
  createdAt: Date;
  deadlineAt: Date;
  /** Hosts the selector resolved to. */
  hostCount: number;
  /** Entries per state (only the hosts in the reader's scope). */
  counts: JobCounts;
  /** No entry is queued, sent or running. */
  isFinished: boolean;
}

/** One package's version on a host; `version` null: not installed. */
export interface PackageVersion {
  name: string;
  architecture?: string | null;
  version: string | null;
}

/** What the agent reports for one job on its host. */
export interface JobResultInput {
  status: 'succeeded' | 'failed';
  exitCode: number | null;
  stdout?: string;
  stderr?: string;
  /** The agent cut the output before sending it. */
  stdoutTruncated?: boolean;
  stderrTruncated?: boolean;
  before?: PackageVersion[];
  after?: PackageVersion[];
  /** Required when `status` is failed. */
  failureReason?: JobFailureReason | null;
  message?: string | null;
  /** The agent's clock. */
  startedAt?: string | null;
  finishedAt?: string | null;
}

export interface JobResult {
  status: 'succeeded' | 'failed';
  exitCode: number | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  before: PackageVersion[];
  after: PackageVersion[];
  failureReason: JobFailureReason | null;
  message: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface JobHostEntry {
  jobId: string;
  hostId: string;
  /** Null when the host was deleted meanwhile (never: entries go with their host). */
  hostName: string | null;
  state: JobState;
  /** Times the entry was handed to the agent. */
  attempt: number;
  /** This host's own payload (a rollback's versions), or null for the job's. */
  payload: JobPayload | null;
  queuedAt: Date;
  deadlineAt: Date;
  sentAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  timedOutAt: Date | null;
  cancelledAt: Date | null;
  failureReason: JobFailureReason | null;
  /** The result arrived after the entry had timed out. */
  isLate: boolean;
  result: JobResult | null;
}

export interface JobDetail {
  job: Job;
  /** In ascending host id order. */
  hosts: JobHostEntry[];
  nextCursor: string | null;
}

export interface JobPage {
  /** Newest first. */
  jobs: Job[];
  nextCursor: string | null;
}

export interface HookSpec {
  name: string;
  command: string[];
  timeoutSeconds: number;
}

export interface GroupHook extends HookSpec {
  groupId: string;
  phase: HookPhase;
  createdAt: Date;
  updatedAt: Date;
}

/** What the agent gets for a job in its check-in reply. */
export interface ClaimedJob {
  id: string;
  kind: JobKind;
  rolloutId: string | null;
  /** 1 on first delivery; more when an entry sent but not started is sent again. */
  attempt: number;
  createdAt: Date;
  deadlineAt: Date;
  payload: {
    dryRun: boolean;
    packages?: JobPackage[];
    rollbackOf?: string;
    /** The hook a run-hook job runs. */
    hook?: HookSpec;
    /** The host's group hooks around a package job (empty for other kinds). */
    hooks: { pre: HookSpec[]; post: HookSpec[] };
  };
}

type Store = { db: Kysely<Database>; dialect: StoreDialect };
type JobRow = Selectable<JobsTable>;
type EntryRow = Selectable<JobHostsTable>;

// --- create ------------------------------------------------------------------------------------

/**
 * Creates a job and one queued entry per host its selector resolves to, in one transaction.
 * Throws (nothing written): `EMPTY_SELECTOR` (400; a rollback without a selector targets the
 * original job's hosts), `HOST_NOT_FOUND`/`GROUP_NOT_FOUND`/`JOB_NOT_FOUND` (404), `FORBIDDEN` (403)
 * when a resolved host is outside `scope`, `NO_MATCHING_HOSTS`, `TOO_MANY_HOSTS`,
 * `PACKAGES_REQUIRED`, `PACKAGES_NOT_ALLOWED`, `ROLLBACK_OF_REQUIRED`, `HOOK_REQUIRED`,
 * `HOOK_NOT_CONFIGURED`, `DRY_RUN_NOT_SUPPORTED`, `INVALID_DEADLINE`, `INVALID_SELECTOR`,
 * `AMBIGUOUS_HOST`, `DUPLICATE_PACKAGE`, `TOO_MANY_PACKAGES` (400),
 * `JOB_NOT_ROLLBACKABLE`, `ROLLBACK_NOT_POSSIBLE` (409).
 */
export async function createJob(store: Store, input: NewJob, now: Date): Promise<JobDetail> {
  const payload = checkPayload(input);
  const deadlineSeconds = input.deadlineSeconds ?? DEFAULT_JOB_DEADLINE_SECONDS;
  if (
    !Number.isInteger(deadlineSeconds) ||
    deadlineSeconds < MIN_JOB_DEADLINE_SECONDS ||
    deadlineSeconds > MAX_JOB_DEADLINE_SECONDS
  ) {
    throw new PatchwardenError(
      'INVALID_DEADLINE',
      `the deadline must be ${MIN_JOB_DEADLINE_SECONDS} to ${MAX_JOB_DEADLINE_SECONDS} seconds, got ${deadlineSeconds}`,
      400,
    );
  }
  const selector = normaliseSelector(input.selector);
  return inTransaction(store.db, async (trx) => {
    const rollback =
      input.kind === 'rollback' ? await loadRollbackSource(trx, payload.rollbackOf ?? '') : null;
    const isSelectorEmpty =
      selector.hostIds === undefined && selector.groupId === undefined && selector.labels === undefined;
    let hosts: TargetHost[];
    if (isSelectorEmpty) {
      if (rollback === null) {
        throw new PatchwardenError(
          'EMPTY_SELECTOR',
          'a job needs hosts, a group or labels to select its hosts',
          400,
        );
      }
      hosts = await hostsOf(trx, [...rollback.keys()]);
    } else {
      hosts = await resolveSelector(trx, store.dialect, selector, input.scope);
    }
    if (hosts.length === 0) {
      throw new PatchwardenError('NO_MATCHING_HOSTS', 'the selector matches no host', 400);
    }
    if (hosts.length > MAX_JOB_HOSTS) {
      throw new PatchwardenError(
        'TOO_MANY_HOSTS',
        `the selector matches more than ${MAX_JOB_HOSTS} hosts; narrow it or split the job`,
        400,
      );
    }
    checkScope(hosts, input.scope);
    const perHost = new Map<string, JobPayload>();
    if (rollback !== null) {
      const missing = hosts.filter((h) => !rollback.has(h.id)).map((h) => h.name);
      if (missing.length > 0) {
        throw new PatchwardenError(
          'ROLLBACK_NOT_POSSIBLE',
          `job ${payload.rollbackOf} has no result with versions for ${listNames(missing)}`,
          409,
        );
      }
      for (const host of hosts) {
        perHost.set(host.id, { rollbackOf: payload.rollbackOf ?? '', packages: rollback.get(host.id) ?? [] });
      }
    }
    if (input.kind === 'run-hook') {
      const resolver = await loadHookResolver(trx);
      const missing = hosts
        .filter((h) => resolver.hooksOf(h.groupId).get(payload.hook ?? '') === undefined)
        .map((h) => h.name);
      if (missing.length > 0) {
        throw new PatchwardenError(
          'HOOK_NOT_CONFIGURED',
          `no hook ${payload.hook} is configured for the group of ${listNames(missing)}`,
          400,
        );
      }
    }
    const id = randomUUID();
    const createdAt = writeTimestamp(now);
    const deadlineAt = writeTimestamp(new Date(now.getTime() + deadlineSeconds * 1000));
    await trx
      .insertInto('jobs')
      .values({
        id,
        kind: input.kind,
        payload: JSON.stringify(payload),
        is_dry_run: input.isDryRun === true ? 1 : 0,
        selector: JSON.stringify(isSelectorEmpty ? { rollbackOf: payload.rollbackOf } : selector),
        rollout_id: input.rolloutId ?? null,
        created_by: input.createdBy,
        created_at: createdAt,
        deadline_at: deadlineAt,
        host_count: hosts.length,
      })
      .execute();
    for (let i = 0; i < hosts.length; i += INSERT_CHUNK) {
      await trx
        .insertInto('job_hosts')
        .values(
          hosts.slice(i, i + INSERT_CHUNK).map((host) => {
            const own = perHost.get(host.id);
            return {
              job_id: id,
              host_id: host.id,
              state: 'queued' as const,
              payload: own === undefined ? null : JSON.stringify(own),
              queued_at: createdAt,
              deadline_at: deadlineAt,
            };
          }),
        )
        .execute();
    }
    const detail = await getJob(trx, 'all', id, { limit: JOB_MAX_PAGE_SIZE });
    if (detail === null) {
      throw new Error(`job ${id} vanished in its own transaction`);
    }
    return detail;
  });
}

function checkPayload(input: NewJob): JobPayload {
  if (!JOB_KINDS.includes(input.kind)) {
    throw new PatchwardenError('INVALID_JOB_KIND', `unknown job kind ${JSON.stringify(input.kind)}`, 400);
  }
  const hasPackages = input.packages !== undefined && input.packages.length > 0;
  if (input.kind === 'install') {
    if (!hasPackages) {
      throw new PatchwardenError(
        'PACKAGES_REQUIRED',
        'an install job needs packages with exact versions',
        400,
      );
    }
  } else if (input.packages !== undefined) {
    throw new PatchwardenError('PACKAGES_NOT_ALLOWED', `a ${input.kind} job takes no packages`, 400);
  }
  if (input.kind === 'rollback' && (input.rollbackOf === undefined || input.rollbackOf === '')) {
    throw new PatchwardenError('ROLLBACK_OF_REQUIRED', 'a rollback job needs the id of the job to undo', 400);
  }
  if (input.kind !== 'rollback' && input.rollbackOf !== undefined) {
    throw new PatchwardenError('INVALID_JOB', `a ${input.kind} job takes no rollbackOf`, 400);
  }
  if (input.kind === 'run-hook' && (input.hook === undefined || input.hook === '')) {
    throw new PatchwardenError('HOOK_REQUIRED', 'a run-hook job needs the name of a hook', 400);
  }
  if (input.kind !== 'run-hook' && input.hook !== undefined) {
    throw new PatchwardenError('INVALID_JOB', `a ${input.kind} job takes no hook`, 400);
  }
  if (input.isDryRun === true && !PACKAGE_JOB_KINDS.includes(input.kind)) {
    throw new PatchwardenError(
      'DRY_RUN_NOT_SUPPORTED',
      `dry run is for jobs that change packages (install, upgrade, rollback), not ${input.kind}`,
      400,
    );
  }
  const packages = input.packages ?? [];
  if (packages.length > MAX_JOB_PACKAGES) {
    throw new PatchwardenError('TOO_MANY_PACKAGES', `a job names at most ${MAX_JOB_PACKAGES} packages`, 400);
  }
  const seen = new Set<string>();
  for (const pkg of packages) {
    if (pkg.version === null || pkg.version === '' || pkg.name === '') {
      throw new PatchwardenError(
        'INVALID_PACKAGE',
        `package ${pkg.name} needs a name and an exact version`,
        400,
      );
    }
    const key = `${pkg.name}\u0000${pkg.architecture ?? ''}`;
    if (seen.has(key)) {
      throw new PatchwardenError('DUPLICATE_PACKAGE', `package ${pkg.name} is named twice`, 400);
    }
    seen.add(key);
  }
  return {
    ...(input.kind === 'install'
      ? {
          packages: packages.map((p) => ({
            name: p.name,
            ...(p.architecture == null ? {} : { architecture: p.architecture }),
            version: p.version,
          })),
        }
      : {}),
    ...(input.kind === 'rollback' ? { rollbackOf: input.rollbackOf } : {}),
    ...(input.kind === 'run-hook' ? { hook: input.hook } : {}),
  };
}

function normaliseSelector(selector: JobSelector): JobSelector {
  const out: JobSelector = {};
  if (selector.hostIds !== undefined && selector.hostIds.length > 0) {
    if (selector.hostIds.length > MAX_JOB_HOST_IDS) {
      throw new PatchwardenError(
        'TOO_MANY_HOSTS',
        `a selector lists at most ${MAX_JOB_HOST_IDS} host ids`,
        400,
      );
    }
    out.hostIds = [...new Set(selector.hostIds)].sort();
  }
  if (selector.groupId !== undefined) {
    out.groupId = selector.groupId;
  }
  if (selector.labels !== undefined && Object.keys(selector.labels).length > 0) {
    for (const name of Object.keys(selector.labels)) {
      if (!LABEL_KEY.test(name)) {
        throw new PatchwardenError(
          'INVALID_SELECTOR',
          `label key ${JSON.stringify(name)} must be letters, digits and _ . - / (up to 128)`,
          400,
        );
      }
    }
    out.labels = Object.fromEntries(Object.entries(selector.labels).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
  if (out.hostIds !== undefined && (out.groupId !== undefined || out.labels !== undefined)) {
    throw new PatchwardenError(
      'INVALID_SELECTOR',
      'select hosts by id, or by group and/or labels, not both',
      400,
    );
  }
  return out;
}

interface TargetHost {
  id: string;
  name: string;
  groupId: string | null;
}

async function hostsOf(db: Kysely<Database>, ids: readonly string[]): Promise<TargetHost[]> {
  const found: TargetHost[] = [];
  for (let i = 0; i < ids.length; i += INSERT_CHUNK) {
    const rows = await db
      .selectFrom('hosts')
      .select(['id', 'name', 'group_id'])
      .where('id', 'in', ids.slice(i, i + INSERT_CHUNK))
      .execute();
    found.push(...rows.map((r) => ({ id: r.id, name: r.name, groupId: r.group_id })));
  }
  return found.sort((a, b) => compareText(a.id, b.id));
}

async function resolveSelector(
  db: Kysely<Database>,
  dialect: StoreDialect,
  selector: JobSelector,
  scope: GroupScope,
): Promise<TargetHost[]> {
  if (selector.hostIds !== undefined) {
    const hosts = await hostsOf(db, selector.hostIds);
    const known = new Set(hosts.map((h) => h.id));
    const unknown = selector.hostIds.filter((id) => !known.has(id));
    // What is not a host id may be a host name, when exactly one host has it.
    const named =
      unknown.length === 0
        ? []
        : await db
            .selectFrom('hosts')
            .select(['id', 'name', 'group_id'])
            .where('name', 'in', unknown)
            .execute();
    const missing = unknown.filter((name) => !named.some((h) => h.name === name));
    if (missing.length > 0) {
      throw new PatchwardenError('HOST_NOT_FOUND', `host ${listNames(missing)} does not exist`, 404);
    }
    const ambiguous = unknown.filter((name) => named.filter((h) => h.name === name).length > 1);
    if (ambiguous.length > 0) {
      throw new PatchwardenError(
        'AMBIGUOUS_HOST',
        `several hosts are named ${listNames(ambiguous)}; select them by id`,
        400,
      );
    }
    for (const row of named) {
      if (!known.has(row.id)) {
        known.add(row.id);
        hosts.push({ id: row.id, name: row.name, groupId: row.group_id });
      }
    }
    return hosts.sort((a, b) => compareText(a.id, b.id));
  }
  const conditions: RawBuilder<SqlBool>[] = [];
  if (selector.groupId !== undefined) {
    const groups = await db.selectFrom('host_groups').select(['id', 'name', 'parent_id']).execute();
    // A group by id, or else by its (unique) name.
    const group =
      groups.find((g) => g.id === selector.groupId) ?? groups.find((g) => g.name === selector.groupId);
    if (group === undefined) {
      throw new PatchwardenError('GROUP_NOT_FOUND', `group ${selector.groupId} does not exist`, 404);
    }
    if (scope !== 'all' && !scope.includes(group.id)) {
      throw new PatchwardenError('FORBIDDEN', `this token lacks jobs:write for the group ${group.name}`, 403);
    }
    const ids = descendants(group.id, groups);
    conditions.push(sql<SqlBool>`hosts.group_id in (${sql.join(ids.map((id) => sql`${id}`))})`);
  }
  for (const [name, value] of Object.entries(selector.labels ?? {})) {
    conditions.push(
      dialect === 'postgres'
        ? sql<SqlBool>`(hosts.labels::jsonb ->> ${name}) = ${value}`
        : sql<SqlBool>`json_extract(hosts.labels, ${`$."${name}"`}) = ${value}`,
    );
  }
  const rows = await db
    .selectFrom('hosts')
    .select(['id', 'name', 'group_id'])
    .where(sql<SqlBool>`${sql.join(conditions, sql` and `)}`)
    .orderBy('id')
    .limit(MAX_JOB_HOSTS + 1)
    .execute();
  return rows.map((r) => ({ id: r.id, name: r.name, groupId: r.group_id }));
}

/** `groupId` and every group below it (by parent), cycles ignored. */
function descendants(groupId: string, groups: readonly { id: string; parent_id: string | null }[]): string[] {
  const out = new Set<string>([groupId]);
  const pending = [groupId];
  while (pending.length > 0) {
    const current = pending.pop();
    for (const group of groups) {
      if (group.parent_id === current && !out.has(group.id)) {
        out.add(group.id);
        pending.push(group.id);
      }
    }
  }
  return [...out].sort();
}

function checkScope(hosts: readonly TargetHost[], scope: GroupScope): void {
  if (scope === 'all') {
    return;
  }
  const outside = hosts.filter((h) => h.groupId === null || !scope.includes(h.groupId)).map((h) => h.name);
  if (outside.length > 0) {
    throw new PatchwardenError(
      'FORBIDDEN',
      `this token lacks jobs:write for ${listNames(outside)}; the selector reaches outside your groups`,
      403,
    );
  }
}

/** Per host of the original job, the versions to go back to (null: remove what it installed). */
async function loadRollbackSource(db: Kysely<Database>, jobId: string): Promise<Map<string, JobPackage[]>> {
  const job = await db
    .selectFrom('jobs')
    .select(['kind', 'is_dry_run'])
    .where('id', '=', jobId)
    .executeTakeFirst();
  if (job === undefined) {
    throw new PatchwardenError('JOB_NOT_FOUND', `job ${jobId} does not exist`, 404);
  }
  if (!PACKAGE_JOB_KINDS.includes(job.kind) || Number(job.is_dry_run) === 1) {
    throw new PatchwardenError(
      'JOB_NOT_ROLLBACKABLE',
      `job ${jobId} is ${Number(job.is_dry_run) === 1 ? 'a dry run' : `a ${job.kind} job`}; only jobs that changed packages can be rolled back`,
      409,
    );
  }
  const entries = await db
    .selectFrom('job_hosts')
    .select(['host_id', 'result'])
    .where('job_id', '=', jobId)
    .where('result', 'is not', null)
    .execute();
  const out = new Map<string, JobPackage[]>();
  for (const entry of entries) {
    const result = toResult(entry.result, jobId);
    if (result !== null) {
      out.set(entry.host_id, rollbackPackages(result));
    }
  }
  return out;
}

function rollbackPackages(result: JobResult): JobPackage[] {
  const key = (p: PackageVersion) => `${p.name}\u0000${p.architecture ?? ''}`;
  const before = new Map(result.before.map((p) => [key(p), p]));
  const after = new Map(result.after.map((p) => [key(p), p]));
  const out: JobPackage[] = [];
  for (const [k, b] of before) {
    if (after.get(k)?.version !== b.version) {
      out.push({
        name: b.name,
        ...(b.architecture == null ? {} : { architecture: b.architecture }),
        version: b.version,
      });
    }
  }
  for (const [k, a] of after) {
    if (!before.has(k) && a.version !== null) {
      out.push({
        name: a.name,
        ...(a.architecture == null ? {} : { architecture: a.architecture }),
        version: null,
      });
    }
  }
  return out.sort((x, y) => compareText(key(x), key(y)));
}

// --- read --------------------------------------------------------------------------------------

/** One page of jobs, newest first, that target at least one host in `scope`. */
export async function listJobs(
  db: Kysely<Database>,
  options: { scope: GroupScope; cursor?: string | null; limit?: number },
): Promise<JobPage> {
  const limit = options.limit ?? JOB_DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > JOB_MAX_PAGE_SIZE) {
    throw new PatchwardenError(
      'INVALID_PAGE_SIZE',
      `page size must be an integer from 1 to ${JOB_MAX_PAGE_SIZE}, got ${limit}`,
      400,
    );
  }
  const after = decodeJobCursor(options.cursor);
  let query = db
    .selectFrom('jobs')
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1);
  if (after !== null) {
    query = query.where(sql<SqlBool>`(jobs.created_at, jobs.id) < (${after.createdAt}, ${after.id})`);
  }
  if (options.scope !== 'all') {
    query = query.where(
      sql<SqlBool>`exists (select 1 from job_hosts jh join hosts h on h.id = jh.host_id where jh.job_id = jobs.id and ${scopeCondition(options.scope, 'h.group_id')})`,
    );
  }
  const rows = await query.execute();
  const page = rows.slice(0, limit);
  const counts = await countEntries(
    db,
    options.scope,
    page.map((r) => r.id),
  );
  const jobs = page.map((row) => toJob(row, counts.get(row.id) ?? emptyCounts()));
  const last = page.at(-1);
  return {
    jobs,
    nextCursor: rows.length > limit && last !== undefined ? encodeJobCursor(last) : null,
  };
}

/**
 * A job with its entries on the hosts in `scope` (by host id, keyset-paged: `cursor` is the last
 * host id of the previous page); null when there is no such job or none of its hosts is in scope.
 */
export async function getJob(
  db: Kysely<Database>,
  scope: GroupScope,
  id: string,
  options: { cursor?: string | null; limit?: number } = {},
): Promise<JobDetail | null> {
  const limit = options.limit ?? JOB_DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > JOB_MAX_PAGE_SIZE) {
    throw new PatchwardenError(
      'INVALID_PAGE_SIZE',
      `page size must be an integer from 1 to ${JOB_MAX_PAGE_SIZE}, got ${limit}`,
      400,
    );
  }
  const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  if (row === undefined) {
    return null;
  }
  const counts = (await countEntries(db, scope, [id])).get(id);
  if (counts === undefined) {
    return null;
  }
  let query = db
    .selectFrom('job_hosts')
    .innerJoin('hosts', 'hosts.id', 'job_hosts.host_id')
    .selectAll('job_hosts')
    .select('hosts.name as host_name')
    .where('job_hosts.job_id', '=', id)
    .where(scopeCondition(scope, 'hosts.group_id'))
    .orderBy('job_hosts.host_id')
    .limit(limit + 1);
  if (options.cursor != null && options.cursor !== '') {
    query = query.where('job_hosts.host_id', '>', options.cursor);
  }
  const entries = await query.execute();
  const hosts = entries.slice(0, limit).map((e) => toEntry(e, e.host_name));
  return {
    job: toJob(row, counts),
    hosts,
    nextCursor: entries.length > limit ? (hosts.at(-1)?.hostId ?? null) : null,
  };
}

async function countEntries(
  db: Kysely<Database>,
  scope: GroupScope,
  jobIds: readonly string[],
): Promise<Map<string, JobCounts>> {
  const out = new Map<string, JobCounts>();
  if (jobIds.length === 0) {
    return out;
  }
  const rows = await db
    .selectFrom('job_hosts')
    .innerJoin('hosts', 'hosts.id', 'job_hosts.host_id')
    .select(['job_hosts.job_id', 'job_hosts.state', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('job_hosts.job_id', 'in', jobIds)
    .where(scopeCondition(scope, 'hosts.group_id'))
    .groupBy(['job_hosts.job_id', 'job_hosts.state'])
    .execute();
  for (const row of rows) {
    const counts = out.get(row.job_id) ?? emptyCounts();
    counts[row.state] = Number(row.n);
    out.set(row.job_id, counts);
  }
  return out;
}

// --- cancel ------------------------------------------------------------------------------------

/**
 * Cancels the job's entries that are still queued on hosts in `scope`; sent and running ones go on.
 * Returns the number cancelled, null when no host of the job is in scope (or there is no such job).
 * Throws `JOB_NOT_PENDING` (409) when nothing was left to cancel.
 */
export async function cancelJob(
  db: Kysely<Database>,
  scope: GroupScope,
  id: string,
  now: Date,
): Promise<{ cancelled: number } | null> {
  return inTransaction(db, async (trx) => {
    const counts = (await countEntries(trx, scope, [id])).get(id);
    if (counts === undefined) {
      return null;
    }
    const at = writeTimestamp(now);
    const updated = await trx
      .updateTable('job_hosts')
      .set({ state: 'cancelled', cancelled_at: at, finished_at: at })
      .where('job_id', '=', id)
      .where('state', '=', 'queued')
      .where(
        sql<SqlBool>`job_hosts.host_id in (select h.id from hosts h where ${scopeCondition(scope, 'h.group_id')})`,
      )
      .executeTakeFirst();
    const cancelled = Number(updated.numUpdatedRows);
    if (cancelled === 0) {
      throw new PatchwardenError(
        'JOB_NOT_PENDING',
        `job ${id} has no queued host left to cancel; sent and running jobs run to their end or deadline`,
        409,
      );
    }
    return { cancelled };
  });
}

// --- agent side --------------------------------------------------------------------------------

/**
 * The job(s) the host should run now, marked `sent`, for its check-in reply; at most `limit` (and at
 * most one, since a host runs one job at a time). An entry sent but not yet started is sent again
 * (jobs are idempotent; the agent knows them by id); a running one means nothing new. Overdue
 * entries of this host are timed out first. PostgreSQL: the host row and the claimed entry are
 * taken `FOR UPDATE SKIP LOCKED`, so a concurrent check-in of the same host gets nothing rather than
 * a second job. Runs in the caller's transaction when `store.db` is one.
 */
export async function claimJobsForHost(
  store: Store,
  hostId: string,
  now: Date,
  limit: number = MAX_JOBS_PER_CLAIM,
): Promise<ClaimedJob[]> {
  if (limit < 1) {
    return [];
  }
  // Most check-ins find nothing to do: one indexed probe (job_hosts_host_state_idx) settles that
  // without a transaction or a row lock. With no queued, sent or running entry there is nothing to
  // expire, resend or claim; an entry queued after the probe is picked up by the next check-in, as
  // it would be if it were queued just after the claim.
  if (!(await hasUnfinishedEntries(store.db, hostId))) {
    return [];
  }
  const at = writeTimestamp(now);
  return inTransaction(store.db, async (trx) => {
    const host = await forUpdateSkipLocked(
      trx.selectFrom('hosts').select(['id', 'group_id']).where('id', '=', hostId),
      store.dialect,
    ).executeTakeFirst();
    if (host === undefined) {
      return [];
    }
    await expireEntries(trx, now, hostId);
    const active = await trx
      .selectFrom('job_hosts')
      .selectAll()
      .where('host_id', '=', hostId)
      .where('state', 'in', ACTIVE)
      .executeTakeFirst();
    if (active?.state === 'running') {
      return [];
    }
    let resolver: HookResolver | null = null;
    const hooks = async () => {
      resolver ??= await loadHookResolver(trx);
      return resolver;
    };
    if (active !== undefined) {
      const resent = await trx
        .updateTable('job_hosts')
        .set({ attempt: Number(active.attempt) + 1, sent_at: at })
        .where('job_id', '=', active.job_id)
        .where('host_id', '=', hostId)
        .where('state', '=', 'sent')
        .returningAll()
        .executeTakeFirst();
      if (resent === undefined) {
        return [];
      }
      const job = await trx
        .selectFrom('jobs')
        .selectAll()
        .where('id', '=', resent.job_id)
        .executeTakeFirstOrThrow();
      const claimed = toClaimed(job, resent, (await hooks()).hooksOf(host.group_id));
      return claimed === null ? [] : [claimed];
    }
    // A queued run-hook entry whose hook was removed since is failed here and the next one taken.
    for (let tries = 0; tries < 10; tries += 1) {
      const next = await forUpdateSkipLocked(
        trx
          .selectFrom('job_hosts')
          .selectAll()
          .where('host_id', '=', hostId)
          .where('state', '=', 'queued')
          .where('deadline_at', '>', at)
          .orderBy('queued_at')
          .orderBy('job_id')
          .limit(1),
        store.dialect,
      ).executeTakeFirst();
      if (next === undefined) {
        return [];
      }
      const job = await trx
        .selectFrom('jobs')
        .selectAll()
        .where('id', '=', next.job_id)
        .executeTakeFirstOrThrow();
      const claimed = toClaimed(
        job,
        { ...next, attempt: Number(next.attempt) + 1 },
        (await hooks()).hooksOf(host.group_id),
      );
      if (claimed === null) {
        const hook = readPayload(job.payload, job.id).hook ?? '';
        await trx
          .updateTable('job_hosts')
          .set({
            state: 'failed',
            finished_at: at,
            failure_reason: 'hook-missing',
            result: JSON.stringify(
              normaliseResult({
                status: 'failed',
                exitCode: null,
                failureReason: 'hook-missing',
                message: `no hook ${hook} is configured for this host's group any more`,
              }),
            ),
          })
          .where('job_id', '=', next.job_id)
          .where('host_id', '=', hostId)
          .execute();
        continue;
      }
      await trx
        .updateTable('job_hosts')
        .set({ state: 'sent', attempt: claimed.attempt, sent_at: at })
        .where('job_id', '=', next.job_id)
        .where('host_id', '=', hostId)
        .where('state', '=', 'queued')
        .execute();
      return [claimed];
    }
    return [];
  });
}

/**
 * `exists(…)`: whether the host whose id is the column `hostIdColumn` (e.g. `hosts.id`) has a job
 * entry queued, sent or running, for a statement that reads the host anyway (a check-in's host
 * update), so a host without jobs costs no statement of its own. False means there is nothing to
 * claim (`claimJobsForHost` would return no job).
 */
export function unfinishedJobsExist(eb: ExpressionBuilder<Database, 'hosts'>, hostIdColumn: 'hosts.id') {
  return eb.exists(
    eb
      .selectFrom('job_hosts')
      .select('job_hosts.host_id')
      .whereRef('job_hosts.host_id', '=', hostIdColumn)
      .where('job_hosts.state', 'in', UNFINISHED),
  );
}

/** Whether the host has an entry that is queued, sent or running (the claim's only inputs). */
async function hasUnfinishedEntries(db: Kysely<Database>, hostId: string): Promise<boolean> {
  const row = await db
    .selectFrom('job_hosts')
    .select('host_id')
    .where('host_id', '=', hostId)
    .where('state', 'in', UNFINISHED)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** `claimJobsForHost` as the check-in reply needs it: at most one job. */
export function pendingJobsForCheckin(store: Store, hostId: string, now: Date): Promise<ClaimedJob[]> {
  return claimJobsForHost(store, hostId, now, MAX_JOBS_PER_CLAIM);
}

/**
 * The agent started the job: `sent` → `running`. Idempotent (running stays running; a finished or
 * timed-out entry is left as it is and returned). Throws `JOB_NOT_FOUND` (404) when the host has no
 * entry in that job, `JOB_NOT_SENT` (409) when it was never sent (queued or cancelled).
 */
export async function markJobStarted(
  db: Kysely<Database>,
  hostId: string,
  jobId: string,
  now: Date,
): Promise<JobHostEntry> {
  const at = writeTimestamp(now);
  await db
    .updateTable('job_hosts')
    .set({ state: 'running', started_at: at })
    .where('job_id', '=', jobId)
    .where('host_id', '=', hostId)
    .where('state', '=', 'sent')
    .execute();
  const entry = await readEntry(db, hostId, jobId);
  if (entry.state === 'queued' || entry.state === 'cancelled') {
    throw notSent(jobId, entry.state);
  }
  return entry;
}

/**
 * Records the agent's result for its entry in a job. Idempotent: the same result again is a
 * `duplicate` and changes nothing. A result for an entry that timed out is recorded (state from the
 * result, `isLate`), never dropped. Throws `JOB_NOT_FOUND` (404) when the host has no entry in the
 * job, `JOB_NOT_SENT` (409) for a queued or cancelled entry, `JOB_RESULT_CONFLICT` (409) when a
 * different result was already recorded, `INVALID_JOB_RESULT` (400) for a failure without a reason.
 * Output past `MAX_JOB_OUTPUT_CHARS` is cut and flagged.
 */
export async function recordJobResult(
  db: Kysely<Database>,
  hostId: string,
  jobId: string,
  input: JobResultInput,
  now: Date,
): Promise<{ entry: JobHostEntry; outcome: 'recorded' | 'late' | 'duplicate' }> {
  if (input.status === 'failed' && input.failureReason == null) {
    throw new PatchwardenError('INVALID_JOB_RESULT', 'a failed result needs a failureReason', 400);
  }
  if (input.status === 'succeeded' && input.failureReason != null) {
    throw new PatchwardenError('INVALID_JOB_RESULT', 'a succeeded result has no failureReason', 400);
  }
  const result = normaliseResult(input);
  const text = JSON.stringify(result);
  const at = writeTimestamp(now);
  // Conditional updates, so a concurrent expiry or duplicate never overwrites; a lost race re-reads.
  for (let tries = 0; tries < 3; tries += 1) {
    const current = await readEntry(db, hostId, jobId);
    if (current.state === 'queued' || current.state === 'cancelled') {
      throw notSent(jobId, current.state);
    }
    if (current.state === 'succeeded' || current.state === 'failed') {
      if (current.result !== null && JSON.stringify(current.result) === text) {
        return { entry: current, outcome: 'duplicate' };
      }
      throw new PatchwardenError(
        'JOB_RESULT_CONFLICT',
        `job ${jobId} already has a different result for this host`,
        409,
      );
    }
    const isLate = current.state === 'timed-out';
    const updated = await db
      .updateTable('job_hosts')
      .set({
        state: result.status,
        result: text,
        failure_reason: result.failureReason,
        finished_at: at,
        is_late: isLate ? 1 : 0,
      })
      .where('job_id', '=', jobId)
      .where('host_id', '=', hostId)
      .where('state', '=', current.state)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 1) {
      return { entry: await readEntry(db, hostId, jobId), outcome: isLate ? 'late' : 'recorded' };
    }
  }
  throw new PatchwardenError(
    'JOB_BUSY',
    `job ${jobId} changed while its result was recorded; send it again`,
    503,
  );
}

/**
 * Times out every entry (fleet-wide) still queued, sent or running at its deadline. Returns how many.
 * Idempotent; safe on several replicas at once.
 */
export async function expireJobs(db: Kysely<Database>, now: Date): Promise<number> {
  return expireEntries(db, now, null);
}

async function expireEntries(db: Kysely<Database>, now: Date, hostId: string | null): Promise<number> {
  const at = writeTimestamp(now);
  let query = db
    .updateTable('job_hosts')
    .set({ state: 'timed-out', timed_out_at: at, finished_at: at })
    .where('state', 'in', UNFINISHED)
    .where('deadline_at', '<=', at);
  if (hostId !== null) {
    query = query.where('host_id', '=', hostId);
  }
  const updated = await query.executeTakeFirst();
  return Number(updated.numUpdatedRows);
}

async function readEntry(db: Kysely<Database>, hostId: string, jobId: string): Promise<JobHostEntry> {
  const row = await db
    .selectFrom('job_hosts')
    .innerJoin('hosts', 'hosts.id', 'job_hosts.host_id')
    .selectAll('job_hosts')
    .select('hosts.name as host_name')
    .where('job_hosts.job_id', '=', jobId)
    .where('job_hosts.host_id', '=', hostId)
    .executeTakeFirst();
  if (row === undefined) {
    throw new PatchwardenError('JOB_NOT_FOUND', `job ${jobId} does not exist for this host`, 404);
  }
  return toEntry(row, row.host_name);
}

function notSent(jobId: string, state: JobState): PatchwardenError {
  return new PatchwardenError(
    'JOB_NOT_SENT',
    `job ${jobId} was never sent to this host (it is ${state})`,
    409,
  );
}

function normaliseResult(input: JobResultInput): JobResult {
  const stdout = input.stdout ?? '';
  const stderr = input.stderr ?? '';
  const versions = (list: PackageVersion[] | undefined) =>
    (list ?? []).slice(0, MAX_JOB_RESULT_VERSIONS).map((p) => ({
      name: p.name,
      architecture: p.architecture ?? null,
      version: p.version,
    }));
  return {
    status: input.status,
    exitCode: input.exitCode,
    stdout: stdout.slice(0, MAX_JOB_OUTPUT_CHARS),
    stderr: stderr.slice(0, MAX_JOB_OUTPUT_CHARS),
    stdoutTruncated: input.stdoutTruncated === true || stdout.length > MAX_JOB_OUTPUT_CHARS,
    stderrTruncated: input.stderrTruncated === true || stderr.length > MAX_JOB_OUTPUT_CHARS,
    before: versions(input.before),
    after: versions(input.after),
    failureReason: input.failureReason ?? null,
    message: input.message ?? null,
    startedAt: input.startedAt ?? null,
    finishedAt: input.finishedAt ?? null,
  };
}

// --- hooks -------------------------------------------------------------------------------------

/**
 * Adds or replaces the hook `name` of a group. `command` is an argv (run without a shell). Throws
 * `GROUP_NOT_FOUND` (404), `INVALID_HOOK` (400) for an empty command or a timeout outside 1..3,600 s.
 */
export async function setGroupHook(
  db: Kysely<Database>,
  hook: { groupId: string; name: string; phase: HookPhase; command: string[]; timeoutSeconds: number },
  now: Date,
): Promise<GroupHook> {
  if (hook.command.length === 0 || hook.command[0] === '') {
    throw new PatchwardenError('INVALID_HOOK', `hook ${hook.name} needs a command`, 400);
  }
  if (!Number.isInteger(hook.timeoutSeconds) || hook.timeoutSeconds < 1 || hook.timeoutSeconds > 3_600) {
    throw new PatchwardenError('INVALID_HOOK', `hook ${hook.name}: timeout must be 1 to 3600 seconds`, 400);
  }
  if (!['pre', 'post', 'manual'].includes(hook.phase)) {
    throw new PatchwardenError('INVALID_HOOK', `hook ${hook.name}: phase must be pre, post or manual`, 400);
  }
  return inTransaction(db, async (trx) => {
    const group = await trx
      .selectFrom('host_groups')
      .select('id')
      .where('id', '=', hook.groupId)
      .executeTakeFirst();
    if (group === undefined) {
      throw new PatchwardenError('GROUP_NOT_FOUND', `group ${hook.groupId} does not exist`, 404);
    }
    const at = writeTimestamp(now);
    const row = await trx
      .insertInto('group_hooks')
      .values({
        group_id: hook.groupId,
        name: hook.name,
        phase: hook.phase,
        command: JSON.stringify(hook.command),
        timeout_seconds: hook.timeoutSeconds,
        created_at: at,
        updated_at: at,
      })
      .onConflict((oc) =>
        oc.columns(['group_id', 'name']).doUpdateSet({
          phase: hook.phase,
          command: JSON.stringify(hook.command),
          timeout_seconds: hook.timeoutSeconds,
          updated_at: at,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return toGroupHook(row);
  });
}

/** The hooks configured on a group itself (not inherited), by name. */
export async function listGroupHooks(db: Kysely<Database>, groupId: string): Promise<GroupHook[]> {
  const rows = await db
    .selectFrom('group_hooks')
    .selectAll()
    .where('group_id', '=', groupId)
    .orderBy('name')
    .execute();
  return rows.map(toGroupHook);
}

/** Removes a group's hook; false when there was none. */
export async function deleteGroupHook(db: Kysely<Database>, groupId: string, name: string): Promise<boolean> {
  const deleted = await db
    .deleteFrom('group_hooks')
    .where('group_id', '=', groupId)
    .where('name', '=', name)
    .executeTakeFirst();
  return Number(deleted.numDeletedRows) > 0;
}

interface ResolvedHook extends HookSpec {
  phase: HookPhase;
}

interface HookResolver {
  /** The hooks a host of `groupId` has: its group's and its ancestors', the nearest winning by name. */
  hooksOf(groupId: string | null): Map<string, ResolvedHook>;
}

async function loadHookResolver(db: Kysely<Database>): Promise<HookResolver> {
  const groups = await db.selectFrom('host_groups').select(['id', 'parent_id']).execute();
  const rows = await db.selectFrom('group_hooks').selectAll().execute();
  const parents = new Map(groups.map((g) => [g.id, g.parent_id]));
  const byGroup = new Map<string, ResolvedHook[]>();
  for (const row of rows) {
    const hook = toGroupHook(row);
    byGroup.set(row.group_id, [
      ...(byGroup.get(row.group_id) ?? []),
      { name: hook.name, phase: hook.phase, command: hook.command, timeoutSeconds: hook.timeoutSeconds },
    ]);
  }
  return {
    hooksOf(groupId) {
      const out = new Map<string, ResolvedHook>();
      const seen = new Set<string>();
      let current = groupId;
      while (current !== null && !seen.has(current)) {
        seen.add(current);
        for (const hook of byGroup.get(current) ?? []) {
          if (!out.has(hook.name)) {
            out.set(hook.name, hook);
          }
        }
        current = parents.get(current) ?? null;
      }
      return out;
    },
  };
}

function toGroupHook(row: Selectable<Database['group_hooks']>): GroupHook {
  return {
    groupId: row.group_id,
    name: row.name,
    phase: row.phase,
    command: readJson(row.command, 'group_hooks.command') as string[],
    timeoutSeconds: Number(row.timeout_seconds),
    createdAt: readTimestamp(row.created_at),
    updatedAt: readTimestamp(row.updated_at),
  };
}

// --- rows --------------------------------------------------------------------------------------

/** The agent's view of an entry, or null for a run-hook job whose hook is not configured. */
function toClaimed(job: JobRow, entry: EntryRow, hooks: Map<string, ResolvedHook>): ClaimedJob | null {
  const payload = readPayload(entry.payload ?? job.payload, job.id);
  const spec = (h: ResolvedHook): HookSpec => ({
    name: h.name,
    command: h.command,
    timeoutSeconds: h.timeoutSeconds,
  });
  let hook: HookSpec | undefined;
  if (job.kind === 'run-hook') {
    const found = hooks.get(payload.hook ?? '');
    if (found === undefined) {
      return null;
    }
    hook = spec(found);
  }
  const isPackageJob = PACKAGE_JOB_KINDS.includes(job.kind);
  const all = [...hooks.values()].sort((a, b) => compareText(a.name, b.name));
  return {
    id: job.id,
    kind: job.kind,
    rolloutId: job.rollout_id,
    attempt: Number(entry.attempt),
    createdAt: readTimestamp(job.created_at),
    deadlineAt: readTimestamp(entry.deadline_at),
    payload: {
      dryRun: Number(job.is_dry_run) === 1,
      ...(payload.packages === undefined ? {} : { packages: payload.packages }),
      ...(payload.rollbackOf === undefined ? {} : { rollbackOf: payload.rollbackOf }),
      ...(hook === undefined ? {} : { hook }),
      hooks: {
        pre: isPackageJob ? all.filter((h) => h.phase === 'pre').map(spec) : [],
        post: isPackageJob ? all.filter((h) => h.phase === 'post').map(spec) : [],
      },
    },
  };
}

function toJob(row: JobRow, counts: JobCounts): Job {
  return {
    id: row.id,
    kind: row.kind,
    payload: readPayload(row.payload, row.id),
    isDryRun: Number(row.is_dry_run) === 1,
    selector: readJson(row.selector, `jobs.selector of ${row.id}`) as JobSelector,
    rolloutId: row.rollout_id,
    createdBy: row.created_by,
    createdAt: readTimestamp(row.created_at),
    deadlineAt: readTimestamp(row.deadline_at),
    hostCount: Number(row.host_count),
    counts,
    isFinished: UNFINISHED.every((state) => counts[state] === 0),
  };
}

function toEntry(row: EntryRow, hostName: string | null): JobHostEntry {
  return {
    jobId: row.job_id,
    hostId: row.host_id,
    hostName,
    state: row.state,
    attempt: Number(row.attempt),
    payload: row.payload === null ? null : readPayload(row.payload, row.job_id),
    queuedAt: readTimestamp(row.queued_at),
    deadlineAt: readTimestamp(row.deadline_at),
    sentAt: readOptionalTimestamp(row.sent_at),
    startedAt: readOptionalTimestamp(row.started_at),
    finishedAt: readOptionalTimestamp(row.finished_at),
    timedOutAt: readOptionalTimestamp(row.timed_out_at),
    cancelledAt: readOptionalTimestamp(row.cancelled_at),
    failureReason: row.failure_reason as JobFailureReason | null,
    isLate: Number(row.is_late) === 1,
    result: toResult(row.result, row.job_id),
  };
}

function toResult(text: string | null, jobId: string): JobResult | null {
  return text === null ? null : (readJson(text, `job_hosts.result of ${jobId}`) as JobResult);
}

function readPayload(text: string, jobId: string): JobPayload {
  return readJson(text, `jobs.payload of ${jobId}`) as JobPayload;
}

function emptyCounts(): JobCounts {
  return { queued: 0, sent: 0, running: 0, succeeded: 0, failed: 0, 'timed-out': 0, cancelled: 0 };
}

function scopeCondition(scope: GroupScope, column: string): RawBuilder<SqlBool> {
  if (scope === 'all') {
    return sql<SqlBool>`1 = 1`;
  }
  return scope.length === 0
    ? sql<SqlBool>`1 = 0`
    : sql<SqlBool>`${sql.ref(column)} in (${sql.join(scope.map((g) => sql`${g}`))})`;
}

/** The cursor after the last job of a page: `[createdAt ISO, id]`. */
function encodeJobCursor(row: JobRow): string {
  return encodeCursor([readTimestamp(row.created_at).toISOString(), row.id]);
}

function decodeJobCursor(cursor: string | null | undefined): { createdAt: string; id: string } | null {
  const parts = decodeCursor(
    cursor,
    (p) =>
      p.length === 2 &&
      typeof p[0] === 'string' &&
      typeof p[1] === 'string' &&
      !Number.isNaN(Date.parse(p[0])),
    'the cursor is not one the job list returned; start again without it',
  );
  return parts === null ? null : { createdAt: parts[0] as string, id: parts[1] as string };
}

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, 5).join(', ');
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
