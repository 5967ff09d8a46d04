import {
  type EcosystemId,
  type InstalledPackage,
  listEcosystems,
  type OsIdentity,
  PatchwardenError,
} from '@patchwarden/core';
import type { Kysely, Updateable } from 'kysely';
import { writeTimestamp } from '../codec.js';
import type {
  Criticality,
  Database,
  HostPackageOverridesTable,
  HostsTable,
  PackageSetMemberRow,
} from '../schema.js';
import { osOfRow } from './hosts.js';
import { unfinishedJobsExist } from './jobs.js';
import { packageSetId, putPackageSet } from './package-sets.js';

// A host's inventory is its base package set (`hosts.package_set_id`, content-addressed and shared
// by every host with the same packages) with its rows of `host_package_overrides` applied: a row
// with a version replaces (or adds) every base entry of its (ecosystem, name, architecture), a row
// with version null removes them. A delta check-in touches only the override rows of the packages
// it names; when a host's overrides grow past `MAX_HOST_OVERRIDES` it is rebased onto a set of its
// own (or an existing one with the same content) and its overrides are dropped.

/**
 * Largest number of override rows a host keeps before it is rebased onto a fresh set: about 4% of
 * a typical 1,500-package server, so an override never costs more than a few dozen rows per host
 * while a rebase (writing a 1,500-row set once) stays rare.
 */
export const MAX_HOST_OVERRIDES = 64;

// Rows per multi-row statement and values per `in (…)` list: far below both databases' limits.
const CHUNK = 500;

/** How many hosts of the same OS are sampled to find a shared base for a full inventory. */
const BASE_CANDIDATE_SAMPLE = 500;
/** How many sets a full inventory is compared with (the host's base and the most used ones). */
const BASE_CANDIDATES = 4;
/**
 * A full inventory moves a host onto another base only when it leaves this many overrides or fewer,
 * half the limit: the rest is headroom for deltas, so the host does not rebase on its next few
 * changes. Against its current base the whole limit applies.
 */
const BASE_HEADROOM = MAX_HOST_OVERRIDES / 2;
/** A candidate this close ends the search. */
const GOOD_ENOUGH_OVERRIDES = 8;

/** The identity of an installed package in an inventory: ecosystem, name and architecture. */
export interface PackageIdentity {
  ecosystem: EcosystemId;
  name: string;
  /** Null (or '') when the package has no architecture. */
  architecture: string | null;
}

export interface HostInventory {
  hostId: string;
  os: OsIdentity | null;
  /** Null before the first full inventory. */
  packageSetId: string | null;
  /** The sequence number of the last inventory (full or delta) applied. */
  seq: number;
  overrideCount: number;
  /** Base set with the overrides applied, in the set's canonical order then the added packages. */
  packages: InstalledPackage[];
}

export interface FullInventory {
  os: OsIdentity | null;
  packages: readonly InstalledPackage[];
  /** The agent's inventory sequence number; the next delta must carry `seq + 1`. */
  seq: number;
}

export interface InventoryDelta {
  /** Must be the stored sequence number plus one. */
  seq: number;
  /** Packages installed or changed (replacing every installed entry of the same identity). */
  upsert: readonly InstalledPackage[];
  /** Packages no longer installed. Removing one that is not installed is a no-op. */
  remove: readonly PackageIdentity[];
}

export interface AppliedInventory {
  packageSetId: string;
  /** Whether this call stored a new package set. */
  isNewSet: boolean;
  /** Override rows the host holds afterwards. */
  overrideCount: number;
  /** Whether the host moved onto another base set (always for a full inventory that changed it). */
  isRebased: boolean;
  /**
   * Whether the host had a job entry queued, sent or running when the inventory was applied; when
   * false a check-in has no job to claim (see `unfinishedJobsExist`).
   */
  hasUnfinishedJobs: boolean;
  /** Binary names of the packages the delta named (a full inventory: null, meaning all). */
  changedNames: string[] | null;
  /**
   * What detection needs afterwards without reading it again: the host's OS and criticality, and
   * its installed packages (all of them after a full inventory, those named `changedNames` after a
   * delta).
   */
  evaluation: {
    os: OsIdentity | null;
    criticality: Criticality;
    packages: InstalledPackage[];
    /** The host's open findings before this inventory (its rollup), when read anyway; else absent. */
    openFindings?: number;
  };
}

/** Host columns a caller writes in the same statement as the inventory (last seen, kernel, …). */
export type HostColumns = Pick<
  Updateable<HostsTable>,
  'last_seen_at' | 'kernel' | 'agent_version' | 'reboot_required' | 'reboot_packages'
>;

const EVALUATION_COLUMNS = [
  'package_set_id',
  'criticality',
  'open_findings',
  'os_family',
  'os_distro',
  'os_version',
  'os_version_id',
  'os_codename',
  'os_pretty_name',
  'os_ecosystem',
] as const;

/** A host that holds a package by one of the names asked about, with its OS (for scoping). */
export interface HostHoldingPackages {
  hostId: string;
  os: OsIdentity | null;
}

function identityKey(ecosystem: string, name: string, architecture: string | null): string {
  return `${ecosystem}\u0000${name}\u0000${architecture ?? ''}`;
}

function keyOf(pkg: PackageIdentity | InstalledPackage): string {
  return identityKey(pkg.ecosystem, pkg.name, pkg.architecture);
}

function ecosystemIds(): string[] {
  return listEcosystems().map((e) => e.id);
}

/** The host's current inventory, or null when no host has that id. */
export async function getHostInventory(db: Kysely<Database>, hostId: string): Promise<HostInventory | null> {
  const host = await db.selectFrom('hosts').selectAll().where('id', '=', hostId).executeTakeFirst();
  if (host === undefined) {
    return null;
  }
  const overrides = await db
    .selectFrom('host_package_overrides')
    .selectAll()
    .where('host_id', '=', hostId)
    .execute();
  const base = host.package_set_id === null ? [] : await setMembers(db, host.package_set_id);
  return {
    hostId,
    os: osOfRow(host),
    packageSetId: host.package_set_id,
    seq: Number(host.inventory_seq),
    overrideCount: overrides.length,
    packages: applyOverrides(base, overrides),
  };
}

/**
 * The host's installed packages, optionally only those whose binary name is in `names`; reads only
 * the matching set members and overrides (index lookups), so it costs O(names), not O(packages).
 * Empty when the host has no inventory (or does not exist).
 */
export async function getHostPackages(
  db: Kysely<Database>,
  hostId: string,
  options: { names?: readonly string[] } = {},
): Promise<InstalledPackage[]> {
  const host = await db
    .selectFrom('hosts')
    .select('package_set_id')
    .where('id', '=', hostId)
    .executeTakeFirst();
  if (host === undefined) {
    return [];
  }
  return readPackages(db, hostId, host.package_set_id, options.names);
}

async function readPackages(
  db: Kysely<Database>,
  hostId: string,
  setId: string | null,
  names: readonly string[] | undefined,
): Promise<InstalledPackage[]> {
  if (names === undefined) {
    const overrides = await db
      .selectFrom('host_package_overrides')
      .selectAll()
      .where('host_id', '=', hostId)
      .execute();
    const base = setId === null ? [] : await setMembers(db, setId);
    return applyOverrides(base, overrides);
  }
  const unique = [...new Set(names)];
  const base: PackageSetMemberRow[] = [];
  const overrides: HostPackageOverridesTable[] = [];
  for (let i = 0; i < unique.length; i += CHUNK) {
    const chunk = unique.slice(i, i + CHUNK);
    if (setId !== null) {
      base.push(...(await membersNamed(db, setId, chunk)));
    }
    overrides.push(
      ...(await db
        .selectFrom('host_package_overrides')
        .selectAll()
        .where('host_id', '=', hostId)
        .where('name', 'in', chunk)
        .execute()),
    );
  }
  base.sort((a, b) => a.position - b.position);
  return applyOverrides(base, overrides);
}

/**
 * Set members kept in memory, in rows (a set of a typical server has about 1,500, some 200 bytes each
 * with its index entry: about 30 MB); least recently used sets go first.
 */
const CACHED_SET_ROWS = 150_000;
const memberCache = new Map<string, SetIndex>();
let cachedRows = 0;

/** A set's members in canonical order, and by package identity. */
interface SetIndex {
  rows: readonly PackageSetMemberRow[];
  byKey: ReadonlyMap<string, PackageSetMemberRow[]>;
}

/**
 * The members of a set. A set never changes (its id is its content's hash), so they are cached in
 * memory: a full inventory compared with a popular base does not read its 1,500 rows again.
 */
async function setIndex(db: Kysely<Database>, setId: string): Promise<SetIndex> {
  const cached = memberCache.get(setId);
  if (cached !== undefined) {
    memberCache.delete(setId);
    memberCache.set(setId, cached);
    return cached;
  }
  const rows = await db
    .selectFrom('package_set_members')
    .selectAll()
    .where('package_set_id', '=', setId)
    .orderBy('position')
    .execute();
  const byKey = new Map<string, PackageSetMemberRow[]>();
  for (const member of rows) {
    const key = identityKey(member.ecosystem, member.name, member.architecture);
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [member]);
    else list.push(member);
  }
  const index = { rows, byKey };
  // An empty answer may be a set another transaction is still writing: not cached.
  if (rows.length > 0) {
    // Another caller may have loaded the same set meanwhile.
    const previous = memberCache.get(setId);
    if (previous !== undefined) {
      memberCache.delete(setId);
      cachedRows -= previous.rows.length;
    }
    memberCache.set(setId, index);
    cachedRows += rows.length;
    for (const [oldestId, oldest] of memberCache) {
      if (cachedRows <= CACHED_SET_ROWS || oldestId === setId) break;
      memberCache.delete(oldestId);
      cachedRows -= oldest.rows.length;
    }
  }
  return index;
}

async function setMembers(db: Kysely<Database>, setId: string): Promise<readonly PackageSetMemberRow[]> {
  return (await setIndex(db, setId)).rows;
}

// `ecosystem in (…all…)` lets both databases use the (ecosystem, name, package_set_id) index.
function membersNamed(
  db: Kysely<Database>,
  setId: string,
  names: readonly string[],
): Promise<PackageSetMemberRow[]> {
  return db
    .selectFrom('package_set_members')
    .selectAll()
    .where('ecosystem', 'in', ecosystemIds())
    .where('name', 'in', names)
    .where('package_set_id', '=', setId)
    .execute();
}

function applyOverrides(
  base: readonly PackageSetMemberRow[],
  overrides: readonly HostPackageOverridesTable[],
): InstalledPackage[] {
  if (overrides.length === 0) {
    return base.map(memberToPackage);
  }
  const byKey = new Map(overrides.map((o) => [identityKey(o.ecosystem, o.name, o.architecture), o]));
  const packages: InstalledPackage[] = [];
  for (const member of base) {
    if (!byKey.has(identityKey(member.ecosystem, member.name, member.architecture))) {
      packages.push(memberToPackage(member));
    }
  }
  for (const override of overrides) {
    if (override.version !== null) {
      packages.push(overrideToPackage(override));
    }
  }
  return packages;
}

function memberToPackage(row: PackageSetMemberRow): InstalledPackage {
  return {
    name: row.name,
    version: row.version,
    architecture: row.architecture,
    source:
      row.source_name === null ? null : { name: row.source_name, version: row.source_version ?? row.version },
    ecosystem: row.ecosystem as EcosystemId,
  };
}

function overrideToPackage(row: HostPackageOverridesTable): InstalledPackage {
  const version = row.version ?? '';
  return {
    name: row.name,
    version,
    architecture: row.architecture === '' ? null : row.architecture,
    source:
      row.source_name === null ? null : { name: row.source_name, version: row.source_version ?? version },
    ecosystem: row.ecosystem as EcosystemId,
  };
}

function overrideRow(hostId: string, pkg: InstalledPackage): HostPackageOverridesTable {
  return {
    host_id: hostId,
    ecosystem: pkg.ecosystem,
    name: pkg.name,
    architecture: pkg.architecture ?? '',
    version: pkg.version,
    source_name: pkg.source?.name ?? null,
    source_version: pkg.source?.version ?? null,
  };
}

function removalRow(hostId: string, id: PackageIdentity): HostPackageOverridesTable {
  return {
    host_id: hostId,
    ecosystem: id.ecosystem,
    name: id.name,
    architecture: id.architecture ?? '',
    version: null,
    source_name: null,
    source_version: null,
  };
}

function samePackage(member: PackageSetMemberRow, pkg: InstalledPackage): boolean {
  return (
    member.version === pkg.version &&
    member.source_name === (pkg.source?.name ?? null) &&
    (member.source_name === null || (member.source_version ?? member.version) === pkg.source?.version)
  );
}

/** The override rows that turn `base` into `wanted`, or null when they would be more than `limit`. */
function diffAgainstBase(
  hostId: string,
  base: SetIndex,
  wanted: ReadonlyMap<string, InstalledPackage>,
  limit: number,
): HostPackageOverridesTable[] | null {
  const rows: HostPackageOverridesTable[] = [];
  for (const [key, pkg] of wanted) {
    const members = base.byKey.get(key);
    if (members?.length === 1 && members[0] !== undefined && samePackage(members[0], pkg)) continue;
    rows.push(overrideRow(hostId, pkg));
    if (rows.length > limit) return null;
  }
  for (const [key, members] of base.byKey) {
    const first = members[0];
    if (!wanted.has(key) && first !== undefined) {
      rows.push(
        removalRow(hostId, {
          ecosystem: first.ecosystem as EcosystemId,
          name: first.name,
          architecture: first.architecture,
        }),
      );
      if (rows.length > limit) return null;
    }
  }
  return rows;
}

/**
 * `packages` by identity, or null when a package identity has several installed versions (as RPM
 * kernels have): overrides cannot express that, so such an inventory is stored as a set of its own.
 */
function wantedOf(packages: readonly InstalledPackage[]): Map<string, InstalledPackage> | null {
  const wanted = new Map<string, InstalledPackage>();
  for (const pkg of packages) {
    const key = keyOf(pkg);
    const seen = wanted.get(key);
    if (seen !== undefined) {
      if (seen.version === pkg.version && seen.source?.name === pkg.source?.name) continue;
      return null;
    }
    wanted.set(key, pkg);
  }
  return wanted;
}

/**
 * Records a host's full inventory in the caller's transaction: the OS, the package list and the
 * sequence number. Storage: the exact set when one with this content exists; else the closest of the
 * host's current base (up to `MAX_HOST_OVERRIDES` differences) and the sets most used by hosts of the
 * same OS (up to half that), plus override rows; else a new content-addressed set. Throws `HOST_NOT_FOUND` (404).
 */
export async function applyFullInventory(
  trx: Kysely<Database>,
  hostId: string,
  inventory: FullInventory,
  now: Date,
  hostColumns: HostColumns = {},
): Promise<AppliedInventory> {
  const host = await trx
    .selectFrom('hosts')
    .select((eb) => [
      'id',
      'package_set_id',
      'criticality',
      'open_findings',
      unfinishedJobsExist(eb, 'hosts.id').as('has_jobs'),
    ])
    .where('id', '=', hostId)
    .executeTakeFirst();
  if (host === undefined) {
    throw new PatchwardenError('HOST_NOT_FOUND', `host ${hostId} does not exist`, 404);
  }
  const exactId = packageSetId(inventory.packages);
  const exact = await trx
    .selectFrom('package_sets')
    .select('id')
    .where('id', '=', exactId)
    .executeTakeFirst();
  let setId = exactId;
  let isNewSet = false;
  let overrides: HostPackageOverridesTable[] = [];
  if (exact === undefined) {
    const wanted = wantedOf(inventory.packages);
    let best: { setId: string; diff: HostPackageOverridesTable[] } | null = null;
    // The host's own base first: usually close enough, and then the popular sets are not looked up.
    if (wanted !== null && host.package_set_id !== null) {
      const diff = diffAgainstBase(
        hostId,
        await setIndex(trx, host.package_set_id),
        wanted,
        MAX_HOST_OVERRIDES,
      );
      if (diff !== null) best = { setId: host.package_set_id, diff };
    }
    if (wanted !== null && (best === null || best.diff.length > GOOD_ENOUGH_OVERRIDES)) {
      const candidates = await candidateBases(trx, host.package_set_id, inventory.os);
      for (const candidate of candidates) {
        if (candidate === host.package_set_id) continue;
        const limit = best === null ? BASE_HEADROOM : Math.min(BASE_HEADROOM, best.diff.length - 1);
        const diff = diffAgainstBase(hostId, await setIndex(trx, candidate), wanted, limit);
        if (diff !== null) best = { setId: candidate, diff };
        if (best !== null && best.diff.length <= GOOD_ENOUGH_OVERRIDES) break;
      }
    }
    if (best !== null) {
      setId = best.setId;
      overrides = best.diff;
    } else {
      const put = await putPackageSet(trx, inventory.packages, now);
      setId = put.id;
      isNewSet = put.isNew;
    }
  }
  await trx.deleteFrom('host_package_overrides').where('host_id', '=', hostId).execute();
  for (let i = 0; i < overrides.length; i += CHUNK) {
    await trx
      .insertInto('host_package_overrides')
      .values(overrides.slice(i, i + CHUNK))
      .execute();
  }
  const os = inventory.os;
  await trx
    .updateTable('hosts')
    .set({
      ...hostColumns,
      package_set_id: setId,
      inventory_seq: inventory.seq,
      inventory_updated_at: writeTimestamp(now),
      os_family: os?.family ?? null,
      os_distro: os?.distro ?? null,
      os_version: os?.version ?? null,
      os_version_id: os?.versionId ?? null,
      os_codename: os?.codename ?? null,
      os_pretty_name: os?.prettyName ?? null,
      os_ecosystem: os?.ecosystem ?? null,
    })
    .where('id', '=', hostId)
    .execute();
  return {
    packageSetId: setId,
    isNewSet,
    overrideCount: overrides.length,
    isRebased: setId !== host.package_set_id,
    changedNames: null,
    evaluation: {
      os,
      criticality: host.criticality,
      packages: [...inventory.packages],
      openFindings: Number(host.open_findings),
    },
    hasUnfinishedJobs: isTrue(host.has_jobs),
  };
}

/**
 * The sets a full inventory may be stored against: the host's current base, then the sets most used
 * among a sample of hosts with the same distro and release (at most `BASE_CANDIDATES` in all).
 */
async function candidateBases(
  trx: Kysely<Database>,
  currentSetId: string | null,
  os: OsIdentity | null,
): Promise<string[]> {
  const candidates = currentSetId === null ? [] : [currentSetId];
  if (os === null) return candidates;
  let query = trx
    .selectFrom('hosts')
    .select('package_set_id')
    .where('os_distro', '=', os.distro)
    .where('package_set_id', 'is not', null)
    .limit(BASE_CANDIDATE_SAMPLE);
  query =
    os.version === null ? query.where('os_version', 'is', null) : query.where('os_version', '=', os.version);
  const counts = new Map<string, number>();
  for (const row of await query.execute()) {
    if (row.package_set_id === null || row.package_set_id === currentSetId) continue;
    counts.set(row.package_set_id, (counts.get(row.package_set_id) ?? 0) + 1);
  }
  const popular = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([id]) => id);
  return [...candidates, ...popular].slice(0, BASE_CANDIDATES);
}

/**
 * Applies an inventory delta in the caller's transaction, touching only the override rows of the
 * packages it names. The delta's `seq` must be the stored one plus one; otherwise nothing is written
 * and it throws `DELTA_REPLAYED` (409, seq at or below the stored one), `DELTA_OUT_OF_ORDER` (409, a
 * gap) or `FULL_INVENTORY_REQUIRED` (409, no full inventory yet); all three mean "send a full
 * inventory", and carry `details: { storedSeq, receivedSeq }`. `INVALID_DELTA` (400) when a package
 * is both upserted and removed or named twice. `HOST_NOT_FOUND` (404). Rebases the host when its
 * overrides grow past `MAX_HOST_OVERRIDES`.
 */
export async function applyInventoryDelta(
  trx: Kysely<Database>,
  hostId: string,
  delta: InventoryDelta,
  now: Date,
  hostColumns: HostColumns = {},
): Promise<AppliedInventory> {
  const upserts = new Map<string, InstalledPackage>();
  const removals = new Map<string, PackageIdentity>();
  for (const pkg of delta.upsert) {
    const key = keyOf(pkg);
    if (upserts.has(key)) {
      throw invalidDelta(
        `upsert names ${pkg.ecosystem} package ${pkg.name} (${pkg.architecture ?? 'no arch'}) twice`,
      );
    }
    upserts.set(key, pkg);
  }
  for (const id of delta.remove) {
    const key = keyOf(id);
    if (upserts.has(key) || removals.has(key)) {
      throw invalidDelta(
        `remove names ${id.ecosystem} package ${id.name} (${id.architecture ?? 'no arch'}) twice or also in upsert`,
      );
    }
    removals.set(key, id);
  }

  const claimed = await trx
    .updateTable('hosts')
    .set({ ...hostColumns, inventory_seq: delta.seq, inventory_updated_at: writeTimestamp(now) })
    .where('id', '=', hostId)
    .where('inventory_seq', '=', delta.seq - 1)
    .where('package_set_id', 'is not', null)
    .returning((eb) => [...EVALUATION_COLUMNS, unfinishedJobsExist(eb, 'hosts.id').as('has_jobs')])
    .executeTakeFirst();
  if (claimed?.package_set_id == null) {
    throw await sequenceError(trx, hostId, delta.seq);
  }
  const hasUnfinishedJobs = isTrue(claimed.has_jobs);
  const setId = claimed.package_set_id;
  const os = osOfRow(claimed);
  const criticality = claimed.criticality;
  const names = [...new Set([...upserts.values(), ...removals.values()].map((p) => p.name))];
  if (names.length === 0) {
    return {
      packageSetId: setId,
      isNewSet: false,
      overrideCount: await countOverrides(trx, hostId),
      isRebased: false,
      changedNames: [],
      evaluation: { os, criticality, packages: [], openFindings: Number(claimed.open_findings) },
      hasUnfinishedJobs,
    };
  }

  const baseByKey = new Map<string, PackageSetMemberRow[]>();
  const baseMembers: PackageSetMemberRow[] = [];
  for (let i = 0; i < names.length; i += CHUNK) {
    for (const member of await membersNamed(trx, setId, names.slice(i, i + CHUNK))) {
      baseMembers.push(member);
      const key = identityKey(member.ecosystem, member.name, member.architecture);
      const list = baseByKey.get(key);
      if (list === undefined) baseByKey.set(key, [member]);
      else list.push(member);
    }
  }
  // All of the host's overrides (at most `MAX_HOST_OVERRIDES` and this delta's), in one indexed read:
  // the ones of the named packages, and the count afterwards without another statement.
  const allOverrides = new Map<string, HostPackageOverridesTable>();
  for (const row of await trx
    .selectFrom('host_package_overrides')
    .selectAll()
    .where('host_id', '=', hostId)
    .execute()) {
    allOverrides.set(identityKey(row.ecosystem, row.name, row.architecture), row);
  }

  const writes: HostPackageOverridesTable[] = [];
  const clears: PackageIdentity[] = [];
  for (const [key, pkg] of upserts) {
    const members = baseByKey.get(key);
    if (members?.length === 1 && members[0] !== undefined && samePackage(members[0], pkg)) {
      if (allOverrides.has(key)) clears.push(pkg);
    } else {
      writes.push(overrideRow(hostId, pkg));
    }
  }
  for (const [key, id] of removals) {
    if (baseByKey.has(key)) {
      writes.push(removalRow(hostId, id));
    } else if (allOverrides.has(key)) {
      clears.push(id);
    }
  }
  for (const id of clears) allOverrides.delete(keyOf(id));
  for (const row of writes) allOverrides.set(identityKey(row.ecosystem, row.name, row.architecture), row);
  for (let i = 0; i < clears.length; i += CHUNK) {
    const chunk = clears.slice(i, i + CHUNK);
    await trx
      .deleteFrom('host_package_overrides')
      .where('host_id', '=', hostId)
      .where((eb) =>
        eb.or(
          chunk.map((id) =>
            eb.and([
              eb('ecosystem', '=', id.ecosystem),
              eb('name', '=', id.name),
              eb('architecture', '=', id.architecture ?? ''),
            ]),
          ),
        ),
      )
      .execute();
  }
  for (let i = 0; i < writes.length; i += CHUNK) {
    await trx
      .insertInto('host_package_overrides')
      .values(writes.slice(i, i + CHUNK))
      .onConflict((oc) =>
        oc.columns(['host_id', 'ecosystem', 'name', 'architecture']).doUpdateSet((eb) => ({
          version: eb.ref('excluded.version'),
          source_name: eb.ref('excluded.source_name'),
          source_version: eb.ref('excluded.source_version'),
        })),
      )
      .execute();
  }

  const named = new Set(names);
  const namedOverrides = [...allOverrides.values()].filter((row) => named.has(row.name));
  baseMembers.sort((a, b) => a.position - b.position);
  const evaluation = {
    os,
    criticality,
    packages: applyOverrides(baseMembers, namedOverrides),
    openFindings: Number(claimed.open_findings),
  };
  const count = allOverrides.size;
  if (count <= MAX_HOST_OVERRIDES) {
    return {
      packageSetId: setId,
      isNewSet: false,
      overrideCount: count,
      isRebased: false,
      changedNames: names,
      evaluation,
      hasUnfinishedJobs,
    };
  }
  const packages = await readPackages(trx, hostId, setId, undefined);
  const put = await putPackageSet(trx, packages, now);
  await trx.deleteFrom('host_package_overrides').where('host_id', '=', hostId).execute();
  await trx.updateTable('hosts').set({ package_set_id: put.id }).where('id', '=', hostId).execute();
  return {
    packageSetId: put.id,
    isNewSet: put.isNew,
    overrideCount: 0,
    isRebased: true,
    changedNames: names,
    evaluation,
    hasUnfinishedJobs,
  };
}

/** A boolean from SQL: PostgreSQL gives true/false, SQLite 1/0. */
function isTrue(value: unknown): boolean {
  return value === true || value === 1 || value === '1';
}

function invalidDelta(message: string): PatchwardenError {
  return new PatchwardenError('INVALID_DELTA', message, 400);
}

async function countOverrides(db: Kysely<Database>, hostId: string): Promise<number> {
  const row = await db
    .selectFrom('host_package_overrides')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('host_id', '=', hostId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function sequenceError(trx: Kysely<Database>, hostId: string, seq: number): Promise<PatchwardenError> {
  const host = await trx
    .selectFrom('hosts')
    .select(['inventory_seq', 'package_set_id'])
    .where('id', '=', hostId)
    .executeTakeFirst();
  if (host === undefined) {
    return new PatchwardenError('HOST_NOT_FOUND', `host ${hostId} does not exist`, 404);
  }
  const storedSeq = Number(host.inventory_seq);
  const details = { storedSeq, receivedSeq: seq, inventory: 'send-full' };
  let error: PatchwardenError;
  if (host.package_set_id === null) {
    error = new PatchwardenError(
      'FULL_INVENTORY_REQUIRED',
      `host ${hostId} has no inventory yet; send a full inventory`,
      409,
    );
  } else if (seq <= storedSeq) {
    error = new PatchwardenError(
      'DELTA_REPLAYED',
      `delta seq ${seq} was already applied (stored seq ${storedSeq}); send a full inventory`,
      409,
    );
  } else {
    error = new PatchwardenError(
      'DELTA_OUT_OF_ORDER',
      `delta seq ${seq} does not follow the stored seq ${storedSeq} (expected ${storedSeq + 1}); send a full inventory`,
      409,
    );
  }
  return Object.assign(error, { details });
}

/**
 * Hosts holding a package whose binary or source name is one of `names`, in their base set or their
 * overrides, with their OS; a host whose overrides remove (or replace) every such package of its
 * base is left out unless an override adds one. In no order.
 */
export async function findHostsHoldingPackages(
  db: Kysely<Database>,
  names: readonly string[],
): Promise<HostHoldingPackages[]> {
  const unique = [...new Set(names)];
  /** Per set, the identity keys of its members that hold one of the names. */
  const keysBySet = new Map<string, Set<string>>();
  const memberNames = new Set<string>();
  const addedBy = new Set<string>();
  for (let i = 0; i < unique.length; i += CHUNK) {
    const chunk = unique.slice(i, i + CHUNK);
    const byName = await db
      .selectFrom('package_set_members')
      .select(['package_set_id', 'ecosystem', 'name', 'architecture'])
      .where('ecosystem', 'in', ecosystemIds())
      .where('name', 'in', chunk)
      .execute();
    const bySource = await db
      .selectFrom('package_set_members')
      .select(['package_set_id', 'ecosystem', 'name', 'architecture'])
      .where('source_name', 'in', chunk)
      .execute();
    for (const row of [...byName, ...bySource]) {
      const keys = keysBySet.get(row.package_set_id) ?? new Set<string>();
      keys.add(identityKey(row.ecosystem, row.name, row.architecture));
      keysBySet.set(row.package_set_id, keys);
      memberNames.add(row.name);
    }
    const overrides = await db
      .selectFrom('host_package_overrides')
      .select('host_id')
      .distinct()
      .where((eb) => eb.or([eb('name', 'in', chunk), eb('source_name', 'in', chunk)]))
      .where('version', 'is not', null)
      .execute();
    for (const row of overrides) addedBy.add(row.host_id);
  }
  const hosts = new Map<string, HostHoldingPackages>();
  const sets = [...keysBySet.keys()];
  const onSets: Array<{ hostId: string; setId: string; os: OsIdentity | null }> = [];
  for (let i = 0; i < sets.length; i += CHUNK) {
    const rows = await db
      .selectFrom('hosts')
      .selectAll()
      .where('package_set_id', 'in', sets.slice(i, i + CHUNK))
      .execute();
    for (const row of rows) {
      if (row.package_set_id !== null)
        onSets.push({ hostId: row.id, setId: row.package_set_id, os: osOfRow(row) });
    }
  }
  const overridden = new Map<string, Set<string>>();
  const matchedNames = [...memberNames];
  const candidates = onSets.map((h) => h.hostId).filter((id) => !addedBy.has(id));
  for (let i = 0; i < candidates.length && matchedNames.length > 0; i += CHUNK) {
    for (let j = 0; j < matchedNames.length; j += CHUNK) {
      const rows = await db
        .selectFrom('host_package_overrides')
        .select(['host_id', 'ecosystem', 'name', 'architecture'])
        .where('host_id', 'in', candidates.slice(i, i + CHUNK))
        .where('name', 'in', matchedNames.slice(j, j + CHUNK))
        .execute();
      for (const row of rows) {
        const keys = overridden.get(row.host_id) ?? new Set<string>();
        keys.add(identityKey(row.ecosystem, row.name, row.architecture));
        overridden.set(row.host_id, keys);
      }
    }
  }
  for (const host of onSets) {
    const hidden = overridden.get(host.hostId);
    const keys = keysBySet.get(host.setId) ?? new Set<string>();
    const isHeld = addedBy.has(host.hostId) || hidden === undefined || [...keys].some((k) => !hidden.has(k));
    if (isHeld) hosts.set(host.hostId, { hostId: host.hostId, os: host.os });
  }
  const rest = [...addedBy].filter((id) => !hosts.has(id));
  for (let i = 0; i < rest.length; i += CHUNK) {
    const rows = await db
      .selectFrom('hosts')
      .selectAll()
      .where('id', 'in', rest.slice(i, i + CHUNK))
      .execute();
    for (const row of rows) hosts.set(row.id, { hostId: row.id, os: osOfRow(row) });
  }
  return [...hosts.values()];
}
