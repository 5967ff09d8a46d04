import {
  type Advisory,
  type AdvisoryIndex,
  buildAdvisoryIndex,
  type Criticality,
  createDetectionMemo,
  DEFAULT_SLA_POLICY,
  type DetectionMemo,
  detectFindings,
  dueDate,
  type EpssScore,
  type Finding,
  type FindingEvidence,
  getEcosystem,
  type InstalledPackage,
  type KevEntry,
  type OsIdentity,
  type PackageRef,
  PatchwardenError,
  riskScore,
  type Severity,
  scopeKey,
  scopeOf,
} from '@patchwarden/core';
import {
  ADVISORIES_REVISION,
  advisoryRowId,
  type Database,
  type DetectedFinding,
  findHostsHoldingPackages,
  firstSeenOf,
  getHostPackages,
  listAdvisoryInputs,
  listHostFindingRows,
  loadEpssScores,
  loadKevEntries,
  osOfRow,
  readRevision,
  reconcileHostFindings,
  type Store,
} from '@patchwarden/store';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { DetectionService, HostEvaluation } from './types.js';

/** How often (wall-clock ms) a replica asks the database whether the advisories changed. */
export const REVISION_CHECK_INTERVAL_MS = 1000;

interface IndexState {
  revision: number;
  index: AdvisoryIndex;
  kev: ReadonlyMap<string, KevEntry>;
  epss: ReadonlyMap<string, EpssScore>;
  /** By advisory id and feed location (what evidence names): the stored row id and the record. */
  records: Map<string, { rowId: string; advisory: Advisory }>;
}

/**
 * The detection service of one replica. The advisory index, KEV and EPSS are an in-memory cache
 * of the database, rebuilt when the `advisories` revision moved (checked at most once a second,
 * and on `refresh`), so a feed sync on another replica is picked up. Findings live only in the
 * database. One `DetectionMemo` is shared by all evaluations: hosts with the same package versions
 * are matched once.
 */
export function createDetectionService(deps: {
  store: Store;
  log: FastifyBaseLogger;
  now: () => Date;
}): DetectionService {
  const memo: DetectionMemo = createDetectionMemo();
  let state: IndexState | null = null;
  let checkedAt = Number.NEGATIVE_INFINITY;
  let loading: Promise<IndexState> | null = null;

  async function load(db: Kysely<Database>, revision: number): Promise<IndexState> {
    const started = performance.now();
    const inputs = await listAdvisoryInputs(db);
    const kev = await loadKevEntries(db);
    const epss = await loadEpssScores(db);
    const records = new Map<string, { rowId: string; advisory: Advisory }>();
    for (const input of inputs) {
      records.set(recordLookupKey(input.advisory.id, input.origin?.location ?? null), {
        rowId: advisoryRowId(input.advisory),
        advisory: input.advisory,
      });
    }
    const index = buildAdvisoryIndex(inputs);
    deps.log.info(
      { revision, records: index.stats.records, durationMs: Math.round(performance.now() - started) },
      'detection index built',
    );
    return { revision, index, kev, epss, records };
  }

  /** The index, rebuilt first when the stored revision moved; `force` checks the revision now. */
  async function current(db: Kysely<Database>, force: boolean): Promise<IndexState> {
    const clock = performance.now();
    if (state !== null && !force && clock - checkedAt < REVISION_CHECK_INTERVAL_MS) {
      return state;
    }
    const revision = await readRevision(db, ADVISORIES_REVISION);
    if (state !== null && state.revision === revision) {
      checkedAt = clock;
      return state;
    }
    if (loading === null) {
      loading = load(db, revision).finally(() => {
        loading = null;
      });
    }
    let loaded: IndexState;
    try {
      loaded = await loading;
    } catch (err) {
      // The next evaluation tries again (and fails) rather than judging by an index the
      // database has moved past.
      checkedAt = Number.NEGATIVE_INFINITY;
      throw err;
    }
    checkedAt = clock;
    if (state === null || loaded.revision >= state.revision) {
      state = loaded;
    }
    return loaded;
  }

  async function evaluateHost(
    trx: Kysely<Database>,
    hostId: string,
    options: Parameters<DetectionService['evaluateHost']>[2] = {},
  ): Promise<HostEvaluation> {
    const now = deps.now();
    const index = await current(trx, false);
    const names = options.packageNames;
    // Without an inventory at hand this is a re-evaluation: lock the host row first, as a check-in
    // does, so the two never take the host and its findings in opposite orders (a deadlock).
    const host = options.inventory ?? (await readHost(trx, hostId, names, deps.store.dialect === 'postgres'));
    const existing = options.inventory?.findingRows ?? (await listHostFindingRows(trx, hostId, names));
    const firstSeen = firstSeenOf(existing);
    const { os, packages } = host;
    const criticality = host.criticality;
    const findings = detectFindings(
      index.index,
      { os, packages },
      {
        kev: index.kev,
        epss: index.epss,
        criticality,
        sla: DEFAULT_SLA_POLICY,
        now,
        memo,
        firstSeen: (name) => firstSeen.get(name),
      },
    );
    const detected = findings.flatMap((finding) =>
      toDetectedFindings(finding, index, criticality, firstSeen.get(finding.package) ?? now),
    );
    const openFindings = options.inventory?.openFindings;
    const result = await reconcileHostFindings(
      trx,
      hostId,
      detected,
      {
        existing,
        ...(names === undefined ? {} : { packageNames: names }),
        ...(openFindings === undefined ? {} : { openFindings }),
      },
      now,
    );
    return {
      hostId,
      opened: result.opened,
      reopened: result.reopened,
      fixed: result.fixed,
      open: result.open,
    };
  }

  return {
    evaluateHost,
    async reevaluatePackages(refs: readonly PackageRef[]) {
      const { db } = deps.store;
      await current(db, true);
      const started = performance.now();
      const byScope = new Set(refs.map((ref) => ref.scopeKey));
      const names = [...new Set(refs.map((ref) => ref.name))];
      const hosts = names.length === 0 ? [] : await findHostsHoldingPackages(db, names);
      let evaluated = 0;
      let opened = 0;
      let reopened = 0;
      let fixed = 0;
      for (const host of hosts) {
        if (!isInScope(host.os, byScope)) continue;
        const result = await db.transaction().execute((trx) => evaluateHost(trx, host.hostId));
        evaluated += 1;
        opened += result.opened;
        reopened += result.reopened;
        fixed += result.fixed;
      }
      deps.log.info(
        {
          refs: refs.length,
          hosts: evaluated,
          opened,
          reopened,
          fixed,
          durationMs: Math.round(performance.now() - started),
        },
        'hosts re-evaluated',
      );
      return { hosts: evaluated, opened, reopened, fixed };
    },
    async refresh() {
      return (await current(deps.store.db, true)).revision;
    },
  };
}

/** The host's OS, criticality and packages (those named, or all), read in `trx`. */
async function readHost(
  trx: Kysely<Database>,
  hostId: string,
  names: readonly string[] | undefined,
  isLocking: boolean,
): Promise<{ os: OsIdentity | null; criticality: Criticality; packages: InstalledPackage[] }> {
  const query = trx
    .selectFrom('hosts')
    .select([
      'criticality',
      'os_family',
      'os_distro',
      'os_version',
      'os_version_id',
      'os_codename',
      'os_pretty_name',
      'os_ecosystem',
    ])
    .where('id', '=', hostId);
  const host = await (isLocking ? query.forUpdate() : query).executeTakeFirst();
  if (host === undefined) {
    throw new PatchwardenError('HOST_NOT_FOUND', `host ${hostId} does not exist`, 404);
  }
  const packages =
    names !== undefined && names.length === 0
      ? []
      : await getHostPackages(trx, hostId, names === undefined ? {} : { names });
  return { os: osOfRow(host), criticality: host.criticality, packages };
}

function recordLookupKey(advisoryId: string, location: string | null): string {
  return `${advisoryId}\u0000${location ?? ''}`;
}

/**
 * Whether a host can hold a package under one of the scopes: its OS scope (`debian:12`), or an
 * application ecosystem (`semver`, no colon), which any host may have.
 */
function isInScope(os: ReturnType<typeof osOfRow>, scopes: ReadonlySet<string>): boolean {
  for (const key of scopes) {
    if (!key.includes(':')) return true;
  }
  const scope = scopeOf(os);
  return scope !== null && scopes.has(scopeKey(scope));
}

/**
 * Core's finding is per installed package; the table holds one row per (package, advisory). Each
 * row gets that advisory's own severity, CVEs, KEV/EPSS, risk, due date, fixed version and evidence.
 */
function toDetectedFindings(
  finding: Finding,
  state: IndexState,
  criticality: Criticality,
  firstSeen: Date,
): DetectedFinding[] {
  const groups = new Map<string, FindingEvidence[]>();
  for (const evidence of finding.evidence) {
    const key = recordLookupKey(evidence.advisoryId, evidence.feed?.location ?? null);
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [evidence]);
    else list.push(evidence);
  }
  const compare = getEcosystem(finding.ecosystem)?.compare ?? null;
  const rows: DetectedFinding[] = [];
  for (const [key, evidence] of groups) {
    const record = state.records.get(key);
    const first = evidence[0];
    if (record === undefined || first === undefined) continue;
    const { advisory } = record;
    const severity = severityFor(advisory, evidence);
    const cves = cvesOf(advisory);
    let isKev = false;
    let kevDueDate: string | null = null;
    let ransomware = false;
    let epss: number | null = null;
    for (const cve of cves) {
      const kev = state.kev.get(cve);
      if (kev !== undefined) {
        isKev = true;
        ransomware ||= kev.knownRansomwareUse;
        if (kevDueDate === null || kev.dueDate < kevDueDate) kevDueDate = kev.dueDate;
      }
      const score = state.epss.get(cve)?.epss;
      if (score !== undefined && (epss === null || score > epss)) epss = score;
    }
    const cvss = advisory.cvss.reduce<number | null>(
      (max, s) => (max === null || s.baseScore > max ? s.baseScore : max),
      null,
    );
    let fixedVersion: string | null = null;
    for (const e of evidence) {
      if (e.fixedVersion === null) continue;
      if (fixedVersion === null || (compare !== null && compare(e.fixedVersion, fixedVersion) > 0)) {
        fixedVersion = e.fixedVersion;
      }
    }
    const due = dueDate({ severity, isKev, kevDueDate, firstSeen }, DEFAULT_SLA_POLICY);
    rows.push({
      advisoryId: record.rowId,
      packageName: finding.package,
      installedVersion: finding.installedVersion,
      fixedVersion,
      severity,
      riskScore: riskScore({
        severity,
        cvssScore: cvss,
        epss,
        isKev,
        knownRansomwareUse: ransomware,
        criticality,
      }),
      dueAt: due === null ? null : new Date(`${due}T00:00:00Z`),
      ecosystem: finding.ecosystem,
      architecture: finding.architecture,
      sourcePackage: finding.sourcePackage,
      fixState: fixedVersion === null ? first.fixState : 'fix-available',
      cves,
      isKev,
      epss,
      evidence,
    });
  }
  return rows;
}

/** The affected package's own severity where the record gives one, else the record's. */
function severityFor(advisory: Advisory, evidence: readonly FindingEvidence[]): Severity {
  const names = new Set(evidence.map((e) => e.matchedName));
  for (const affected of advisory.affected) {
    if (affected.severity !== null && names.has(affected.name)) return affected.severity;
  }
  return advisory.severity;
}

function cvesOf(advisory: Advisory): string[] {
  const cves = new Set(advisory.cves);
  for (const id of [advisory.id, ...advisory.aliases]) {
    if (id.startsWith('CVE-')) cves.add(id);
  }
  return [...cves].sort();
}
