import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  type EcosystemId,
  type InstalledPackage,
  listEcosystems,
  type OsIdentity,
  PatchwardenError,
  parseOsRelease,
} from '@patchwarden/core';
import {
  type AppliedInventory,
  appendAuditEntry,
  applyFullInventory,
  applyInventoryDelta,
  consumeEnrollmentSecret,
  createHost,
  createNodeKey,
  type Database,
  pendingJobsForCheckin,
  revokeNodeKeys,
  type Store,
  writeTimestamp,
} from '@patchwarden/store';
import type { FastifyBodyParser, FastifyInstance } from 'fastify';
import { type ControlledTransaction, type Kysely, sql } from 'kysely';
import { type Static, type TSchema, Type } from 'typebox';
import { generateSecret, hashSecret } from '../../auth/secrets.js';
import { agentOf } from '../../plugins/auth.js';

/** Most packages one inventory may list; a large server has a few thousand. */
export const MAX_INVENTORY_PACKAGES = 20_000;
/** Most packages one delta may name (upsert and remove each); a bigger change is sent as a full inventory. */
export const MAX_DELTA_PACKAGES = 5_000;

const Name = Type.String({ minLength: 1, maxLength: 256 });
const Ecosystem = Type.Union(listEcosystems().map((e) => Type.Literal(e.id)));

const PackageBody = Type.Object(
  {
    name: Name,
    version: Type.String({ minLength: 1, maxLength: 256 }),
    architecture: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
    source: Type.Optional(
      Type.Union([
        Type.Object(
          { name: Name, version: Type.String({ minLength: 1, maxLength: 256 }) },
          { additionalProperties: false },
        ),
        Type.Null(),
      ]),
    ),
    ecosystem: Ecosystem,
  },
  { additionalProperties: false },
);

const PackageIdentityBody = Type.Object(
  {
    name: Name,
    architecture: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
    ecosystem: Ecosystem,
  },
  { additionalProperties: false },
);

const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Text = Type.String({ maxLength: 256 });

/** Core's `OsIdentity`, as the agent normalised it. */
const OsBody = Type.Object(
  {
    family: Type.Union(['debian', 'rhel', 'suse', 'arch', 'alpine', 'unknown'].map((f) => Type.Literal(f))),
    distro: Type.String({ minLength: 1, maxLength: 64 }),
    version: nullable(Text),
    versionId: nullable(Text),
    codename: nullable(Text),
    prettyName: Text,
    ecosystem: nullable(Ecosystem),
  },
  { additionalProperties: false },
);

/** The host's OS: either normalised (`os`) or the raw text of /etc/os-release (`osRelease`). */
const OsFields = {
  os: Type.Optional(OsBody),
  osRelease: Type.Optional(Type.String({ minLength: 1, maxLength: 16_384 })),
};

const HostFacts = {
  kernel: Type.Optional(Type.String({ maxLength: 256 })),
  agentVersion: Type.Optional(Type.String({ maxLength: 64 })),
  rebootRequired: Type.Optional(Type.Boolean()),
  rebootPackages: Type.Optional(Type.Array(Name, { maxItems: 1000 })),
};

const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

const FullInventoryBody = Type.Object(
  { ...OsFields, packages: Type.Array(PackageBody, { maxItems: MAX_INVENTORY_PACKAGES }) },
  { additionalProperties: false },
);

const EnrollBody = Type.Object(
  {
    enrollSecret: Type.String({ minLength: 1, maxLength: 256 }),
    hostname: Type.String({ minLength: 1, maxLength: 253 }),
    machineId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    ...HostFacts,
    inventory: Type.Object(
      {
        seq: Seq,
        ...OsFields,
        packages: Type.Array(PackageBody, { maxItems: MAX_INVENTORY_PACKAGES }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const EnrollReply = Type.Object({
  hostId: Type.String(),
  /** Shown once; the agent keeps it and sends it as `Authorization: Bearer pwn_…`. */
  nodeKey: Type.String(),
  checkinIntervalSeconds: Type.Integer(),
  /** True when the machine id named a host that was already enrolled (its old keys are revoked). */
  isReenrolment: Type.Boolean(),
});

const CheckinBody = Type.Object(
  {
    seq: Seq,
    full: Type.Optional(FullInventoryBody),
    delta: Type.Optional(
      Type.Object(
        {
          upsert: Type.Array(PackageBody, { maxItems: MAX_DELTA_PACKAGES }),
          remove: Type.Array(PackageIdentityBody, { maxItems: MAX_DELTA_PACKAGES }),
        },
        { additionalProperties: false },
      ),
    ),
    ...HostFacts,
  },
  { additionalProperties: false },
);

const Job = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  rolloutId: nullable(Type.String()),
  attempt: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  deadlineAt: Type.String({ format: 'date-time' }),
  /** The job body (`dryRun`, `packages`, `hooks`, …) as the jobs module defines it. */
  payload: Type.Unknown(),
});

const CheckinReply = Type.Object({
  checkinIntervalSeconds: Type.Integer(),
  /** `send-full`: the server wants a full inventory on the next check-in. */
  inventory: Type.Union([Type.Literal('ok'), Type.Literal('send-full')]),
  jobs: Type.Array(Job),
});

type PackageInput = Static<typeof PackageBody>;

function toPackage(body: PackageInput): InstalledPackage {
  // The parsed body is this request's own: an entry with every field already is the package.
  if (body.architecture !== undefined && body.source !== undefined) return body as InstalledPackage;
  return {
    name: body.name,
    version: body.version,
    architecture: body.architecture ?? null,
    source: body.source ?? null,
    ecosystem: body.ecosystem as EcosystemId,
  };
}

/**
 * The JSON body parser of the agent routes. Fastify's default (secure-json-parse) scans the whole text
 * for `__proto__` and `constructor` keys, in any mix of `\u` escapes, with two regular expressions:
 * as much again as parsing a 150 KB inventory. A text with neither word and no `\u` escape at all
 * cannot hold such a key, so it is parsed with `JSON.parse` alone; any other goes to the default.
 */
function agentJsonParser(app: FastifyInstance): FastifyBodyParser<string> {
  const fallback = app.getDefaultJsonParser('error', 'error');
  return (req, text, done) => {
    if (
      text.length === 0 ||
      text.charCodeAt(0) === 0xfeff ||
      text.includes('\\u') ||
      text.includes('__proto__') ||
      text.includes('constructor')
    ) {
      fallback(req, text, done);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      fallback(req, text, done);
      return;
    }
    done(null, parsed);
  };
}

function osOf(body: { os?: Static<typeof OsBody>; osRelease?: string }, where: string): OsIdentity {
  if (body.os !== undefined && body.osRelease !== undefined) {
    throw new PatchwardenError('INVALID_OS', `${where}: give os or osRelease, not both`, 400);
  }
  if (body.os !== undefined) {
    return body.os as OsIdentity;
  }
  if (body.osRelease === undefined) {
    throw new PatchwardenError('INVALID_OS', `${where}: os or osRelease is required`, 400);
  }
  try {
    return parseOsRelease(body.osRelease, `${where}.osRelease`);
  } catch (err) {
    throw new PatchwardenError(
      'INVALID_OS',
      `${where}.osRelease: ${err instanceof Error ? err.message : String(err)}`,
      400,
      { cause: err },
    );
  }
}

/** The host facts a request carries, as column updates (absent fields are left unchanged). */
function factColumns(body: {
  kernel?: string;
  agentVersion?: string;
  rebootRequired?: boolean;
  rebootPackages?: string[];
}) {
  return {
    ...(body.kernel === undefined ? {} : { kernel: body.kernel }),
    ...(body.agentVersion === undefined ? {} : { agent_version: body.agentVersion }),
    ...(body.rebootRequired === undefined ? {} : { reboot_required: body.rebootRequired ? 1 : 0 }),
    ...(body.rebootPackages === undefined ? {} : { reboot_packages: JSON.stringify(body.rebootPackages) }),
  };
}

/** The job(s) the host should run now, claimed for this reply (see `pendingJobsForCheckin`). */
async function pendingJobs(store: Store, hostId: string, now: Date): Promise<Static<typeof Job>[]> {
  const jobs = await pendingJobsForCheckin(store, hostId, now);
  return jobs.map((job) => ({
    id: job.id,
    kind: job.kind,
    rolloutId: job.rolloutId,
    attempt: job.attempt,
    createdAt: job.createdAt.toISOString(),
    deadlineAt: job.deadlineAt.toISOString(),
    payload: job.payload,
  }));
}

/** Most check-ins committed together in one SQLite transaction. */
export const MAX_CHECKINS_PER_COMMIT = 64;

type CheckinWork<T> = (trx: Kysely<Database>) => Promise<T>;

/**
 * Runs check-in transactions. PostgreSQL: one transaction each (replicas and connections run them in
 * parallel; the database groups the commits' WAL flushes itself). SQLite: one writer at a time, and a
 * commit (writing the changed pages to the WAL) costs about as much as a delta's statements, so the
 * check-ins that arrive while a transaction runs are committed together (group commit): each runs in a
 * savepoint of one transaction of up to `MAX_CHECKINS_PER_COMMIT`, a failing one is rolled back to its
 * savepoint alone (its caller gets its error, the others are unaffected), and every caller's promise
 * settles only after the commit, so a reply never reports an inventory that is not durable yet. If the
 * commit itself fails, every check-in of the group fails.
 */
function createCheckinRunner(store: Store): <T>(work: CheckinWork<T>) => Promise<T> {
  const { db } = store;
  if (store.dialect !== 'sqlite') {
    return (work) => db.transaction().execute(work);
  }
  interface Queued {
    work: CheckinWork<unknown>;
    resolve(value: unknown): void;
    reject(reason: unknown): void;
  }
  const queue: Queued[] = [];
  let isDraining = false;

  async function runGroup(group: readonly Queued[]): Promise<void> {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    let trx: ControlledTransaction<Database> | null = null;
    try {
      trx = await db.startTransaction().execute();
      for (const item of group) {
        const inner = await trx.savepoint('checkin').execute();
        try {
          const value = await item.work(inner);
          await inner.releaseSavepoint('checkin').execute();
          outcomes.push({ ok: true, value });
        } catch (error) {
          await inner.rollbackToSavepoint('checkin').execute();
          await inner.releaseSavepoint('checkin').execute();
          outcomes.push({ ok: false, error });
        }
      }
      await trx.commit().execute();
    } catch (error) {
      if (trx !== null)
        await trx
          .rollback()
          .execute()
          .catch(() => undefined);
      for (const item of group) item.reject(error);
      return;
    }
    group.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok === true) item.resolve(outcome.value);
      else item.reject(outcome?.error);
    });
  }

  async function drain(): Promise<void> {
    try {
      while (queue.length > 0) {
        await runGroup(queue.splice(0, MAX_CHECKINS_PER_COMMIT));
      }
    } finally {
      isDraining = false;
    }
  }

  return <T>(work: CheckinWork<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!isDraining) {
        // Not at once: the check-ins that were waiting for the previous commit (their node-key
        // lookups wait for the one connection too) get to join this group first.
        isDraining = true;
        setImmediate(() => void drain());
      }
    });
}

/**
 * /api/v1/agent: the agent protocol (docs/agent-protocol.md). `POST /enroll` trades an enrolment
 * secret and a full inventory for a host id and a node key; `POST /checkin` (node key) sends a
 * heartbeat, a full inventory or a delta, and gets the check-in interval and queued jobs back. The
 * host is always the node key's; every inventory change is applied and evaluated in one transaction.
 */
export async function agentRoutes(plain: FastifyInstance): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const runCheckin = createCheckinRunner(app.store);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, agentJsonParser(plain));

  app.post(
    '/enroll',
    {
      config: { auth: 'public' },
      schema: { body: EnrollBody, response: { 201: EnrollReply } },
    },
    async (req, reply) => {
      const now = app.now();
      const body = req.body;
      const os = osOf(body.inventory, 'inventory');
      const packages = body.inventory.packages.map(toPackage);
      const nodeKey = generateSecret('node-key');
      try {
        const result = await app.store.db.transaction().execute(async (trx) => {
          const secret = await consumeEnrollmentSecret(trx, hashSecret(body.enrollSecret), now);
          if (body.machineId !== undefined && app.store.dialect === 'postgres') {
            // Enrolments of one machine id one at a time (until this transaction ends), so that two
            // agents of a cloned image enrolling at once make one host, not two. SQLite runs one
            // write transaction at a time already.
            await sql`select pg_advisory_xact_lock(hashtextextended(${`enroll:${body.machineId}`}, 0))`.execute(
              trx,
            );
          }
          const existing =
            body.machineId === undefined
              ? undefined
              : await trx
                  .selectFrom('hosts')
                  .select('id')
                  .where('machine_id', '=', body.machineId)
                  .orderBy('created_at')
                  .orderBy('id')
                  .executeTakeFirst();
          let hostId: string;
          if (existing === undefined) {
            hostId = (await createHost(trx, { name: body.hostname, groupId: secret.groupId }, now)).id;
          } else {
            hostId = existing.id;
            await revokeNodeKeys(trx, hostId, now);
          }
          await trx
            .updateTable('hosts')
            .set({
              name: body.hostname,
              machine_id: body.machineId ?? null,
              last_seen_at: writeTimestamp(now),
              ...factColumns(body),
            })
            .where('id', '=', hostId)
            .execute();
          const applied = await applyFullInventory(
            trx,
            hostId,
            { os, packages, seq: body.inventory.seq },
            now,
          );
          await createNodeKey(trx, { hostId, keyHash: hashSecret(nodeKey) }, now);
          await app.detection.evaluateHost(trx, hostId, { inventory: applied.evaluation });
          await appendAuditEntry(
            { db: trx, dialect: app.store.dialect },
            {
              actor: `agent:${hostId}`,
              action: existing === undefined ? 'host.enroll' : 'host.reenroll',
              targetType: 'host',
              targetId: hostId,
              detail: {
                hostname: body.hostname,
                machineId: body.machineId ?? null,
                enrollSecretId: secret.id,
                enrollSecretName: secret.name,
                groupId: secret.groupId,
                packages: packages.length,
              },
            },
            now,
          );
          return { hostId, isReenrolment: existing !== undefined };
        });
        app.metrics.checkins.inc({ kind: 'enroll', outcome: 'ok' });
        app.metrics.hostsEvaluated.inc();
        req.log.info({ hostId: result.hostId, isReenrolment: result.isReenrolment }, 'agent enrolled');
        return reply.status(201).send({
          hostId: result.hostId,
          nodeKey,
          checkinIntervalSeconds: app.config.checkinIntervalSeconds,
          isReenrolment: result.isReenrolment,
        });
      } catch (err) {
        app.metrics.checkins.inc({ kind: 'enroll', outcome: 'rejected' });
        throw err;
      }
    },
  );

  app.post(
    '/checkin',
    {
      config: { auth: 'agent' },
      schema: { body: CheckinBody, response: { 200: CheckinReply } },
    },
    async (req) => {
      const { hostId } = agentOf(req);
      const now = app.now();
      const body = req.body;
      const { db } = app.store;
      const interval = app.config.checkinIntervalSeconds;
      if (body.full !== undefined && body.delta !== undefined) {
        throw new PatchwardenError('INVALID_CHECKIN', 'a check-in carries full or delta, not both', 400);
      }
      const kind = body.full !== undefined ? 'full' : body.delta !== undefined ? 'delta' : 'heartbeat';
      try {
        if (body.full === undefined && body.delta === undefined) {
          // A heartbeat: one update, one read of queued jobs; no transaction needed.
          const host = await db
            .updateTable('hosts')
            .set({ last_seen_at: writeTimestamp(now), ...factColumns(body) })
            .where('id', '=', hostId)
            .returning(['inventory_seq', 'package_set_id'])
            .executeTakeFirst();
          if (host === undefined) {
            throw new PatchwardenError('HOST_NOT_FOUND', `host ${hostId} does not exist`, 404);
          }
          const isInSync = host.package_set_id !== null && Number(host.inventory_seq) === body.seq;
          const jobs = await pendingJobs(app.store, hostId, now);
          app.metrics.checkins.inc({ kind, outcome: isInSync ? 'ok' : 'send-full' });
          return {
            checkinIntervalSeconds: interval,
            inventory: isInSync ? ('ok' as const) : ('send-full' as const),
            jobs,
          };
        }
        const full = body.full;
        const os = full === undefined ? null : osOf(full, 'full');
        const hostColumns = { last_seen_at: writeTimestamp(now), ...factColumns(body) };
        const { applied, jobs } = await runCheckin(async (trx) => {
          const result =
            full !== undefined
              ? await applyFullInventory(
                  trx,
                  hostId,
                  { os, packages: full.packages.map(toPackage), seq: body.seq },
                  now,
                  hostColumns,
                )
              : await applyInventoryDelta(
                  trx,
                  hostId,
                  {
                    seq: body.seq,
                    upsert: body.delta?.upsert.map(toPackage) ?? [],
                    remove: (body.delta?.remove ?? []).map((r) => ({
                      ecosystem: r.ecosystem as EcosystemId,
                      name: r.name,
                      architecture: r.architecture ?? null,
                    })),
                  },
                  now,
                  hostColumns,
                );
          await app.detection.evaluateHost(trx, hostId, {
            ...(result.changedNames === null ? {} : { packageNames: result.changedNames }),
            inventory: result.evaluation,
          });
          // The jobs claim in the same transaction: no second round trip (or wait for the writer).
          return {
            applied: result as AppliedInventory,
            jobs: result.hasUnfinishedJobs ? await pendingJobs({ ...app.store, db: trx }, hostId, now) : [],
          };
        });
        app.metrics.hostsEvaluated.inc();
        app.metrics.checkins.inc({ kind, outcome: 'ok' });
        req.log.debug({ hostId, kind, packageSetId: applied.packageSetId }, 'inventory applied');
        return { checkinIntervalSeconds: interval, inventory: 'ok' as const, jobs };
      } catch (err) {
        app.metrics.checkins.inc({ kind, outcome: 'rejected' });
        throw err;
      }
    },
  );
}
