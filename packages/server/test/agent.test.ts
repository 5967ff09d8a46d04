import { gzipSync } from 'node:zlib';
import { createJob } from '@patchwarden/store';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkin,
  coreFindingPairs,
  countRows,
  createEnrollSecret,
  DEBIAN_12,
  deb,
  enroll,
  findingEvents,
  findingRows,
  image,
  OS_RELEASE_BOOKWORM,
  seedTracker,
  TRACKER_JSON,
} from './agent-fixture.js';
import { createTestServer, type TestServer, testDialects } from './harness.js';

const LOCATION = 'tracker.json';

for (const dialect of testDialects()) {
  describe.skipIf(dialect.skipReason !== null)(
    `server/agent on ${dialect.name}${dialect.skipReason === null ? '' : ` (skipped: ${dialect.skipReason})`}`,
    () => {
      let server: TestServer;
      let secret: string;
      beforeAll(async () => {
        server = await createTestServer(dialect, { bodyLimitBytes: 64 * 1024, checkinIntervalSeconds: 120 });
        await seedTracker(server.store, TRACKER_JSON, LOCATION);
        await server.app.detection.refresh();
        secret = await createEnrollSecret(server, { maxUses: 1000 });
      });
      afterAll(async () => {
        await server?.close();
      });

      async function hostRow(hostId: string) {
        return server.store.db
          .selectFrom('hosts')
          .select([
            'name',
            'machine_id',
            'kernel',
            'inventory_seq',
            'package_set_id',
            'last_seen_at',
            'open_findings',
            'worst_severity',
            'os_distro',
          ])
          .where('id', '=', hostId)
          .executeTakeFirstOrThrow();
      }

      it('enrols an agent and opens the findings core detects for its inventory', async () => {
        const packages = image();

        const enrolled = await enroll(server, secret, {
          hostname: 'web-1',
          machineId: 'machine-web-1',
          packages,
        });

        expect(enrolled).toMatchObject({ checkinIntervalSeconds: 120, isReenrolment: false });
        expect(enrolled.nodeKey).toMatch(/^pwn_/);
        const expected = coreFindingPairs(TRACKER_JSON, LOCATION, DEBIAN_12, packages, server.clock.now);
        expect(expected.length).toBeGreaterThan(3);
        expect(await findingRows(server.store, enrolled.hostId)).toEqual(expected.map((p) => `${p} open`));
        const host = await hostRow(enrolled.hostId);
        expect(host).toMatchObject({
          name: 'web-1',
          machine_id: 'machine-web-1',
          kernel: '6.1.0-18-amd64',
          os_distro: 'debian',
          open_findings: expected.length,
          worst_severity: 'low',
        });
        const audit = await server.store.db
          .selectFrom('audit_log')
          .select(['action', 'actor'])
          .where('target_id', '=', enrolled.hostId)
          .execute();
        expect(audit).toEqual([{ action: 'host.enroll', actor: `agent:${enrolled.hostId}` }]);
        const row = await server.store.db
          .selectFrom('findings')
          .selectAll()
          .where('host_id', '=', enrolled.hostId)
          .where('package_name', '=', 'libssl3')
          .where('advisory_id', '=', 'debian-tracker:CVE-2024-5535')
          .executeTakeFirstOrThrow();
        expect(row).toMatchObject({
          installed_version: '3.0.11-1~deb12u2',
          fixed_version: '3.0.14-1~deb12u1',
          source_package: 'openssl',
          ecosystem: 'deb',
          fix_state: 'fix-available',
          cves: '["CVE-2024-5535"]',
        });
      });

      it('accepts the OS as os-release text', async () => {
        const response = await server.request({
          method: 'POST',
          url: '/api/v1/agent/enroll',
          token: null,
          payload: {
            enrollSecret: secret,
            hostname: 'raw-os',
            inventory: { seq: 0, osRelease: OS_RELEASE_BOOKWORM, packages: image() },
          },
        });

        expect(response.statusCode).toBe(201);
        expect(await hostRow(response.json().hostId)).toMatchObject({ os_distro: 'debian' });
      });

      it('closes a finding with a fixed event when a delta upgrades the package, and reopens it on downgrade', async () => {
        const { hostId, nodeKey } = await enroll(server, secret, { hostname: 'web-2', seq: 10 });
        const fixedOpenssl = [
          deb('openssl', '3.0.15-1~deb12u1', 'openssl'),
          deb('libssl3', '3.0.15-1~deb12u1', 'openssl'),
        ];

        const upgrade = await checkin(server, nodeKey, {
          seq: 11,
          delta: { upsert: fixedOpenssl, remove: [] },
        });
        const afterUpgrade = await findingRows(server.store, hostId);
        server.clock.advance(60_000);
        const downgrade = await checkin(server, nodeKey, {
          seq: 12,
          delta: { upsert: [deb('libssl3', '3.0.11-1~deb12u2', 'openssl')], remove: [] },
        });

        expect([upgrade.statusCode, upgrade.json()]).toEqual([
          200,
          { checkinIntervalSeconds: 120, inventory: 'ok', jobs: [] },
        ]);
        expect(afterUpgrade.filter((r) => r.includes('ssl'))).toEqual([
          'libssl3 debian-tracker:CVE-2023-5678 fixed',
          'libssl3 debian-tracker:CVE-2024-5535 fixed',
          'openssl debian-tracker:CVE-2023-5678 fixed',
          'openssl debian-tracker:CVE-2024-5535 fixed',
        ]);
        expect(downgrade.statusCode).toBe(200);
        const events = (await findingEvents(server.store, hostId)).filter((e) => !e.startsWith('opened'));
        expect(events).toEqual([
          'fixed libssl3 debian-tracker:CVE-2023-5678',
          'fixed libssl3 debian-tracker:CVE-2024-5535',
          'fixed openssl debian-tracker:CVE-2023-5678',
          'fixed openssl debian-tracker:CVE-2024-5535',
          'reopened libssl3 debian-tracker:CVE-2023-5678',
          'reopened libssl3 debian-tracker:CVE-2024-5535',
        ]);
        expect(await hostRow(hostId)).toMatchObject({ open_findings: 4 });
        expect(Number((await hostRow(hostId)).inventory_seq)).toBe(12);
      });

      it('answers a replayed delta and a gap with 409 and writes nothing', async () => {
        const { hostId, nodeKey } = await enroll(server, secret, { hostname: 'web-3' });
        const first = await checkin(server, nodeKey, {
          seq: 1,
          delta: { upsert: [deb('curl', '7.88.1-10+deb12u8')], remove: [] },
        });
        const before = {
          host: await hostRow(hostId),
          overrides: await countRows(server.store, 'host_package_overrides'),
          findings: await findingRows(server.store, hostId),
          events: await countRows(server.store, 'finding_events'),
        };
        server.clock.advance(60_000);

        const replay = await checkin(server, nodeKey, {
          seq: 1,
          delta: { upsert: [deb('zlib1g', '1:1.3-1', 'zlib')], remove: [] },
          kernel: 'changed',
        });
        const gap = await checkin(server, nodeKey, {
          seq: 3,
          delta: { upsert: [], remove: [{ ecosystem: 'deb', name: 'curl', architecture: 'amd64' }] },
        });

        expect(first.statusCode).toBe(200);
        expect([replay.statusCode, replay.json().error.code, replay.json().error.details]).toEqual([
          409,
          'DELTA_REPLAYED',
          { storedSeq: 1, receivedSeq: 1, inventory: 'send-full' },
        ]);
        expect([gap.statusCode, gap.json().error.code]).toEqual([409, 'DELTA_OUT_OF_ORDER']);
        expect({
          host: await hostRow(hostId),
          overrides: await countRows(server.store, 'host_package_overrides'),
          findings: await findingRows(server.store, hostId),
          events: await countRows(server.store, 'finding_events'),
        }).toEqual(before);
      });

      it('treats a heartbeat as cheap: last seen, queued jobs, and send-full when the seq disagrees', async () => {
        const a = await enroll(server, secret, { hostname: 'hb-a', seq: 4 });
        const b = await enroll(server, secret, { hostname: 'hb-b' });
        const created = await createJob(
          server.store,
          { kind: 'scan', selector: { hostIds: [a.hostId] }, createdBy: null, scope: 'all' },
          server.clock.now,
        );
        server.clock.advance(30_000);

        const inSync = await checkin(server, a.nodeKey, {
          seq: 4,
          rebootRequired: true,
          rebootPackages: ['linux-image-amd64'],
        });
        const behind = await checkin(server, a.nodeKey, { seq: 2 });

        expect([inSync.statusCode, inSync.json().inventory]).toEqual([200, 'ok']);
        expect(inSync.json().jobs).toMatchObject([{ id: created.job.id, kind: 'scan', attempt: 1 }]);
        expect((await checkin(server, b.nodeKey, { seq: 0 })).json().jobs).toEqual([]);
        expect(behind.json().inventory).toBe('send-full');
        const host = await server.store.db
          .selectFrom('hosts')
          .select(['last_seen_at', 'reboot_required', 'reboot_packages'])
          .where('id', '=', a.hostId)
          .executeTakeFirstOrThrow();
        expect([
          new Date(host.last_seen_at ?? 0).toISOString(),
          host.reboot_required,
          host.reboot_packages,
        ]).toEqual([server.clock.now.toISOString(), 1, '["linux-image-amd64"]']);
      });

      it('takes a full inventory on check-in and resets the sequence to its seq', async () => {
        const { hostId, nodeKey } = await enroll(server, secret, { hostname: 'full-1' });
        const packages = image().filter((p) => p.name !== 'curl' && p.name !== 'libcurl4');

        const full = await checkin(server, nodeKey, { seq: 40, full: { os: DEBIAN_12, packages } });
        const next = await checkin(server, nodeKey, { seq: 41, delta: { upsert: [], remove: [] } });

        expect([full.statusCode, next.statusCode]).toEqual([200, 200]);
        expect(Number((await hostRow(hostId)).inventory_seq)).toBe(41);
        expect((await findingRows(server.store, hostId)).filter((r) => r.includes('curl'))).toEqual([
          'curl debian-tracker:CVE-2024-2398 fixed',
          'libcurl4 debian-tracker:CVE-2024-2398 fixed',
        ]);
      });

      it('gives a re-enrolling machine the same host and a new key, revoking the old one', async () => {
        const first = await enroll(server, secret, { hostname: 'db-1', machineId: 'machine-db-1' });

        const second = await enroll(server, secret, { hostname: 'db-1-renamed', machineId: 'machine-db-1' });
        const withOld = await checkin(server, first.nodeKey, { seq: 0 });
        const withNew = await checkin(server, second.nodeKey, { seq: 0 });

        expect(second.hostId).toBe(first.hostId);
        expect(second.nodeKey).not.toBe(first.nodeKey);
        expect([withOld.statusCode, withOld.json().error.code]).toEqual([401, 'NODE_KEY_REVOKED']);
        expect([withNew.statusCode, withNew.json().inventory]).toEqual([200, 'ok']);
        expect((await hostRow(first.hostId)).name).toBe('db-1-renamed');
      });

      it('scopes a node key to its own host: the body cannot name another', async () => {
        const a = await enroll(server, secret, { hostname: 'iso-a' });
        const b = await enroll(server, secret, { hostname: 'iso-b' });
        const bBefore = {
          host: await hostRow(b.hostId),
          findings: await findingRows(server.store, b.hostId),
        };

        const named = await checkin(server, a.nodeKey, {
          seq: 1,
          hostId: b.hostId,
          delta: { upsert: [], remove: [] },
        });
        const own = await checkin(server, a.nodeKey, {
          seq: 1,
          delta: { upsert: [], remove: [{ ecosystem: 'deb', name: 'openssl', architecture: 'amd64' }] },
        });

        expect([named.statusCode, named.json().error.code]).toEqual([400, 'INVALID_REQUEST']);
        expect(own.statusCode).toBe(200);
        expect((await findingRows(server.store, a.hostId)).filter((r) => r.startsWith('openssl '))).toEqual([
          'openssl debian-tracker:CVE-2023-5678 fixed',
          'openssl debian-tracker:CVE-2024-5535 fixed',
        ]);
        expect({
          host: await hostRow(b.hostId),
          findings: await findingRows(server.store, b.hostId),
        }).toEqual(bBefore);
      });

      it.each`
        name                | headers                                                               | payload                                                                                                    | status | code
        ${'malformed JSON'} | ${{ 'content-type': 'application/json' }}                             | ${'{"seq": 1, "delta": '}                                                                                  | ${400} | ${'MALFORMED_JSON'}
        ${'wrong types'}    | ${{ 'content-type': 'application/json' }}                             | ${'{"seq": "one", "delta": {"upsert": 3, "remove": []}}'}                                                  | ${400} | ${'INVALID_REQUEST'}
        ${'negative seq'}   | ${{ 'content-type': 'application/json' }}                             | ${'{"seq": -1}'}                                                                                           | ${400} | ${'INVALID_REQUEST'}
        ${'full and delta'} | ${{ 'content-type': 'application/json' }}                             | ${'{"seq": 1, "full": {"osRelease": "ID=debian", "packages": []}, "delta": {"upsert": [], "remove": []}}'} | ${400} | ${'INVALID_CHECKIN'}
        ${'not JSON'}       | ${{ 'content-type': 'application/xml' }}                              | ${'<seq>1</seq>'}                                                                                          | ${415} | ${'UNSUPPORTED_MEDIA_TYPE'}
        ${'broken gzip'}    | ${{ 'content-type': 'application/json', 'content-encoding': 'gzip' }} | ${'not gzip at all'}                                                                                       | ${400} | ${'MALFORMED_GZIP'}
      `(
        'refuses $name on the real check-in route with $status $code',
        async ({ headers, payload, status, code }) => {
          const { nodeKey } = await enroll(server, secret, { hostname: 'bad-input' });

          const response = await server.request({
            method: 'POST',
            url: '/api/v1/agent/checkin',
            token: nodeKey,
            headers,
            payload,
          });

          expect([response.statusCode, response.json().error.code]).toEqual([status, code]);
        },
      );

      it('refuses an oversized body, also gzip-compressed, and accepts a gzip body within the limit', async () => {
        const { hostId, nodeKey } = await enroll(server, secret, { hostname: 'gzip' });
        const big = JSON.stringify({ seq: 0, full: { os: DEBIAN_12, packages: image(1500) } });
        const small = JSON.stringify({
          seq: 1,
          delta: { upsert: [deb('zlib1g', '1:1.2.13.dfsg-2', 'zlib')], remove: [] },
        });
        const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' };

        const plain = await server.request({
          method: 'POST',
          url: '/api/v1/agent/checkin',
          token: nodeKey,
          headers: { 'content-type': 'application/json' },
          payload: big,
        });
        const compressed = await server.request({
          method: 'POST',
          url: '/api/v1/agent/checkin',
          token: nodeKey,
          headers,
          payload: gzipSync(big),
        });
        const ok = await server.request({
          method: 'POST',
          url: '/api/v1/agent/checkin',
          token: nodeKey,
          headers,
          payload: gzipSync(small),
        });

        expect(big.length).toBeGreaterThan(64 * 1024);
        expect(gzipSync(big).length).toBeLessThan(64 * 1024);
        expect([plain.statusCode, plain.json().error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
        expect([compressed.statusCode, compressed.json().error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
        expect([ok.statusCode, ok.json().inventory]).toEqual([200, 'ok']);
        expect((await findingRows(server.store, hostId)).filter((r) => r.startsWith('zlib1g'))).toEqual([]);
      });

      it('parses check-in JSON as the other routes do: bad JSON and prototype keys refused, escapes and a BOM read', async () => {
        const { hostId, nodeKey } = await enroll(server, secret, { hostname: 'json' });
        const refused = [
          '{"seq": 1,',
          '{"seq": 1, "__proto__": {"x": 1}}',
          '{"seq": 1, "\\u005f_proto__": {"x": 1}}',
          '{"seq": 1, "constructor": {"prototype": {"x": 1}}}',
        ];
        const post = (url: string, payload: string, token?: string) =>
          server.request({
            method: 'POST',
            url,
            ...(token === undefined ? {} : { token }),
            headers: { 'content-type': 'application/json' },
            payload,
          });
        const agent = await Promise.all(refused.map((text) => post('/api/v1/agent/checkin', text, nodeKey)));
        const other = await Promise.all(refused.map((text) => post('/api/v1/enroll-secrets', text)));
        const delta = JSON.stringify({
          seq: 1,
          delta: { upsert: [deb('zlib1g', '1:1.2.13.dfsg-2', 'zlib')], remove: [] },
        });
        const escaped = await post(
          '/api/v1/agent/checkin',
          `\ufeff${delta.replace('"zlib1g"', '"\\u007alib1g"')}`,
          nodeKey,
        );

        expect(agent.map((r) => [r.statusCode, r.json().error?.code])).toEqual(
          other.map((r) => [r.statusCode, r.json().error?.code]),
        );
        expect(agent.map((r) => r.statusCode)).toEqual([400, 400, 400, 400]);
        expect([escaped.statusCode, escaped.json().inventory]).toEqual([200, 'ok']);
        expect(
          await server.store.db
            .selectFrom('host_package_overrides')
            .select(['name', 'version'])
            .where('host_id', '=', hostId)
            .execute(),
        ).toEqual([{ name: 'zlib1g', version: '1:1.2.13.dfsg-2' }]);
      });

      it('refuses unknown, missing and user tokens on the check-in route', async () => {
        const unknown = await checkin(server, 'pwn_unknown', { seq: 0 });
        const missing = await server.request({
          method: 'POST',
          url: '/api/v1/agent/checkin',
          token: null,
          payload: { seq: 0 },
        });
        const user = await checkin(server, server.adminToken, { seq: 0 });

        expect([unknown.statusCode, unknown.json().error.code]).toEqual([401, 'INVALID_NODE_KEY']);
        expect([missing.statusCode, missing.json().error.code]).toEqual([401, 'UNAUTHENTICATED']);
        expect([user.statusCode, user.json().error.code]).toEqual([401, 'INVALID_NODE_KEY']);
      });

      it('leaves no partial rows when a check-in fails after writing', async () => {
        const { hostId, nodeKey } = await enroll(server, secret, { hostname: 'fails' });
        const before = {
          host: await hostRow(hostId),
          sets: await countRows(server.store, 'package_sets'),
          members: await countRows(server.store, 'package_set_members'),
          overrides: await countRows(server.store, 'host_package_overrides'),
          findings: await findingRows(server.store, hostId),
        };
        // A corrupt stored advisory makes the index rebuild (inside the check-in's transaction, after
        // the inventory was written) fail.
        const advisoryId = 'debian-tracker:CVE-2024-2398';
        const { record } = await server.store.db
          .selectFrom('advisories')
          .select('record')
          .where('id', '=', advisoryId)
          .executeTakeFirstOrThrow();
        await server.store.db
          .updateTable('advisories')
          .set({ record: '{not json' })
          .where('id', '=', advisoryId)
          .execute();
        await sql`update revisions set value = value + 1 where name = 'advisories'`.execute(server.store.db);
        await expect(server.app.detection.refresh()).rejects.toMatchObject({ code: 'CORRUPT_ROW' });
        server.clock.advance(60_000);

        const response = await checkin(server, nodeKey, {
          seq: 5,
          full: { os: DEBIAN_12, packages: [...image(200), deb('brand-new', '1.0')] },
          kernel: 'new-kernel',
        });

        await server.store.db
          .updateTable('advisories')
          .set({ record })
          .where('id', '=', advisoryId)
          .execute();
        await sql`update revisions set value = value + 1 where name = 'advisories'`.execute(server.store.db);
        await server.app.detection.refresh();
        expect([response.statusCode, response.json().error.code]).toEqual([500, 'CORRUPT_ROW']);
        expect({
          host: await hostRow(hostId),
          sets: await countRows(server.store, 'package_sets'),
          members: await countRows(server.store, 'package_set_members'),
          overrides: await countRows(server.store, 'host_package_overrides'),
          findings: await findingRows(server.store, hostId),
        }).toEqual(before);
      });

      it('stores 100 hosts with the same full inventory as one package set', async () => {
        const fresh = await createTestServer(dialect);
        try {
          const fleetSecret = await createEnrollSecret(fresh);
          const packages = image(300);
          for (let i = 0; i < 100; i++) {
            await enroll(fresh, fleetSecret, { hostname: `node-${i}`, machineId: `m-${i}`, packages });
          }

          expect(await countRows(fresh.store, 'hosts')).toBe(100);
          expect(await countRows(fresh.store, 'package_sets')).toBe(1);
          expect(await countRows(fresh.store, 'package_set_members')).toBe(305);
          expect(await countRows(fresh.store, 'host_package_overrides')).toBe(0);
        } finally {
          await fresh.close();
        }
      });

      it('counts check-ins by kind and outcome in the metrics', async () => {
        const response = await server.request({ method: 'GET', url: '/metrics', token: null });

        expect(response.body).toMatch(/patchwarden_checkins_total\{kind="delta",outcome="ok"\} [1-9]/);
        expect(response.body).toMatch(/patchwarden_checkins_total\{kind="delta",outcome="rejected"\} [1-9]/);
        expect(response.body).toMatch(/patchwarden_checkins_total\{kind="enroll",outcome="ok"\} [1-9]/);
        expect(response.body).toMatch(/patchwarden_hosts_evaluated_total [1-9]/);
      });
    },
  );
}
