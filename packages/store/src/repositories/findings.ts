import { randomUUID } from 'node:crypto';
import { type Insertable, type Kysely, type Selectable, sql, type Updateable } from 'kysely';
import { readOptionalTimestamp, readTimestamp, writeTimestamp } from '../codec.js';
import { insertRows, reusable } from '../compiled.js';
import type { Database, FindingEventKind, FindingsTable } from '../schema.js';

// A host's findings: one row per host × installed package × advisory (`findings`), with their
// history in `finding_events`. `reconcileHostFindings` turns what detection just said into row
// changes and events; it is the only writer of the host's rollup columns.

// Rows per multi-row statement and values per `in (…)` list: far below both databases' limits.
const CHUNK = 200;

/** Severity words from worst to least, for `hosts.worst_severity`. */
const SEVERITY_ORDER = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'] as const;

/** One (installed package, advisory) that detection says applies to the host now. */
export interface DetectedFinding {
  /** The stored advisory row id (`advisories.id`, `<source>:<id>`). */
  advisoryId: string;
  /** The installed binary package name. */
  packageName: string;
  installedVersion: string;
  fixedVersion: string | null;
  severity: string | null;
  riskScore: number | null;
  dueAt: Date | null;
  ecosystem: string | null;
  architecture: string | null;
  sourcePackage: string | null;
  fixState: string | null;
  cves: readonly string[];
  isKev: boolean;
  epss: number | null;
  /** Core's `FindingEvidence` entries for this advisory; stored as JSON. */
  evidence: unknown;
}

/** When a package's finding rows were first opened, for due dates computed from first sight. */
export interface FindingFirstSeen {
  packageName: string;
  openedAt: Date;
}

export interface ReconcileResult {
  opened: number;
  reopened: number;
  fixed: number;
  /** Rows whose details changed while staying open (or waived). */
  updated: number;
  /** Open finding rows of the host afterwards. */
  open: number;
}

/**
 * The earliest `opened_at` of the host's open (or waived) finding rows, per installed package
 * (optionally only those in `packageNames`), so a re-evaluation keeps its due dates.
 */
export async function findingsFirstSeen(
  db: Kysely<Database>,
  hostId: string,
  packageNames?: readonly string[],
): Promise<Map<string, Date>> {
  return firstSeenOf(await listHostFindingRows(db, hostId, packageNames));
}

/** The earliest `opened_at` of the open (or waived) rows per installed package. */
export function firstSeenOf(rows: readonly FindingRow[]): Map<string, Date> {
  const firstSeen = new Map<string, Date>();
  for (const row of rows) {
    if (row.status === 'fixed') continue;
    const at = readTimestamp(row.opened_at);
    const seen = firstSeen.get(row.package_name);
    if (seen === undefined || at < seen) firstSeen.set(row.package_name, at);
  }
  return firstSeen;
}

/** The host's finding rows (any status), optionally only those of the installed packages named. */
export async function listHostFindingRows(
  db: Kysely<Database>,
  hostId: string,
  packageNames: readonly string[] | undefined,
): Promise<FindingRow[]> {
  if (packageNames === undefined) {
    return reusable(
      db,
      'findings.host',
      (slot) => db.selectFrom('findings').selectAll().where('host_id', '=', slot(0)),
      [hostId],
    );
  }
  const unique = [...new Set(packageNames)];
  const rows: FindingRow[] = [];
  for (let i = 0; i < unique.length; i += CHUNK) {
    const chunk = unique.slice(i, i + CHUNK);
    rows.push(
      ...(await reusable(
        db,
        `findings.host-packages:${chunk.length}`,
        (slot) =>
          db
            .selectFrom('findings')
            .selectAll()
            .where('host_id', '=', slot(0))
            .where(
              'package_name',
              'in',
              chunk.map((_, j) => slot(j + 1)),
            ),
        [hostId, ...chunk],
      )),
    );
  }
  return rows;
}

/**
 * Makes the host's finding rows match `detected`, in the caller's transaction: a new (package,
 * advisory) is inserted with an `opened` event; a `fixed` row detected again is reopened (`reopened`
 * event, `opened_at` now, `fixed_at` cleared); an open or waived row no longer detected becomes
 * `fixed` with `fixed_at` and a `fixed` event; rows still detected get changed details written
 * (waived rows stay waived). With `packageNames`, only rows of those installed packages are judged
 * (`detected` must then hold only those packages). Then rewrites the host's rollups from its open
 * rows. Two detected entries with the same (package, advisory), e.g. one package for two
 * architectures, count once (the first wins).
 */
export async function reconcileHostFindings(
  trx: Kysely<Database>,
  hostId: string,
  detected: readonly DetectedFinding[],
  options: {
    packageNames?: readonly string[];
    /** The rows `listHostFindingRows` returned for the same host and names in this transaction. */
    existing?: readonly FindingRow[];
    /** The host's `open_findings` as read in this transaction; saves reading it when nothing changes. */
    openFindings?: number;
  },
  now: Date,
): Promise<ReconcileResult> {
  const at = writeTimestamp(now);
  const existing = new Map<string, FindingRow>();
  for (const row of (await options.existing) ??
    (await listHostFindingRows(trx, hostId, options.packageNames))) {
    existing.set(`${row.package_name}\u0000${row.advisory_id}`, row);
  }
  const inserts: Insertable<FindingsTable>[] = [];
  const events: Array<{ findingId: string; kind: FindingEventKind; detail: Record<string, unknown> }> = [];
  const seen = new Set<string>();
  let reopened = 0;
  let updated = 0;
  for (const finding of detected) {
    const key = `${finding.packageName}\u0000${finding.advisoryId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const details = detailColumns(finding);
    const row = existing.get(key);
    if (row === undefined) {
      const id = randomUUID();
      inserts.push({
        id,
        host_id: hostId,
        advisory_id: finding.advisoryId,
        package_name: finding.packageName,
        status: 'open',
        opened_at: at,
        fixed_at: null,
        updated_at: at,
        ...details,
      });
      events.push({ findingId: id, kind: 'opened', detail: versionsOf(finding) });
      continue;
    }
    if (row.status === 'fixed') {
      await updateFinding(trx, row.id, {
        ...details,
        status: 'open',
        opened_at: at,
        fixed_at: null,
        updated_at: at,
      });
      events.push({ findingId: row.id, kind: 'reopened', detail: versionsOf(finding) });
      reopened += 1;
      continue;
    }
    if (hasChanged(row, details)) {
      await updateFinding(trx, row.id, { ...details, updated_at: at });
      updated += 1;
    }
  }
  const fixedIds: string[] = [];
  for (const [key, row] of existing) {
    if (row.status === 'fixed' || seen.has(key)) continue;
    fixedIds.push(row.id);
    events.push({
      findingId: row.id,
      kind: 'fixed',
      detail: { installedVersion: row.installed_version, fixedVersion: row.fixed_version },
    });
  }
  for (let i = 0; i < fixedIds.length; i += CHUNK) {
    const chunk = fixedIds.slice(i, i + CHUNK);
    await reusable(
      trx,
      `findings.fix:${chunk.length}`,
      (slot) =>
        trx
          .updateTable('findings')
          .set({ status: sql.lit('fixed'), fixed_at: slot(0), updated_at: slot(0) })
          .where(
            'id',
            'in',
            chunk.map((_, j) => slot(j + 1)),
          ),
      [at, ...chunk],
    );
  }
  for (let i = 0; i < inserts.length; i += CHUNK) {
    await insertRows(trx, 'findings', inserts.slice(i, i + CHUNK));
  }
  for (let i = 0; i < events.length; i += CHUNK) {
    await insertRows(
      trx,
      'finding_events',
      events.slice(i, i + CHUNK).map((e) => ({
        id: randomUUID(),
        finding_id: e.findingId,
        kind: e.kind,
        at,
        actor: null,
        detail: JSON.stringify(e.detail),
      })),
    );
  }
  const isChanged = inserts.length + reopened + updated + fixedIds.length > 0;
  const open = isChanged
    ? await rewriteHostRollups(trx, hostId)
    : (options.openFindings ?? (await countOpen(trx, hostId)));
  return { opened: inserts.length, reopened, fixed: fixedIds.length, updated, open };
}

/** Updates one finding row's columns (the same few sets of columns every time: a reusable statement). */
async function updateFinding(
  trx: Kysely<Database>,
  id: string,
  columns: Updateable<FindingsTable>,
): Promise<void> {
  const names = Object.keys(columns) as Array<keyof typeof columns>;
  await reusable(
    trx,
    `findings.update:${names.join(',')}`,
    (slot) =>
      trx
        .updateTable('findings')
        .set(Object.fromEntries(names.map((name, i) => [name, slot(i + 1)])))
        .where('id', '=', slot(0)),
    [id, ...names.map((name) => columns[name])],
  );
}

export type FindingRow = Selectable<FindingsTable>;

type DetailColumns = Pick<
  Insertable<FindingsTable>,
  | 'installed_version'
  | 'fixed_version'
  | 'severity'
  | 'risk_score'
  | 'due_at'
  | 'ecosystem'
  | 'architecture'
  | 'source_package'
  | 'fix_state'
  | 'cves'
  | 'is_kev'
  | 'epss'
  | 'evidence'
>;

function detailColumns(finding: DetectedFinding): DetailColumns {
  return {
    installed_version: finding.installedVersion,
    fixed_version: finding.fixedVersion,
    severity: finding.severity,
    risk_score: finding.riskScore,
    due_at: finding.dueAt === null ? null : writeTimestamp(finding.dueAt),
    ecosystem: finding.ecosystem,
    architecture: finding.architecture,
    source_package: finding.sourcePackage,
    fix_state: finding.fixState,
    cves: JSON.stringify(finding.cves),
    is_kev: finding.isKev ? 1 : 0,
    epss: finding.epss,
    evidence: JSON.stringify(finding.evidence),
  };
}

function hasChanged(row: FindingRow, details: DetailColumns): boolean {
  for (const [column, value] of Object.entries(details) as Array<[keyof DetailColumns, unknown]>) {
    const stored = row[column];
    if (column === 'due_at') {
      const storedMs = readOptionalTimestamp(stored as Date | string | null)?.getTime() ?? null;
      const valueMs = value === null ? null : new Date(value as string).getTime();
      if (storedMs !== valueMs) return true;
      continue;
    }
    if (typeof value === 'number' && stored !== null) {
      if (Number(stored) !== value) return true;
      continue;
    }
    if (stored !== value) return true;
  }
  return false;
}

function versionsOf(finding: DetectedFinding): Record<string, unknown> {
  return { installedVersion: finding.installedVersion, fixedVersion: finding.fixedVersion };
}

async function countOpen(db: Kysely<Database>, hostId: string): Promise<number> {
  const row = await db
    .selectFrom('hosts')
    .select('open_findings')
    .where('id', '=', hostId)
    .executeTakeFirst();
  return Number(row?.open_findings ?? 0);
}

/**
 * Recomputes the host's rollup columns (open_findings, kev_findings, worst_severity,
 * max_risk_score, earliest_due_at) from its open finding rows, in one statement; returns the open
 * count. The worst severity is the first of `SEVERITY_ORDER` present (a missing severity counts as
 * `unknown`; a word outside the list ranks after it).
 */
export async function rewriteHostRollups(trx: Kysely<Database>, hostId: string): Promise<number> {
  const rank = sql`case coalesce(severity, 'unknown') ${sql.join(
    SEVERITY_ORDER.map((severity, i) => sql`when ${sql.lit(severity)} then ${sql.lit(i)}`),
    sql` `,
  )} else ${sql.lit(SEVERITY_ORDER.length)} end`;
  const [row] = await reusable(
    trx,
    'findings.rewrite-host-rollups',
    (slot) => {
      const open = () =>
        trx.selectFrom('findings').where('host_id', '=', slot(0)).where('status', '=', sql.lit('open'));
      return trx
        .updateTable('hosts')
        .set(() => ({
          open_findings: open().select((f) => f.fn.countAll<number>().as('n')),
          kev_findings: open().select(sql<number>`coalesce(sum(is_kev), 0)`.as('kev')),
          worst_severity: open()
            .select(sql<string>`coalesce(severity, 'unknown')`.as('worst'))
            .orderBy(rank)
            .orderBy('severity')
            .limit(sql.lit(1)),
          max_risk_score: open().select((f) => f.fn.max('risk_score').as('max_risk')),
          earliest_due_at: open().select(sql<string | null>`min(due_at)`.as('min_due')),
        }))
        .where('id', '=', slot(0))
        .returning('open_findings');
    },
    [hostId],
  );
  return Number(row?.open_findings ?? 0);
}
