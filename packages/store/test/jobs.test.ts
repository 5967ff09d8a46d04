import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cancelJob,
  claimJobsForHost,
  createHost,
  createHostGroup,
  createJob,
  expireJobs,
  getJob,
  listJobs,
  MAX_JOB_OUTPUT_CHARS,
  markJobStarted,
  migrateToLatest,
  type NewJob,
  pendingJobsForCheckin,
  recordJobResult,
  setGroupHook,
  writeTimestamp,
} from '../src/index.js';
import { type TestStore, testDialects } from './dialects.js';

const t0 = new Date('2026-11-22T10:00:00.000Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

const install = (hostIds: string[], extra: Partial<NewJob> = {}): NewJob => ({
  kind: 'install',
  selector: { hostIds },
  packages: [{ name: 'openssl', version: '3.0.15-1~deb12u1' }],
  createdBy: 'u-admin',
  scope: 'all',
  ...extra,
});

const succeeded = {
  status: 'succeeded' as const,
  exitCode: 0,
  stdout: 'Setting up openssl (3.0.15-1~deb12u1) ...',
  stderr: '',
  before: [{ name: 'openssl', architecture: 'amd64', version: '3.0.14-1~deb12u2' }],
  after: [{ name: 'openssl', architecture: 'amd64', version: '3.0.15-1~deb12u1' }],
};

for (const dialect of testDialects()) {
  const title = `store/jobs on ${dialect.name}${dialect.skipReason ? ` (skipped: ${dialect.skipReason})` : ''}`;

  describe.skipIf(dialect.skipReason !== null)(title, () => {
    let store: TestStore;
    let ids: Record<string, string>;

    beforeEach(async () => {
      store = await dialect.open();
      await migrateToLatest(store.db);
      const web = await createHostGroup(store.db, { id: 'g-web', name: 'web' }, t0);
      await createHostGroup(store.db, { id: 'g-web-eu', name: 'web-eu', parentId: web.id }, t0);
      await createHostGroup(store.db, { id: 'g-db', name: 'db' }, t0);
      const hosts = [
        { id: 'h-web1', name: 'web1', groupId: 'g-web', labels: { env: 'prod', role: 'web' } },
        { id: 'h-web2', name: 'web2', groupId: 'g-web-eu', labels: { env: 'staging', role: 'web' } },
        { id: 'h-db1', name: 'db1', groupId: 'g-db', labels: { env: 'prod', role: 'db' } },
      ];
      for (const host of hosts) {
        await createHost(store.db, host, t0);
      }
      ids = Object.fromEntries(hosts.map((h) => [h.name, h.id]));
    });

    afterEach(async () => {
      await store?.dispose();
    });

    it('resolves host ids, a group with its subgroups, and labels to queued entries', async () => {
      const byIds = await createJob(store, install([ids.db1 ?? '', ids.web1 ?? '', ids.db1 ?? '']), t0);
      const byGroup = await createJob(store, { ...install([]), selector: { groupId: 'g-web' } }, t0);
      const byLabels = await createJob(
        store,
        { kind: 'scan', selector: { labels: { env: 'prod' } }, createdBy: null, scope: 'all' },
        t0,
      );
      const byGroupAndLabel = await createJob(
        store,
        {
          kind: 'reboot',
          selector: { groupId: 'g-web', labels: { env: 'staging' } },
          createdBy: null,
          scope: 'all',
        },
        t0,
      );

      expect(byIds.hosts.map((h) => [h.hostId, h.state])).toEqual([
        ['h-db1', 'queued'],
        ['h-web1', 'queued'],
      ]);
      expect(byIds.job).toMatchObject({
        kind: 'install',
        hostCount: 2,
        isDryRun: false,
        isFinished: false,
        createdBy: 'u-admin',
        deadlineAt: at(3600),
        payload: { packages: [{ name: 'openssl', version: '3.0.15-1~deb12u1' }] },
      });
      expect(byIds.job.counts.queued).toBe(2);
      expect(byGroup.hosts.map((h) => h.hostName)).toEqual(['web1', 'web2']);
      expect(byLabels.hosts.map((h) => h.hostName)).toEqual(['db1', 'web1']);
      expect(byGroupAndLabel.hosts.map((h) => h.hostName)).toEqual(['web2']);
    });

    it('refuses bad jobs with a precise code and writes nothing', async () => {
      const cases: [string, Partial<NewJob>, string, number][] = [
        ['an empty selector', { selector: {} }, 'EMPTY_SELECTOR', 400],
        ['an unknown host', { selector: { hostIds: ['h-web1', 'h-nope'] } }, 'HOST_NOT_FOUND', 404],
        ['an unknown group', { selector: { groupId: 'g-nope' } }, 'GROUP_NOT_FOUND', 404],
        ['labels matching nothing', { selector: { labels: { env: 'qa' } } }, 'NO_MATCHING_HOSTS', 400],
        [
          'ids with a group',
          { selector: { hostIds: ['h-web1'], groupId: 'g-web' } },
          'INVALID_SELECTOR',
          400,
        ],
        ['install without packages', { packages: [] }, 'PACKAGES_REQUIRED', 400],
        ['upgrade with packages', { kind: 'upgrade' as const }, 'PACKAGES_NOT_ALLOWED', 400],
        [
          'rollback without a job',
          { kind: 'rollback' as const, packages: undefined },
          'ROLLBACK_OF_REQUIRED',
          400,
        ],
        ['run-hook without a hook', { kind: 'run-hook' as const, packages: undefined }, 'HOOK_REQUIRED', 400],
        [
          'a dry-run reboot',
          { kind: 'reboot' as const, packages: undefined, isDryRun: true },
          'DRY_RUN_NOT_SUPPORTED',
          400,
        ],
        ['a 10 s deadline', { deadlineSeconds: 10 }, 'INVALID_DEADLINE', 400],
        ['a host outside the scope', { scope: ['g-db'] }, 'FORBIDDEN', 403],
      ];

      for (const [name, change, code, status] of cases) {
        await expect(
          createJob(store, { ...install(['h-web1']), ...change } as NewJob, t0),
          name,
        ).rejects.toMatchObject({
          code,
          status,
        });
      }
      expect((await listJobs(store.db, { scope: 'all' })).jobs).toEqual([]);
      expect(await store.db.selectFrom('job_hosts').selectAll().execute()).toEqual([]);
    });

    it('lets a group-scoped creator target its groups, subgroups included, and nothing outside', async () => {
      const inside = await createJob(
        store,
        { ...install([]), selector: { groupId: 'g-web' }, scope: ['g-web', 'g-web-eu'] },
        t0,
      );
      const outside = await createJob(
        store,
        { ...install([]), selector: { labels: { env: 'prod' } }, scope: ['g-web', 'g-web-eu'] },
        t0,
      ).catch((err: unknown) => err);

      expect(inside.job.hostCount).toBe(2);
      expect(outside).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('db1') });
    });

    it('hands a host one job at a time, marks it sent, re-sends it until it starts, then waits for it', async () => {
      const first = await createJob(store, install(['h-web1']), t0);
      const second = await createJob(
        store,
        { kind: 'scan', selector: { hostIds: ['h-web1'] }, createdBy: null, scope: 'all' },
        at(1),
      );

      const claimed = await claimJobsForHost(store, 'h-web1', at(10), 5);
      const again = await pendingJobsForCheckin(store, 'h-web1', at(20));
      await markJobStarted(store.db, 'h-web1', first.job.id, at(25));
      const whileRunning = await pendingJobsForCheckin(store, 'h-web1', at(30));
      await recordJobResult(store.db, 'h-web1', first.job.id, succeeded, at(40));
      const next = await pendingJobsForCheckin(store, 'h-web1', at(50));

      expect(claimed).toHaveLength(1);
      expect(claimed[0]).toMatchObject({
        id: first.job.id,
        kind: 'install',
        attempt: 1,
        payload: {
          dryRun: false,
          packages: [{ name: 'openssl', version: '3.0.15-1~deb12u1' }],
          hooks: { pre: [], post: [] },
        },
      });
      expect(again.map((j) => [j.id, j.attempt])).toEqual([[first.job.id, 2]]);
      expect(whileRunning).toEqual([]);
      expect(next.map((j) => j.id)).toEqual([second.job.id]);
      const entry = (await getJob(store.db, 'all', first.job.id))?.hosts[0];
      expect(entry).toMatchObject({
        state: 'succeeded',
        attempt: 2,
        sentAt: at(20),
        startedAt: at(25),
        finishedAt: at(40),
      });
      expect(entry?.result).toMatchObject({ status: 'succeeded', exitCode: 0, after: succeeded.after });
    });

    it('keeps at most one entry per host sent or running in the database itself', async () => {
      const a = await createJob(store, install(['h-web1']), t0);
      const b = await createJob(
        store,
        { kind: 'scan', selector: { hostIds: ['h-web1'] }, createdBy: null, scope: 'all' },
        at(1),
      );
      await claimJobsForHost(store, 'h-web1', at(2), 1);

      const second = store.db
        .updateTable('job_hosts')
        .set({ state: 'sent', sent_at: writeTimestamp(at(3)) })
        .where('job_id', '=', b.job.id)
        .execute();

      await expect(second).rejects.toThrow();
      expect((await getJob(store.db, 'all', a.job.id))?.hosts[0]?.state).toBe('sent');
    });

    it('gives concurrent check-ins of one host one job between them', async () => {
      const first = await createJob(store, install(['h-web1']), t0);
      await createJob(
        store,
        { kind: 'scan', selector: { hostIds: ['h-web1'] }, createdBy: null, scope: 'all' },
        at(1),
      );

      const claims = await Promise.all(
        Array.from({ length: 6 }, () => pendingJobsForCheckin(store, 'h-web1', at(2))),
      );

      expect([...new Set(claims.flat().map((j) => j.id))]).toEqual([first.job.id]);
      const sent = await store.db
        .selectFrom('job_hosts')
        .select('job_id')
        .where('state', '=', 'sent')
        .execute();
      expect(sent.map((r) => r.job_id)).toEqual([first.job.id]);
    });

    it('records a result once: the same again is a duplicate, a different one a conflict', async () => {
      const job = await createJob(store, install(['h-web1']), t0);
      await pendingJobsForCheckin(store, 'h-web1', at(1));
      const failed = {
        status: 'failed' as const,
        exitCode: 100,
        stdout: '',
        stderr: 'E: Could not get lock /var/lib/dpkg/lock-frontend',
        failureReason: 'lock-held' as const,
      };

      const first = await recordJobResult(store.db, 'h-web1', job.job.id, failed, at(2));
      const repeat = await recordJobResult(store.db, 'h-web1', job.job.id, failed, at(3));
      const different = recordJobResult(store.db, 'h-web1', job.job.id, succeeded, at(4));

      expect(first.outcome).toBe('recorded');
      expect(first.entry).toMatchObject({
        state: 'failed',
        failureReason: 'lock-held',
        isLate: false,
        finishedAt: at(2),
      });
      expect(repeat.outcome).toBe('duplicate');
      expect(repeat.entry.finishedAt).toEqual(at(2));
      await expect(different).rejects.toMatchObject({ code: 'JOB_RESULT_CONFLICT', status: 409 });
    });

    it('refuses results for entries never sent, for other hosts, and failures without a reason', async () => {
      const job = await createJob(store, install(['h-web1']), t0);

      await expect(recordJobResult(store.db, 'h-web1', job.job.id, succeeded, at(1))).rejects.toMatchObject({
        code: 'JOB_NOT_SENT',
      });
      await expect(recordJobResult(store.db, 'h-db1', job.job.id, succeeded, at(1))).rejects.toMatchObject({
        code: 'JOB_NOT_FOUND',
      });
      await expect(
        recordJobResult(store.db, 'h-web1', job.job.id, { status: 'failed', exitCode: 1 }, at(1)),
      ).rejects.toMatchObject({ code: 'INVALID_JOB_RESULT' });
    });

    it('cuts output at 64 KiB and flags it', async () => {
      const job = await createJob(store, install(['h-web1']), t0);
      await pendingJobsForCheckin(store, 'h-web1', at(1));

      const { entry } = await recordJobResult(
        store.db,
        'h-web1',
        job.job.id,
        { ...succeeded, stdout: 'x'.repeat(MAX_JOB_OUTPUT_CHARS + 10) },
        at(2),
      );

      expect(entry.result?.stdout).toHaveLength(MAX_JOB_OUTPUT_CHARS);
      expect(entry.result?.stdoutTruncated).toBe(true);
      expect(entry.result?.stderrTruncated).toBe(false);
    });

    it('times out entries past the deadline, frees the host, and still records a late result', async () => {
      const slow = await createJob(store, { ...install(['h-web1', 'h-db1']), deadlineSeconds: 60 }, t0);
      const later = await createJob(
        store,
        { kind: 'scan', selector: { hostIds: ['h-web1'] }, createdBy: null, scope: 'all' },
        at(1),
      );
      await pendingJobsForCheckin(store, 'h-web1', at(2));
      await markJobStarted(store.db, 'h-web1', slow.job.id, at(3));

      const expiredEarly = await expireJobs(store.db, at(59));
      const expired = await expireJobs(store.db, at(60));
      const expiredAgain = await expireJobs(store.db, at(61));
      const next = await pendingJobsForCheckin(store, 'h-web1', at(62));
      const late = await recordJobResult(store.db, 'h-web1', slow.job.id, succeeded, at(70));
      const lateAgain = await recordJobResult(store.db, 'h-web1', slow.job.id, succeeded, at(71));

      expect([expiredEarly, expired, expiredAgain]).toEqual([0, 2, 0]);
      expect(next.map((j) => j.id)).toEqual([later.job.id]);
      expect(late.outcome).toBe('late');
      expect(late.entry).toMatchObject({
        state: 'succeeded',
        isLate: true,
        timedOutAt: at(60),
        finishedAt: at(70),
      });
      expect(lateAgain.outcome).toBe('duplicate');
      const detail = await getJob(store.db, 'all', slow.job.id);
      expect(detail?.job.counts).toMatchObject({ succeeded: 1, 'timed-out': 1 });
      expect(detail?.job.isFinished).toBe(true);
    });

    it('cancels queued entries only; a sent one goes on; nothing left is JOB_NOT_PENDING', async () => {
      const job = await createJob(store, install(['h-web1', 'h-db1']), t0);
      await pendingJobsForCheckin(store, 'h-web1', at(1));

      const result = await cancelJob(store.db, 'all', job.job.id, at(2));
      const again = await cancelJob(store.db, 'all', job.job.id, at(3)).catch((err: unknown) => err);
      const afterCancel = await pendingJobsForCheckin(store, 'h-db1', at(4));

      expect(result).toEqual({ cancelled: 1 });
      expect(again).toMatchObject({ code: 'JOB_NOT_PENDING', status: 409 });
      expect(afterCancel).toEqual([]);
      const states = (await getJob(store.db, 'all', job.job.id))?.hosts.map((h) => [h.hostName, h.state]);
      expect(states).toEqual([
        ['db1', 'cancelled'],
        ['web1', 'sent'],
      ]);
      await expect(recordJobResult(store.db, 'h-db1', job.job.id, succeeded, at(5))).rejects.toMatchObject({
        code: 'JOB_NOT_SENT',
      });
    });

    it('lists jobs newest first by cursor, and a scoped reader sees only jobs and entries of its groups', async () => {
      const made: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        made.push((await createJob(store, install([i % 2 === 0 ? 'h-web1' : 'h-db1']), at(i))).job.id);
      }

      const first = await listJobs(store.db, { scope: 'all', limit: 2 });
      const second = await listJobs(store.db, { scope: 'all', limit: 2, cursor: first.nextCursor });
      const third = await listJobs(store.db, { scope: 'all', limit: 2, cursor: second.nextCursor });
      const scoped = await listJobs(store.db, { scope: ['g-db'] });

      expect([...first.jobs, ...second.jobs, ...third.jobs].map((j) => j.id)).toEqual([...made].reverse());
      expect(third.nextCursor).toBeNull();
      expect(scoped.jobs.map((j) => j.id)).toEqual([made[3], made[1]]);
      expect(await getJob(store.db, ['g-db'], made[0] ?? '')).toBeNull();
      await expect(listJobs(store.db, { scope: 'all', cursor: 'not-a-cursor' })).rejects.toMatchObject({
        code: 'INVALID_CURSOR',
      });
    });

    it('rolls back to the versions a job replaced, on the hosts it ran on', async () => {
      const job = await createJob(store, install(['h-web1', 'h-db1']), t0);
      await pendingJobsForCheckin(store, 'h-web1', at(1));
      await recordJobResult(
        store.db,
        'h-web1',
        job.job.id,
        {
          ...succeeded,
          after: [
            ...succeeded.after,
            { name: 'libssl3', architecture: 'amd64', version: '3.0.15-1~deb12u1' },
          ],
        },
        at(2),
      );

      const rollback = await createJob(
        store,
        { kind: 'rollback', rollbackOf: job.job.id, selector: {}, createdBy: 'u-admin', scope: 'all' },
        at(3),
      );
      const claimed = await pendingJobsForCheckin(store, 'h-web1', at(4));
      const notRun = await createJob(
        store,
        {
          kind: 'rollback',
          rollbackOf: job.job.id,
          selector: { hostIds: ['h-db1'] },
          createdBy: null,
          scope: 'all',
        },
        at(5),
      ).catch((err: unknown) => err);
      const ofScan = await createJob(
        store,
        { kind: 'scan', selector: { hostIds: ['h-db1'] }, createdBy: null, scope: 'all' },
        at(6),
      );

      expect(rollback.hosts.map((h) => h.hostId)).toEqual(['h-web1']);
      expect(claimed[0]?.payload.packages).toEqual([
        { name: 'libssl3', architecture: 'amd64', version: null },
        { name: 'openssl', architecture: 'amd64', version: '3.0.14-1~deb12u2' },
      ]);
      expect(claimed[0]?.payload.rollbackOf).toBe(job.job.id);
      expect(notRun).toMatchObject({ code: 'ROLLBACK_NOT_POSSIBLE', status: 409 });
      await expect(
        createJob(
          store,
          { kind: 'rollback', rollbackOf: ofScan.job.id, selector: {}, createdBy: null, scope: 'all' },
          at(7),
        ),
      ).rejects.toMatchObject({ code: 'JOB_NOT_ROLLBACKABLE' });
    });

    it('sends the group hooks (nearest group first) with package jobs and the named hook with run-hook', async () => {
      await setGroupHook(
        store.db,
        {
          groupId: 'g-web',
          name: 'drain',
          phase: 'pre',
          command: ['/usr/local/bin/drain'],
          timeoutSeconds: 30,
        },
        t0,
      );
      await setGroupHook(
        store.db,
        {
          groupId: 'g-web',
          name: 'undrain',
          phase: 'post',
          command: ['/usr/local/bin/undrain'],
          timeoutSeconds: 30,
        },
        t0,
      );
      await setGroupHook(
        store.db,
        {
          groupId: 'g-web-eu',
          name: 'drain',
          phase: 'pre',
          command: ['/opt/eu/drain', '--fast'],
          timeoutSeconds: 10,
        },
        t0,
      );
      await setGroupHook(
        store.db,
        {
          groupId: 'g-web',
          name: 'restart-nginx',
          phase: 'manual',
          command: ['systemctl', 'restart', 'nginx'],
          timeoutSeconds: 60,
        },
        t0,
      );
      await createJob(
        store,
        { kind: 'upgrade', selector: { groupId: 'g-web' }, isDryRun: true, createdBy: null, scope: 'all' },
        t0,
      );
      const hookJob = await createJob(
        store,
        {
          kind: 'run-hook',
          hook: 'restart-nginx',
          selector: { groupId: 'g-web' },
          createdBy: null,
          scope: 'all',
        },
        at(1),
      );
      const noHook = await createJob(
        store,
        {
          kind: 'run-hook',
          hook: 'restart-nginx',
          selector: { hostIds: ['h-db1'] },
          createdBy: null,
          scope: 'all',
        },
        at(2),
      ).catch((err: unknown) => err);

      const [upgrade] = await pendingJobsForCheckin(store, 'h-web2', at(3));
      await recordJobResult(
        store.db,
        'h-web2',
        upgrade?.id ?? '',
        { ...succeeded, before: [], after: [] },
        at(4),
      );
      const [hook] = await pendingJobsForCheckin(store, 'h-web2', at(5));

      expect(upgrade?.payload).toEqual({
        dryRun: true,
        hooks: {
          pre: [{ name: 'drain', command: ['/opt/eu/drain', '--fast'], timeoutSeconds: 10 }],
          post: [{ name: 'undrain', command: ['/usr/local/bin/undrain'], timeoutSeconds: 30 }],
        },
      });
      expect(hook?.id).toBe(hookJob.job.id);
      expect(hook?.payload).toEqual({
        dryRun: false,
        hook: { name: 'restart-nginx', command: ['systemctl', 'restart', 'nginx'], timeoutSeconds: 60 },
        hooks: { pre: [], post: [] },
      });
      expect(noHook).toMatchObject({ code: 'HOOK_NOT_CONFIGURED', status: 400 });
    });
  });
}
