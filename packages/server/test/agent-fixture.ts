import {
  buildAdvisoryIndex,
  createDetectionMemo,
  DEFAULT_SLA_POLICY,
  detectFindings,
  type InstalledPackage,
  type OsIdentity,
  parseDebianTrackerJson,
} from '@patchwarden/core';
import { type PutAdvisoriesResult, putAdvisories, putKevEntries, type Store } from '@patchwarden/store';
import { expect } from 'vitest';
import type { TestServer } from './harness.js';

// Shared by the agent and detection tests: a small Debian tracker document in the real feed's
// shape (https://security-tracker.debian.org/tracker/data/json), a Debian 12 image, and helpers
// to enrol agents and read what the server stored.

export const DEBIAN_12: OsIdentity = {
  family: 'debian',
  distro: 'debian',
  version: '12',
  versionId: '12',
  codename: 'bookworm',
  prettyName: 'Debian GNU/Linux 12 (bookworm)',
  ecosystem: 'deb',
};

export const OS_RELEASE_BOOKWORM = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`;

export const UBUNTU_2204: OsIdentity = {
  family: 'debian',
  distro: 'ubuntu',
  version: '22.04',
  versionId: '22.04',
  codename: 'jammy',
  prettyName: 'Ubuntu 22.04.4 LTS',
  ecosystem: 'deb',
};

/** openssl: two CVEs fixed in bookworm at different versions; curl: open, no fix yet. */
export const TRACKER_JSON = JSON.stringify({
  openssl: {
    'CVE-2024-5535': {
      description: 'SSL_select_next_proto buffer overread',
      scope: 'remote',
      releases: {
        bookworm: {
          status: 'resolved',
          repositories: { bookworm: '3.0.15-1~deb12u1' },
          fixed_version: '3.0.14-1~deb12u1',
          urgency: 'not yet assigned',
        },
      },
    },
    'CVE-2023-5678': {
      description: 'Excessive time spent in DH check / generation with large Q parameter value',
      scope: 'remote',
      releases: {
        bookworm: {
          status: 'resolved',
          repositories: { bookworm: '3.0.15-1~deb12u1' },
          fixed_version: '3.0.13-1~deb12u1',
          urgency: 'not yet assigned',
        },
      },
    },
  },
  curl: {
    'CVE-2024-2398': {
      description: 'HTTP/2 push headers memory-leak',
      scope: 'remote',
      releases: {
        bookworm: {
          status: 'open',
          repositories: { bookworm: '7.88.1-10+deb12u5' },
          urgency: 'low',
          nodsa: 'Minor issue',
          nodsa_reason: '',
        },
      },
    },
  },
});

/** An advisory added later for zlib (a feed sync's change). */
export const ZLIB_TRACKER_JSON = JSON.stringify({
  zlib: {
    'CVE-2023-45853': {
      description: 'MiniZip integer overflow',
      scope: 'remote',
      releases: {
        bookworm: {
          status: 'resolved',
          repositories: { bookworm: '1:1.2.13.dfsg-1' },
          fixed_version: '1:1.2.13.dfsg-2',
          urgency: 'low',
        },
      },
    },
  },
});

export function deb(name: string, version: string, source: string | null = null): InstalledPackage {
  return {
    name,
    version,
    architecture: 'amd64',
    source: source === null ? null : { name: source, version },
    ecosystem: 'deb',
  };
}

/** A Debian 12 server image: vulnerable openssl (binary and library), curl, zlib and filler. */
export function image(filler = 30): InstalledPackage[] {
  const packages = [
    deb('openssl', '3.0.11-1~deb12u2', 'openssl'),
    deb('libssl3', '3.0.11-1~deb12u2', 'openssl'),
    deb('curl', '7.88.1-10+deb12u5'),
    deb('libcurl4', '7.88.1-10+deb12u5', 'curl'),
    deb('zlib1g', '1:1.2.13.dfsg-1', 'zlib'),
  ];
  for (let i = 0; i < filler; i++) packages.push(deb(`filler${i}`, `1.${i}-1`));
  return packages;
}

/** Parses and stores a tracker document, as a feed sync would; returns what `putAdvisories` said. */
export async function seedTracker(
  store: Store,
  json: string,
  location: string,
): Promise<PutAdvisoriesResult> {
  const parsed = parseDebianTrackerJson(json, location);
  expect(parsed.skipped).toEqual([]);
  return store.db.transaction().execute((trx) =>
    putAdvisories(trx, {
      feedId: null,
      inputs: parsed.advisories.map((advisory) => ({
        advisory,
        origin: { location, timestamp: null },
      })),
      isCompleteSnapshot: false,
    }),
  );
}

export async function seedKev(store: Store, cve: string): Promise<void> {
  await store.db.transaction().execute((trx) =>
    putKevEntries(trx, {
      feedId: null,
      entries: [
        {
          cve,
          vendorProject: 'OpenSSL',
          product: 'OpenSSL',
          name: 'OpenSSL buffer overread',
          dateAdded: '2026-11-01',
          dueDate: '2026-11-29',
          knownRansomwareUse: false,
        },
      ],
    }),
  );
}

/** What core says for this inventory: `package advisory` pairs, sorted. */
export function coreFindingPairs(
  json: string,
  location: string,
  os: OsIdentity,
  packages: InstalledPackage[],
  now: Date,
): string[] {
  const parsed = parseDebianTrackerJson(json, location);
  const index = buildAdvisoryIndex(
    parsed.advisories.map((advisory) => ({ advisory, origin: { location, timestamp: null } })),
  );
  const findings = detectFindings(
    index,
    { os, packages },
    {
      kev: new Map(),
      epss: new Map(),
      criticality: 'medium',
      sla: DEFAULT_SLA_POLICY,
      now,
      memo: createDetectionMemo(),
    },
  );
  return findings.flatMap((f) => f.advisories.map((a) => `${f.package} debian-tracker:${a}`)).sort();
}

export async function createEnrollSecret(
  server: TestServer,
  body: Record<string, unknown> = {},
): Promise<string> {
  const response = await server.request({
    method: 'POST',
    url: '/api/v1/enroll-secrets',
    payload: { name: 'fleet', ...body },
  });
  expect(response.statusCode).toBe(201);
  return response.json().secret as string;
}

export interface Enrolled {
  hostId: string;
  nodeKey: string;
}

export async function enroll(
  server: TestServer,
  secret: string,
  options: {
    hostname?: string;
    machineId?: string;
    packages?: InstalledPackage[];
    os?: OsIdentity;
    seq?: number;
  } = {},
): Promise<Enrolled> {
  const response = await server.request({
    method: 'POST',
    url: '/api/v1/agent/enroll',
    token: null,
    payload: {
      enrollSecret: secret,
      hostname: options.hostname ?? 'web-1',
      ...(options.machineId === undefined ? {} : { machineId: options.machineId }),
      kernel: '6.1.0-18-amd64',
      agentVersion: '0.1.0',
      inventory: {
        seq: options.seq ?? 0,
        os: options.os ?? DEBIAN_12,
        packages: options.packages ?? image(),
      },
    },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as Enrolled;
}

export function checkin(server: TestServer, nodeKey: string, payload: Record<string, unknown>) {
  return server.request({ method: 'POST', url: '/api/v1/agent/checkin', token: nodeKey, payload });
}

/** The host's finding rows as `package advisory status`, sorted. */
export async function findingRows(store: Store, hostId: string): Promise<string[]> {
  const rows = await store.db
    .selectFrom('findings')
    .select(['package_name', 'advisory_id', 'status'])
    .where('host_id', '=', hostId)
    .execute();
  return rows.map((r) => `${r.package_name} ${r.advisory_id} ${r.status}`).sort();
}

/** The host's finding events as `kind package advisory`, in order. */
export async function findingEvents(store: Store, hostId: string): Promise<string[]> {
  const rows = await store.db
    .selectFrom('finding_events')
    .innerJoin('findings', 'findings.id', 'finding_events.finding_id')
    .select(['finding_events.kind', 'findings.package_name', 'findings.advisory_id', 'finding_events.at'])
    .where('findings.host_id', '=', hostId)
    .execute();
  return rows
    .sort(
      (a, b) =>
        new Date(a.at).getTime() - new Date(b.at).getTime() ||
        `${a.package_name} ${a.advisory_id}`.localeCompare(`${b.package_name} ${b.advisory_id}`),
    )
    .map((r) => `${r.kind} ${r.package_name} ${r.advisory_id}`);
}

export async function countRows(
  store: Store,
  table:
    | 'package_sets'
    | 'package_set_members'
    | 'host_package_overrides'
    | 'findings'
    | 'finding_events'
    | 'hosts',
): Promise<number> {
  const row = await store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
