import {
  createHost,
  createHostGroup,
  createNodeKey,
  MAX_JOB_OUTPUT_CHARS,
  pendingJobsForCheckin,
} from '@patchwarden/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret, hashSecret } from '../src/auth/secrets.js';
import { createJobExpiryTask } from '../src/routes/jobs/index.js';
import { createTestServer, type TestServer, testDialects } from './harness.js';

interface EntryBody {
  hostId: string;
  hostName: string;
  state: string;
  attempt: number;
  late: boolean;
  failureReason: string | null;
  result: { status: string; exitCode: number | null; stdout: string; after: unknown[] } | null;
}

interface JobBody {
  id: string;
  kind: string;
  state: string;
  hostCount: number;
  counts: Record<string, number>;
}

const OPENSSL = { name: 'openssl', version: '3.0.15-1~deb12u1' };
const RESULT = {
  status: 'succeeded',
  exitCode: 0,
  stdout: 'Unpacking openssl (3.0.15-1~deb12u1) over (3.0.14-1~deb12u2) ...',
  stderr: '',
  before: [{ name: 'openssl', architecture: 'amd64', version: '3.0.14-1~deb12u2' }],
  after: [{ name: 'openssl', architecture: 'amd64', version: '3.0.15-1~deb12u1' }],
};

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `server/jobs routes on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let server: TestServer;
      let webOperator: string;
      let auditor: string;
      let hostCount = 0;

      beforeAll(async () => {
        server = await createTestServer(dialect);
        await createHostGroup(server.store.db, { id: 'g-web', name: 'web' }, server.clock.now);
        await createHostGroup(server.store.db, { id: 'g-db', name: 'db' }, server.clock.now);
        webOperator = await server.tokenFor('operator', 'g-web');
        auditor = await server.tokenFor('auditor');
      });
      afterAll(async () => {
        await server?.close();
      });

      /** A new host with a node key, so every test has hosts with no jobs yet. */
      async function seedHost(group: 'g-web' | 'g-db', labels: Record<string, string> = {}) {
        hostCount += 1;
        const host = await createHost(
          server.store.db,
          { id: `h-${hostCount}`, name: `host-${hostCount}`, groupId: group, labels },
          server.clock.now,
        );
        const nodeKey = generateSecret('node-key');
        await createNodeKey(
          server.store.db,
          { hostId: host.id, keyHash: hashSecret(nodeKey) },
          server.clock.now,
        );
        return { id: host.id, name: host.name, nodeKey };
      }

      async function post(url: string, payload: unknown, token?: string) {
        const response = await server.request({
          method: 'POST',
          url,
          payload: payload as object,
          ...(token === undefined ? {} : { token }),
        });
        return { status: response.statusCode, body: response.json() };
      }

      async function get(url: string, token?: string) {
        const response = await server.request({
          method: 'GET',
          url,
          ...(token === undefined ? {} : { token }),
        });
        return { status: response.statusCode, body: response.json() };
      }

      /** The check-in's claim, as the agent route will call it. */
      async function checkin(hostId: string) {
        return pendingJobsForCheckin(server.store, hostId, server.clock.now);
      }

      it('creates a job for hosts by id and name, with one queued entry per host, and audits it', async () => {
        const a = await seedHost('g-web');
        const b = await seedHost('g-db');

        const created = await post('/api/v1/jobs', {
          kind: 'install',
          hosts: [a.id, b.name],
          packages: [OPENSSL],
        });

        expect(created.status).toBe(201);
        expect(created.body.job).toMatchObject({
          kind: 'install',
          state: 'pending',
          dryRun: false,
          packages: [OPENSSL],
          hostCount: 2,
          counts: { queued: 2, sent: 0 },
        });
        expect((created.body.hosts as EntryBody[]).map((h) => [h.hostName, h.state])).toEqual([
          [a.name, 'queued'],
          [b.name, 'queued'],
        ]);
        const audit = await server.store.db
          .selectFrom('audit_log')
          .select(['action', 'target_id'])
          .where('action', '=', 'job.create')
          .where('target_id', '=', created.body.job.id)
          .execute();
        expect(audit).toHaveLength(1);
      });

      it('creates a job for a group and for labels, resolved when created', async () => {
        const web = await seedHost('g-web', { tier: 'canary-1' });
        await seedHost('g-db', { tier: 'canary-1' });

        const byGroup = await post('/api/v1/jobs', { kind: 'scan', group: 'web' });
        const byLabels = await post('/api/v1/jobs', {
          kind: 'upgrade',
          labels: { tier: 'canary-1' },
          dryRun: true,
        });
        const both = await post('/api/v1/jobs', {
          kind: 'reboot',
          group: 'g-web',
          labels: { tier: 'canary-1' },
        });
        const late = await seedHost('g-web');
        const detail = await get(`/api/v1/jobs/${byGroup.body.job.id}?limit=500`);

        expect(byGroup.status).toBe(201);
        expect((detail.body.hosts as EntryBody[]).map((h) => h.hostId)).toContain(web.id);
        expect((detail.body.hosts as EntryBody[]).map((h) => h.hostId)).not.toContain(late.id);
        expect(byLabels.status).toBe(201);
        expect(byLabels.body.job).toMatchObject({ kind: 'upgrade', dryRun: true, hostCount: 2 });
        expect((both.body.hosts as EntryBody[]).map((h) => h.hostId)).toEqual([web.id]);
      });

      it("limits a group operator to its group's hosts: outside is 403, others' jobs are invisible", async () => {
        const web = await seedHost('g-web', { team: 'shared' });
        const db = await seedHost('g-db', { team: 'shared' });
        const dbJob = await post('/api/v1/jobs', { kind: 'scan', hosts: [db.id] });

        const own = await post('/api/v1/jobs', { kind: 'scan', hosts: [web.id] }, webOperator);
        const otherHost = await post('/api/v1/jobs', { kind: 'scan', hosts: [web.id, db.id] }, webOperator);
        const otherGroup = await post('/api/v1/jobs', { kind: 'scan', group: 'db' }, webOperator);
        const labelsReachingOut = await post(
          '/api/v1/jobs',
          { kind: 'scan', labels: { team: 'shared' } },
          webOperator,
        );
        const byAuditor = await post('/api/v1/jobs', { kind: 'scan', hosts: [web.id] }, auditor);
        const listed = await get('/api/v1/jobs?limit=500', webOperator);
        const hidden = await get(`/api/v1/jobs/${dbJob.body.job.id}`, webOperator);
        const cancelHidden = await post(`/api/v1/jobs/${dbJob.body.job.id}/cancel`, {}, webOperator);

        expect(own.status).toBe(201);
        expect([otherHost.status, otherHost.body.error.code]).toEqual([403, 'FORBIDDEN']);
        expect([otherGroup.status, otherGroup.body.error.code]).toEqual([403, 'FORBIDDEN']);
        expect([labelsReachingOut.status, labelsReachingOut.body.error.code]).toEqual([403, 'FORBIDDEN']);
        expect([byAuditor.status, byAuditor.body.error.code]).toEqual([403, 'FORBIDDEN']);
        const ids = (listed.body.jobs as JobBody[]).map((j) => j.id);
        expect(ids).toContain(own.body.job.id);
        expect(ids).not.toContain(dbJob.body.job.id);
        expect([hidden.status, hidden.body.error.code]).toEqual([404, 'JOB_NOT_FOUND']);
        expect([cancelHidden.status, cancelHidden.body.error.code]).toEqual([404, 'JOB_NOT_FOUND']);
      });

      it.each([
        ['an unknown host', { kind: 'scan', hosts: ['h-nope'] }, 404, 'HOST_NOT_FOUND'],
        ['an unknown group', { kind: 'scan', group: 'nope' }, 404, 'GROUP_NOT_FOUND'],
        ['an empty selector', { kind: 'scan' }, 400, 'EMPTY_SELECTOR'],
        ['an empty host list', { kind: 'scan', hosts: [] }, 400, 'EMPTY_SELECTOR'],
        ['install without packages', { kind: 'install', hosts: ['h-1'] }, 400, 'PACKAGES_REQUIRED'],
        ['an unknown kind', { kind: 'format-disk', hosts: ['h-1'] }, 400, 'INVALID_REQUEST'],
        [
          'a package without a version',
          { kind: 'install', hosts: ['h-1'], packages: [{ name: 'openssl' }] },
          400,
          'INVALID_REQUEST',
        ],
        ['a dry-run scan', { kind: 'scan', hosts: ['h-1'], dryRun: true }, 400, 'DRY_RUN_NOT_SUPPORTED'],
        ['a rollback of an unknown job', { kind: 'rollback', rollbackOf: 'nope' }, 404, 'JOB_NOT_FOUND'],
        ['a 5 s deadline', { kind: 'scan', hosts: ['h-1'], deadlineSeconds: 5 }, 400, 'INVALID_REQUEST'],
      ])('refuses %s', async (_, payload, status, code) => {
        const before = await server.store.db.selectFrom('jobs').select('id').execute();

        const response = await post('/api/v1/jobs', payload);

        expect([response.status, response.body.error.code]).toEqual([status, code]);
        expect(await server.store.db.selectFrom('jobs').select('id').execute()).toEqual(before);
      });

      it('hands a host one job at a time; the claim marks it sent; the result frees the host', async () => {
        const host = await seedHost('g-web');
        const first = await post('/api/v1/jobs', { kind: 'install', hosts: [host.id], packages: [OPENSSL] });
        server.clock.advance(1000);
        const second = await post('/api/v1/jobs', { kind: 'scan', hosts: [host.id] });

        const claimed = await checkin(host.id);
        const afterClaim = await get(`/api/v1/jobs/${first.body.job.id}`);
        const started = await post(`/api/v1/agent/jobs/${first.body.job.id}/started`, {}, host.nodeKey);
        const whileRunning = await checkin(host.id);
        const result = await post(`/api/v1/agent/jobs/${first.body.job.id}/result`, RESULT, host.nodeKey);
        const repeated = await post(`/api/v1/agent/jobs/${first.body.job.id}/result`, RESULT, host.nodeKey);
        const next = await checkin(host.id);
        const shown = await get(`/api/v1/jobs/${first.body.job.id}`);

        expect(claimed.map((j) => j.id)).toEqual([first.body.job.id]);
        expect(afterClaim.body.hosts[0]).toMatchObject({ state: 'sent', attempt: 1 });
        expect(started.body).toEqual({ state: 'running' });
        expect(whileRunning).toEqual([]);
        expect(result.body).toEqual({ state: 'succeeded', outcome: 'recorded', late: false });
        expect(repeated.body).toEqual({ state: 'succeeded', outcome: 'duplicate', late: false });
        expect(next.map((j) => j.id)).toEqual([second.body.job.id]);
        expect(shown.body.job).toMatchObject({ state: 'finished', counts: { succeeded: 1 } });
        expect(shown.body.hosts[0]).toMatchObject({
          state: 'succeeded',
          result: { status: 'succeeded', exitCode: 0, stdout: RESULT.stdout, after: RESULT.after },
        });
      });

      it('records a failure with its reason, and refuses results from other hosts or past the bounds', async () => {
        const host = await seedHost('g-db');
        const other = await seedHost('g-db');
        const job = await post('/api/v1/jobs', { kind: 'upgrade', hosts: [host.id] });
        await checkin(host.id);

        const stranger = await post(`/api/v1/agent/jobs/${job.body.job.id}/result`, RESULT, other.nodeKey);
        const tooLong = await post(
          `/api/v1/agent/jobs/${job.body.job.id}/result`,
          { ...RESULT, stdout: 'x'.repeat(MAX_JOB_OUTPUT_CHARS + 1) },
          host.nodeKey,
        );
        const noReason = await post(
          `/api/v1/agent/jobs/${job.body.job.id}/result`,
          { status: 'failed', exitCode: 100 },
          host.nodeKey,
        );
        const byUser = await post(`/api/v1/agent/jobs/${job.body.job.id}/result`, RESULT);
        const failed = await post(
          `/api/v1/agent/jobs/${job.body.job.id}/result`,
          {
            status: 'failed',
            exitCode: 100,
            stderr: 'E: Unable to correct problems, you have held broken packages.',
            failureReason: 'dependency-conflict',
          },
          host.nodeKey,
        );
        const shown = await get(`/api/v1/jobs/${job.body.job.id}`);

        expect([stranger.status, stranger.body.error.code]).toEqual([404, 'JOB_NOT_FOUND']);
        expect([tooLong.status, tooLong.body.error.code]).toEqual([400, 'INVALID_REQUEST']);
        expect([noReason.status, noReason.body.error.code]).toEqual([400, 'INVALID_JOB_RESULT']);
        expect(byUser.status).toBe(401);
        expect(failed.body).toEqual({ state: 'failed', outcome: 'recorded', late: false });
        expect(shown.body.hosts[0]).toMatchObject({ state: 'failed', failureReason: 'dependency-conflict' });
      });

      it('times out what is not finished by the deadline, and still records a late result', async () => {
        const host = await seedHost('g-web');
        const idle = await seedHost('g-web');
        const job = await post('/api/v1/jobs', {
          kind: 'install',
          hosts: [host.id, idle.id],
          packages: [OPENSSL],
          deadlineSeconds: 120,
        });
        await checkin(host.id);
        const expiry = createJobExpiryTask({
          store: server.store,
          log: server.app.log,
          now: () => server.clock.now,
        });

        server.clock.advance(119_000);
        await expiry.run();
        const beforeDeadline = await get(`/api/v1/jobs/${job.body.job.id}`);
        server.clock.advance(1_000);
        await expiry.run();
        const atDeadline = await get(`/api/v1/jobs/${job.body.job.id}`);
        server.clock.advance(30_000);
        const late = await post(`/api/v1/agent/jobs/${job.body.job.id}/result`, RESULT, host.nodeKey);
        const shown = await get(`/api/v1/jobs/${job.body.job.id}`);

        expect(beforeDeadline.body.job.counts).toMatchObject({ sent: 1, queued: 1 });
        expect(atDeadline.body.job).toMatchObject({ state: 'finished', counts: { 'timed-out': 2 } });
        expect(late.body).toEqual({ state: 'succeeded', outcome: 'late', late: true });
        const entries = shown.body.hosts as (EntryBody & { timedOutAt: string | null })[];
        expect(entries.map((h) => [h.hostId, h.state, h.late, h.timedOutAt !== null])).toEqual([
          [host.id, 'succeeded', true, true],
          [idle.id, 'timed-out', false, true],
        ]);
      });

      it('cancels only queued hosts; a sent one goes on; a second cancel is 409', async () => {
        const sent = await seedHost('g-web');
        const queued = await seedHost('g-web');
        const job = await post('/api/v1/jobs', { kind: 'reboot', hosts: [sent.id, queued.id] });
        await checkin(sent.id);

        const cancelled = await post(`/api/v1/jobs/${job.body.job.id}/cancel`, {}, webOperator);
        const again = await post(`/api/v1/jobs/${job.body.job.id}/cancel`, {});
        const unknown = await post('/api/v1/jobs/nope/cancel', {});
        const claimAfter = await checkin(queued.id);
        const shown = await get(`/api/v1/jobs/${job.body.job.id}`);

        expect(cancelled.status).toBe(200);
        expect(cancelled.body).toMatchObject({ cancelled: 1, job: { counts: { sent: 1, cancelled: 1 } } });
        expect([again.status, again.body.error.code]).toEqual([409, 'JOB_NOT_PENDING']);
        expect([unknown.status, unknown.body.error.code]).toEqual([404, 'JOB_NOT_FOUND']);
        expect(claimAfter).toEqual([]);
        expect((shown.body.hosts as EntryBody[]).map((h) => [h.hostId, h.state])).toEqual([
          [sent.id, 'sent'],
          [queued.id, 'cancelled'],
        ]);
        const audit = await server.store.db
          .selectFrom('audit_log')
          .select('detail')
          .where('action', '=', 'job.cancel')
          .where('target_id', '=', job.body.job.id)
          .execute();
        expect(audit.map((a) => JSON.parse(a.detail))).toEqual([{ cancelled: 1 }]);
      });

      it('configures group hooks (admins only) and sends them with package jobs and run-hook', async () => {
        const host = await seedHost('g-web');
        const hook = { phase: 'pre', command: ['/usr/local/bin/drain', '--wait'], timeoutSeconds: 30 };

        const byOperator = await server.request({
          method: 'PUT',
          url: '/api/v1/jobs/hooks/g-web/drain',
          payload: hook,
          token: webOperator,
        });
        const set = await server.request({
          method: 'PUT',
          url: '/api/v1/jobs/hooks/g-web/drain',
          payload: hook,
        });
        const manual = await server.request({
          method: 'PUT',
          url: '/api/v1/jobs/hooks/g-web/restart-nginx',
          payload: { phase: 'manual', command: ['systemctl', 'restart', 'nginx'], timeoutSeconds: 60 },
        });
        const listed = await get('/api/v1/jobs/hooks/g-web', webOperator);
        const hiddenGroup = await get('/api/v1/jobs/hooks/g-db', webOperator);
        const upgrade = await post('/api/v1/jobs', { kind: 'upgrade', hosts: [host.id] });
        const [claimedUpgrade] = await checkin(host.id);
        await post(
          `/api/v1/agent/jobs/${upgrade.body.job.id}/result`,
          { ...RESULT, before: [], after: [] },
          host.nodeKey,
        );
        const runHook = await post('/api/v1/jobs', {
          kind: 'run-hook',
          hook: 'restart-nginx',
          hosts: [host.id],
        });
        const [claimedHook] = await checkin(host.id);
        const noSuchHook = await post('/api/v1/jobs', { kind: 'run-hook', hook: 'nope', hosts: [host.id] });
        const deleted = await server.request({
          method: 'DELETE',
          url: '/api/v1/jobs/hooks/g-web/restart-nginx',
        });
        const deletedAgain = await server.request({
          method: 'DELETE',
          url: '/api/v1/jobs/hooks/g-web/restart-nginx',
        });

        expect(byOperator.statusCode).toBe(403);
        expect(set.statusCode).toBe(200);
        expect(manual.statusCode).toBe(200);
        expect((listed.body.hooks as { name: string }[]).map((h) => h.name)).toEqual([
          'drain',
          'restart-nginx',
        ]);
        expect(hiddenGroup.status).toBe(403);
        expect(claimedUpgrade?.payload).toEqual({
          dryRun: false,
          hooks: { pre: [{ name: 'drain', command: hook.command, timeoutSeconds: 30 }], post: [] },
        });
        expect(runHook.status).toBe(201);
        expect(claimedHook?.payload.hook).toEqual({
          name: 'restart-nginx',
          command: ['systemctl', 'restart', 'nginx'],
          timeoutSeconds: 60,
        });
        expect([noSuchHook.status, noSuchHook.body.error.code]).toEqual([400, 'HOOK_NOT_CONFIGURED']);
        expect(deleted.statusCode).toBe(204);
        expect(deletedAgain.json().error.code).toBe('HOOK_NOT_FOUND');
      });

      it('lists jobs newest first, page by page', async () => {
        const host = await seedHost('g-db');
        const made: string[] = [];
        for (let i = 0; i < 3; i += 1) {
          server.clock.advance(1000);
          made.push((await post('/api/v1/jobs', { kind: 'scan', hosts: [host.id] })).body.job.id);
        }

        const first = await get('/api/v1/jobs?limit=2');
        const second = await get(`/api/v1/jobs?limit=2&cursor=${first.body.nextCursor}`);
        const badCursor = await get('/api/v1/jobs?cursor=garbage');

        expect((first.body.jobs as JobBody[]).map((j) => j.id)).toEqual([made[2], made[1]]);
        expect((second.body.jobs as JobBody[])[0]?.id).toBe(made[0]);
        expect([badCursor.status, badCursor.body.error.code]).toEqual([400, 'INVALID_CURSOR']);
      });
    },
  );
}
