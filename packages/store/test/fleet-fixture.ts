import type { InstalledPackage, OsIdentity } from '@patchwarden/core';
import type { Kysely } from 'kysely';
import { createHost, rewriteHostRollups, setHostInventory, writeTimestamp } from '../src/index.js';
import type { Database } from '../src/schema.js';

// A small fleet whose fleet-query answers are worked out by hand in the tests (store and server).
//
//   host     group  os           labels                 packages (set + overrides)       open findings
//   alpha    web    debian 12    env=prod team=web      image                            A1 openssl (critical, KEV, past due), A2 openssl (high)
//   bravo    web    debian 12    env=staging            image                            A1 openssl (critical, KEV, past due)
//   charlie  db     ubuntu 22.04 env=prod               ubuntu + openssl (override)      A3 curl (medium), A4 zlib (low, no fix)
//   delta    -      debian 12    -                      image - openssl (override)       -
//   echo     db     debian 11    env=prod               -                                - (A3 curl is fixed)

export const FIXTURE_NOW = new Date('2026-11-22T10:00:00.000Z');
const PAST = '2026-11-01T00:00:00.000Z';
const FUTURE = '2026-12-15T00:00:00.000Z';
const LATER = '2027-01-15T00:00:00.000Z';

export const GROUPS = { web: 'group-web', db: 'group-db' } as const;

export const ADVISORIES = {
  a1: 'osv:DSA-0001-1',
  a2: 'osv:DSA-0002-1',
  a3: 'osv:USN-0003-1',
  a4: 'osv:USN-0004-1',
} as const;

export interface FleetFixture {
  hosts: { alpha: string; bravo: string; charlie: string; delta: string; echo: string };
  findings: {
    alphaA1: string;
    alphaA2: string;
    bravoA1: string;
    charlieA3: string;
    charlieA4: string;
    echoA3: string;
  };
}

function os(distro: string, versionId: string, family: 'debian' = 'debian'): OsIdentity {
  return {
    family,
    distro,
    version: versionId,
    versionId,
    codename: null,
    prettyName: `${distro} ${versionId}`,
    ecosystem: 'deb',
  };
}

function deb(name: string, version: string): InstalledPackage {
  return { name, version, architecture: 'amd64', source: null, ecosystem: 'deb' };
}

const IMAGE = [
  deb('openssl', '3.0.11-1~deb12u1'),
  deb('bash', '5.2.15-2+b7'),
  deb('libssl3', '3.0.11-1~deb12u1'),
];
const UBUNTU = [deb('curl', '8.2.0-1ubuntu1'), deb('zlib1g', '1:1.2.13.dfsg-1'), deb('bash', '5.1-6ubuntu1')];

/** Seeds the fixture fleet through the host repository and direct finding rows; rollups via the findings repository. */
export async function seedFleet(db: Kysely<Database>, now = FIXTURE_NOW): Promise<FleetFixture> {
  const at = writeTimestamp(now);
  await db
    .insertInto('host_groups')
    .values([
      { id: GROUPS.web, name: 'web', parent_id: null, description: null, created_at: at },
      { id: GROUPS.db, name: 'db', parent_id: null, description: null, created_at: at },
    ])
    .execute();
  for (const [id, severity] of [
    [ADVISORIES.a1, 'critical'],
    [ADVISORIES.a2, 'high'],
    [ADVISORIES.a3, 'medium'],
    [ADVISORIES.a4, 'low'],
  ] as const) {
    const [source, externalId] = id.split(':') as [string, string];
    await db
      .insertInto('advisories')
      .values({
        id,
        source,
        external_id: externalId,
        title: `${externalId} title`,
        severity,
        cvss_score: null,
        aliases: '[]',
        published_at: null,
        modified_at: null,
        withdrawn_at: null,
        content_hash: id,
        feed_id: null,
        // A record as putAdvisories stores it, so that detection can load it (these name no
        // packages: the fixture's findings rows are written by hand below).
        record: JSON.stringify({
          advisory: {
            id: externalId,
            source,
            aliases: [],
            related: [],
            cves: [],
            summary: null,
            published: null,
            modified: null,
            withdrawn: null,
            severity,
            cvss: [],
            affected: [],
            references: [],
          },
          origin: null,
        }),
      })
      .execute();
  }
  await db
    .insertInto('kev_entries')
    .values({ cve_id: 'CVE-2024-0001', feed_id: null, record: '{}', content_hash: 'k1' })
    .execute();

  const alpha = await createHost(
    db,
    { name: 'alpha', os: os('debian', '12'), labels: { env: 'prod', team: 'web' }, groupId: GROUPS.web },
    now,
  );
  const bravo = await createHost(
    db,
    { name: 'bravo', os: os('debian', '12'), labels: { env: 'staging' }, groupId: GROUPS.web },
    now,
  );
  const charlie = await createHost(
    db,
    {
      name: 'charlie',
      os: os('ubuntu', '22.04'),
      labels: { env: 'prod' },
      groupId: GROUPS.db,
      criticality: 'high',
    },
    now,
  );
  const delta = await createHost(db, { name: 'delta', os: os('debian', '12') }, now);
  const echo = await createHost(
    db,
    { name: 'echo', os: os('debian', '11'), labels: { env: 'prod' }, groupId: GROUPS.db },
    now,
  );
  await setHostInventory(db, alpha.id, IMAGE, now);
  await setHostInventory(db, bravo.id, IMAGE, now);
  await setHostInventory(db, charlie.id, UBUNTU, now);
  await setHostInventory(db, delta.id, IMAGE, now);
  await db
    .insertInto('host_package_overrides')
    .values([
      {
        host_id: charlie.id,
        ecosystem: 'deb',
        name: 'openssl',
        architecture: 'amd64',
        version: '3.0.2-0ubuntu1',
        source_name: null,
        source_version: null,
      },
      {
        host_id: delta.id,
        ecosystem: 'deb',
        name: 'openssl',
        architecture: 'amd64',
        version: null,
        source_name: null,
        source_version: null,
      },
    ])
    .execute();
  // Seen: alpha 1 h ago, bravo 3 days ago, charlie 10 minutes ago, echo 30 hours ago; delta never.
  for (const [id, hoursAgo] of [
    [alpha.id, 1],
    [bravo.id, 72],
    [charlie.id, 1 / 6],
    [echo.id, 30],
  ] as const) {
    await db
      .updateTable('hosts')
      .set({ last_seen_at: writeTimestamp(new Date(now.getTime() - hoursAgo * 3_600_000)) })
      .where('id', '=', id)
      .execute();
  }
  await db.updateTable('hosts').set({ reboot_required: 1 }).where('id', 'in', [alpha.id, echo.id]).execute();

  const findings = {
    alphaA1: await insertFinding(db, {
      hostId: alpha.id,
      advisoryId: ADVISORIES.a1,
      packageName: 'openssl',
      fixedVersion: '3.0.15-1~deb12u1',
      severity: 'critical',
      riskScore: 90,
      dueAt: PAST,
      cves: ['CVE-2024-0001', 'CVE-2024-0002'],
      isKev: true,
      openedAt: at,
    }),
    alphaA2: await insertFinding(db, {
      hostId: alpha.id,
      advisoryId: ADVISORIES.a2,
      packageName: 'openssl',
      fixedVersion: '3.0.15-1~deb12u1',
      severity: 'high',
      riskScore: 70,
      dueAt: FUTURE,
      cves: ['CVE-2024-0003'],
      openedAt: at,
    }),
    bravoA1: await insertFinding(db, {
      hostId: bravo.id,
      advisoryId: ADVISORIES.a1,
      packageName: 'openssl',
      fixedVersion: '3.0.15-1~deb12u1',
      severity: 'critical',
      riskScore: 85,
      dueAt: PAST,
      cves: ['CVE-2024-0001', 'CVE-2024-0002'],
      isKev: true,
      openedAt: at,
    }),
    charlieA3: await insertFinding(db, {
      hostId: charlie.id,
      advisoryId: ADVISORIES.a3,
      packageName: 'curl',
      fixedVersion: '8.5.0-2ubuntu1',
      severity: 'medium',
      riskScore: 40,
      dueAt: LATER,
      cves: ['CVE-2024-0004'],
      openedAt: at,
    }),
    charlieA4: await insertFinding(db, {
      hostId: charlie.id,
      advisoryId: ADVISORIES.a4,
      packageName: 'zlib1g',
      fixedVersion: null,
      fixState: 'no-fix-yet',
      severity: 'low',
      riskScore: 10,
      dueAt: null,
      cves: ['CVE-2024-0005'],
      openedAt: at,
    }),
    echoA3: await insertFinding(db, {
      hostId: echo.id,
      advisoryId: ADVISORIES.a3,
      packageName: 'curl',
      fixedVersion: '8.5.0-2ubuntu1',
      severity: 'medium',
      riskScore: 40,
      dueAt: PAST,
      cves: ['CVE-2024-0004'],
      status: 'fixed',
      openedAt: at,
    }),
  };
  await db
    .insertInto('finding_events')
    .values([
      {
        id: 'ev-1',
        finding_id: findings.echoA3,
        kind: 'opened',
        at: '2026-11-10T00:00:00.000Z',
        actor: null,
        detail: '{"installedVersion":"8.2.0-1"}',
      },
      {
        id: 'ev-2',
        finding_id: findings.echoA3,
        kind: 'fixed',
        at: '2026-11-20T00:00:00.000Z',
        actor: 'agent',
        detail: '{"installedVersion":"8.5.0-2ubuntu1"}',
      },
    ])
    .execute();
  for (const host of [alpha, bravo, charlie, delta, echo]) {
    await rewriteHostRollups(db, host.id);
  }
  return {
    hosts: { alpha: alpha.id, bravo: bravo.id, charlie: charlie.id, delta: delta.id, echo: echo.id },
    findings,
  };
}

let findingCounter = 0;

/** Inserts one finding row as the detection writer would; returns its id. */
export async function insertFinding(
  db: Kysely<Database>,
  input: {
    hostId: string;
    advisoryId: string;
    packageName: string;
    fixedVersion: string | null;
    severity: string | null;
    riskScore: number | null;
    dueAt: string | null;
    cves: string[];
    openedAt: string;
    isKev?: boolean;
    status?: 'open' | 'fixed' | 'waived';
    fixState?: string;
    id?: string;
  },
): Promise<string> {
  findingCounter += 1;
  const id = input.id ?? `finding-${String(findingCounter).padStart(6, '0')}`;
  await db
    .insertInto('findings')
    .values({
      id,
      host_id: input.hostId,
      advisory_id: input.advisoryId,
      package_name: input.packageName,
      installed_version: '0',
      fixed_version: input.fixedVersion,
      severity: input.severity,
      risk_score: input.riskScore,
      status: input.status ?? 'open',
      opened_at: input.openedAt,
      fixed_at: input.status === 'fixed' ? input.openedAt : null,
      due_at: input.dueAt,
      ecosystem: 'deb',
      architecture: 'amd64',
      source_package: input.packageName,
      fix_state: input.fixState ?? (input.fixedVersion === null ? 'no-fix-yet' : 'fix-available'),
      cves: JSON.stringify(input.cves),
      is_kev: input.isKev === true ? 1 : 0,
      epss: null,
      evidence: JSON.stringify({ advisoryId: input.advisoryId }),
      updated_at: input.openedAt,
    })
    .execute();
  return id;
}
