import {
  type EcosystemId,
  type InstalledPackage,
  listEcosystems,
  type OsIdentity,
  PatchwardenError,
} from '@patchwarden/core';
import { type Kysely, sql, type Updateable } from 'kysely';
import { writeTimestamp } from '../codec.js';
import { flavourOf, insertRows, reusable } from '../compiled.js';
import type {
  Criticality,
  Database,
  HostPackageOverridesTable,
  HostsTable,
  PackageSetMemberRow,
} from '../schema.js';
import { type FindingRow, listHostFindingRows } from './findings.js';
import { osColumns, osOfRow } from './hosts.js';
import { unfinishedJobsExist } from './jobs.js';
import {
  type CanonicalMember,
  type CanonicalPackageSet,
  canonicalPackageSet,
  putCanonicalPackageSet,
} from './package-sets.js';

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
    /**
     * The host's finding rows of the packages named `changedNames` (any status), read in the same
     * transaction after the host row was locked, when read anyway; else absent.
     */
    findingRows?: FindingRow[];
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
 * Set members kept in memory, in rows. A cached row is one object per distinct package (shared by every
 * cached set that holds it, see `internMember`), so a set costs about its index: a pointer and a map
 * entry per member, some 60 KB for a typical 1,500-package server; least recently used sets go first.
 */
const CACHED_SET_ROWS = 600_000;
const memberCache = new Map<string, SetIndex>();
let cachedRows = 0;

/** A set member as the cache holds it, with its identity key. */
interface CachedMember extends CanonicalMember {
  readonly key: string;
}

/** Distinct members seen, for sharing between cached sets; dropped (not evicted) when it grows past this. */
const INTERNED_MEMBERS = 200_000;
const interned = new Map<string, CachedMember>();

function internMember(member: CanonicalMember): CachedMember {
  const key = identityKey(member.ecosystem, member.name, member.architecture);
  const contentKey = `${key}\u0000${member.version}\u0000${member.source_name === null ? '\u0001' : `\u0002${member.source_name}`}\u0000${member.source_version ?? '\u0001'}`;
  const known = interned.get(contentKey);
  if (known !== undefined) return known;
  if (interned.size >= INTERNED_MEMBERS) interned.clear();
  const cached: CachedMember = {
    key,
    ecosystem: member.ecosystem,
    name: member.name,
    architecture: member.architecture,
    version: member.version,
    source_name: member.source_name,
    source_version: member.source_version,
  };
  interned.set(contentKey, cached);
  return cached;
}

/** A set's members in canonical order, and by package identity. */
interface SetIndex {
  members: readonly CachedMember[];
  /** The first member of each identity. */
  byKey: ReadonlyMap<string, CachedMember>;
  /** The identities with more than one member (several installed versions); usually none. */
  repeated: ReadonlySet<string>;
  /**
   * Where each name's runs of consecutive members start (one run per ecosystem in canonical order);
   * built when a delta first asks (`membersWithNames`).
   */
  byName?: Map<string, number | number[]>;
}

function indexSet(members: readonly CanonicalMember[]): SetIndex {
  const rows = members.map(internMember);
  const byKey = new Map<string, CachedMember>();
  const repeated = new Set<string>();
  for (const member of rows) {
    if (byKey.has(member.key)) repeated.add(member.key);
    else byKey.set(member.key, member);
  }
  return { members: rows, byKey, repeated };
}

function cacheSet(setId: string, index: SetIndex): void {
  // Another caller may have loaded the same set meanwhile.
  const previous = memberCache.get(setId);
  if (previous !== undefined) {
    memberCache.delete(setId);
    cachedRows -= previous.members.length;
  }
  memberCache.set(setId, index);
  cachedRows += index.members.length;
  for (const [oldestId, oldest] of memberCache) {
    if (cachedRows <= CACHED_SET_ROWS || oldestId === setId) break;
    memberCache.delete(oldestId);
    cachedRows -= oldest.members.length;
  }
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
    .select(['ecosystem', 'name', 'architecture', 'version', 'source_name', 'source_version'])
    .where('package_set_id', '=', setId)
    .orderBy('position')
    .execute();
  const index = indexSet(rows);
  // An empty answer may be a set another transaction is still writing: not cached.
  if (rows.length > 0) cacheSet(setId, index);
  return index;
}

/**
 * Caches a set whose content the caller has in canonical form (its id is that content's hash, so the
 * entry is right whether or not the caller's transaction commits).
 */
function rememberSet(set: CanonicalPackageSet): void {
  if (set.members.length > 0 && !memberCache.has(set.id)) cacheSet(set.id, indexSet(set.members));
}

async function setMembers(db: Kysely<Database>, setId: string): Promise<readonly CanonicalMember[]> {
  return (await setIndex(db, setId)).members;
}

/**
 * The members of a set whose binary name is one of `names`, in the set's order: from the cached set
 * when it is in memory (no statement), else read by name (an index lookup, not the whole set).
 */
async function membersWithNames(
  db: Kysely<Database>,
  setId: string,
  names: readonly string[],
): Promise<CanonicalMember[]> {
  const cached = memberCache.get(setId);
  if (cached === undefined) {
    const rows: PackageSetMemberRow[] = [];
    for (let i = 0; i < names.length; i += CHUNK) {
      rows.push(...(await membersNamed(db, setId, names.slice(i, i + CHUNK))));
    }
    return rows.sort((a, b) => a.position - b.position);
  }
  memberCache.delete(setId);
  memberCache.set(setId, cached);
  const { members } = cached;
  let byName = cached.byName;
  if (byName === undefined) {
    byName = new Map();
    for (let i = 0; i < members.length; i += 1) {
      const name = (members[i] as CachedMember).name;
      if (i > 0 && (members[i - 1] as CachedMember).name === name) continue;
      const starts = byName.get(name);
      if (starts === undefined) byName.set(name, i);
      else if (typeof starts === 'number') byName.set(name, [starts, i]);
      else starts.push(i);
    }
    cached.byName = byName;
  }
  const positions: number[] = [];
  for (const name of new Set(names)) {
    const starts = byName.get(name);
    if (starts === undefined) continue;
    for (const start of typeof starts === 'number' ? [starts] : starts) {
      for (let i = start; i < members.length && (members[i] as CachedMember).name === name; i += 1) {
        positions.push(i);
      }
    }
  }
  positions.sort((a, b) => a - b);
  return positions.map((i) => members[i] as CachedMember);
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
  base: readonly CanonicalMember[],
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

function memberToPackage(row: CanonicalMember): InstalledPackage {
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

function samePackage(member: CanonicalMember, pkg: InstalledPackage): boolean {
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
    const member = base.byKey.get(key);
    if (member !== undefined && !base.repeated.has(key) && samePackage(member, pkg)) continue;
    rows.push(overrideRow(hostId, pkg));
    if (rows.length > limit) return null;
  }
  for (const [key, first] of base.byKey) {
    if (!wanted.has(key)) {
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
  const canonical = canonicalPackageSet(inventory.packages);
  const exactId = canonical.id;
  // The host and whether a set with exactly this content exists, in one statement.
  const [host] = await reusable(
    trx,
    'inventory.full-host',
    (slot) =>
      trx
        .selectFrom('hosts')
        .select((eb) => [
          'id',
          'package_set_id',
          'criticality',
          'open_findings',
          unfinishedJobsExist(eb, 'hosts.id').as('has_jobs'),
          eb
            .exists(
              eb.selectFrom('package_sets').select('package_sets.id').where('package_sets.id', '=', slot(1)),
            )
            .as('has_exact'),
        ])
        .where('id', '=', slot(0)),
    [hostId, exactId],
  );
  if (host === undefined) {
    throw new PatchwardenError('HOST_NOT_FOUND', `host ${hostId} does not exist`, 404);
  }
  const exact = isTrue(host.has_exact) ? exactId : undefined;
  let setId = exactId;
  let isNewSet = false;
  let overrides: HostPackageOverridesTable[] = [];
  if (exact === undefined) {
    const wanted = wantedOf(inventory.packages);
    let best: BaseChoice | null = null;
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
      best = await closestPopularBase(trx, hostId, host.package_set_id, inventory.os, wanted, best, false);
    }
    if (best !== null) {
      setId = best.setId;
      overrides = best.diff;
    } else {
      const put = await putCanonicalPackageSet(trx, canonical, now);
      setId = put.id;
      isNewSet = put.isNew;
    }
  }
  // The host's base next time: the set it is on now, whose content is at hand when it is this one.
  if (setId === exactId) rememberSet(canonical);
  if (setId !== host.package_set_id) forgetPopularSets();
  await reusable(
    trx,
    'inventory.clear-overrides',
    (slot) => trx.deleteFrom('host_package_overrides').where('host_id', '=', slot(0)),
    [hostId],
  );
  for (let i = 0; i < overrides.length; i += CHUNK) {
    await insertRows(trx, 'host_package_overrides', overrides.slice(i, i + CHUNK));
  }
  const os = inventory.os;
  const columns: Updateable<HostsTable> = {
    ...hostColumns,
    package_set_id: setId,
    inventory_seq: inventory.seq,
    inventory_updated_at: writeTimestamp(now),
    ...osColumns(os),
  };
  const names = (Object.keys(columns) as Array<keyof typeof columns>).filter(
    (name) => columns[name] !== undefined,
  );
  await reusable(
    trx,
    `inventory.full-update:${names.join(',')}`,
    (slot) =>
      trx
        .updateTable('hosts')
        .set(Object.fromEntries(names.map((name, i) => [name, slot(i + 1)])))
        .where('id', '=', slot(0)),
    [hostId, ...names.map((name) => columns[name])],
  );
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
 * The most used sets per OS (`popularSets`), as this process last read them: kept for
 * `POPULAR_SETS_TTL_MS` and dropped whenever a host here moves onto another set. Which candidates a
 * full inventory is compared with decides only how it is stored (a stale list may miss a closer base
 * a replica just made), never what the host's inventory is.
 */
const POPULAR_SETS_TTL_MS = 1000;
const popularSetsCache = new Map<string, { at: number; setIds: readonly string[] }>();

function forgetPopularSets(): void {
  popularSetsCache.clear();
}

/**
 * The sets most used among a sample of hosts with the OS's distro and release, most used first;
 * `isCached` when they come from this process's cache (`isFresh` skips it).
 */
async function popularSets(
  trx: Kysely<Database>,
  os: OsIdentity,
  isFresh: boolean,
): Promise<{ setIds: readonly string[]; isCached: boolean }> {
  const cacheKey = `${os.distro}\u0000${os.version === null ? '\u0001' : `\u0002${os.version}`}`;
  const clock = performance.now();
  const cached = popularSetsCache.get(cacheKey);
  if (!isFresh && cached !== undefined && clock - cached.at < POPULAR_SETS_TTL_MS) {
    return { setIds: cached.setIds, isCached: true };
  }
  let sample = trx
    .selectFrom('hosts')
    .select('package_set_id')
    .where('os_distro', '=', os.distro)
    .where('package_set_id', 'is not', null)
    .limit(BASE_CANDIDATE_SAMPLE);
  sample =
    os.version === null
      ? sample.where('os_version', 'is', null)
      : sample.where('os_version', '=', os.version);
  // Counted in the database: a few rows back instead of the whole sample.
  const rows = await trx
    .selectFrom(sample.as('sample'))
    .select((eb) => ['sample.package_set_id', eb.fn.countAll<number | string>().as('n')])
    .groupBy('sample.package_set_id')
    .orderBy('n', 'desc')
    .orderBy('sample.package_set_id')
    .limit(BASE_CANDIDATES)
    .execute();
  const setIds = rows.flatMap((row) => (row.package_set_id === null ? [] : [row.package_set_id]));
  popularSetsCache.set(cacheKey, { at: clock, setIds });
  return { setIds, isCached: false };
}

interface BaseChoice {
  setId: string;
  diff: HostPackageOverridesTable[];
}

/**
 * The closest of `own` (the host's current base, or null) and the sets most used by hosts of the same
 * OS: `BASE_CANDIDATES` sets in all, the current one first; another set must leave at most
 * `BASE_HEADROOM` overrides, and fewer than the best so far.
 */
async function closestPopularBase(
  trx: Kysely<Database>,
  hostId: string,
  currentSetId: string | null,
  os: OsIdentity | null,
  wanted: ReadonlyMap<string, InstalledPackage>,
  own: BaseChoice | null,
  isFresh: boolean,
): Promise<BaseChoice | null> {
  if (os === null) return own;
  const popular = await popularSets(trx, os, isFresh);
  const candidates = popular.setIds
    .filter((setId) => setId !== currentSetId)
    .slice(0, BASE_CANDIDATES - (currentSetId === null ? 0 : 1));
  let best = own;
  for (const candidate of candidates) {
    const limit = best === null ? BASE_HEADROOM : Math.min(BASE_HEADROOM, best.diff.length - 1);
    const diff = diffAgainstBase(hostId, await setIndex(trx, candidate), wanted, limit);
    if (diff !== null) best = { setId: candidate, diff };
    if (best !== null && best.diff.length <= GOOD_ENOUGH_OVERRIDES) break;
  }
  if (best !== null && best !== own && popular.isCached) {
    // The cache is this process's, not the database's (a test may have opened another): the set
    // chosen must exist here.
    const exists = await trx
      .selectFrom('package_sets')
      .select('id')
      .where('id', '=', best.setId)
      .executeTakeFirst();
    if (exists === undefined) {
      forgetPopularSets();
      return closestPopularBase(trx, hostId, currentSetId, os, wanted, own, true);
    }
  }
  return best;
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

  const columns = (Object.keys(hostColumns) as Array<keyof HostColumns>).filter(
    (column) => hostColumns[column] !== undefined,
  );
  const n = columns.length;
  const [claimed] = await reusable(
    trx,
    `inventory.claim-delta:${columns.join(',')}`,
    (slot) =>
      trx
        .updateTable('hosts')
        .set({
          ...Object.fromEntries(columns.map((column, i) => [column, slot(i)])),
          inventory_seq: slot(n),
          inventory_updated_at: slot(n + 1),
        })
        .where('id', '=', slot(n + 2))
        .where('inventory_seq', '=', slot(n + 3))
        .where('package_set_id', 'is not', null)
        .returning((eb) => [...EVALUATION_COLUMNS, unfinishedJobsExist(eb, 'hosts.id').as('has_jobs')]),
    [...columns.map((column) => hostColumns[column]), delta.seq, writeTimestamp(now), hostId, delta.seq - 1],
  );
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

  const baseMembers = await membersWithNames(trx, setId, names);
  const baseByKey = new Map<string, CanonicalMember[]>();
  for (const member of baseMembers) {
    const key = identityKey(member.ecosystem, member.name, member.architecture);
    const list = baseByKey.get(key);
    if (list === undefined) baseByKey.set(key, [member]);
    else list.push(member);
  }
  // All of the host's overrides (at most `MAX_HOST_OVERRIDES` and this delta's), in one indexed read:
  // the ones of the named packages, and the count afterwards without another statement. With them, the
  // finding rows of the named packages that detection judges next (read after the host row is locked).
  const { overrides: overrideRows, findings: findingRows } = await readOverridesAndFindings(
    trx,
    hostId,
    names,
  );
  const allOverrides = new Map<string, HostPackageOverridesTable>();
  for (const row of overrideRows) {
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
    const chunk = writes.slice(i, i + CHUNK);
    await reusable(
      trx,
      `inventory.upsert-overrides:${chunk.length}`,
      (slot) =>
        trx
          .insertInto('host_package_overrides')
          .values(
            chunk.map((_, r) => ({
              host_id: slot(r * 7),
              ecosystem: slot(r * 7 + 1),
              name: slot(r * 7 + 2),
              architecture: slot(r * 7 + 3),
              version: slot(r * 7 + 4),
              source_name: slot(r * 7 + 5),
              source_version: slot(r * 7 + 6),
            })),
          )
          .onConflict((oc) =>
            oc.columns(['host_id', 'ecosystem', 'name', 'architecture']).doUpdateSet((eb) => ({
              version: eb.ref('excluded.version'),
              source_name: eb.ref('excluded.source_name'),
              source_version: eb.ref('excluded.source_version'),
            })),
          ),
      chunk.flatMap((row) => [
        row.host_id,
        row.ecosystem,
        row.name,
        row.architecture,
        row.version,
        row.source_name,
        row.source_version,
      ]),
    );
  }

  const named = new Set(names);
  const namedOverrides = [...allOverrides.values()].filter((row) => named.has(row.name));
  const evaluation = {
    os,
    criticality,
    packages: applyOverrides(baseMembers, namedOverrides),
    openFindings: Number(claimed.open_findings),
    findingRows,
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
  const rebased = canonicalPackageSet(await readPackages(trx, hostId, setId, undefined));
  const put = await putCanonicalPackageSet(trx, rebased, now);
  rememberSet(rebased);
  forgetPopularSets();
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

/**
 * The host's override rows, and its finding rows of the packages `names` (as `listHostFindingRows`).
 * PostgreSQL: one round trip, both as JSON (timestamps come back as ISO text, which `FindingRow`
 * allows); SQLite: two statements (no round trips to save).
 */
async function readOverridesAndFindings(
  trx: Kysely<Database>,
  hostId: string,
  names: readonly string[],
): Promise<{ overrides: HostPackageOverridesTable[]; findings: FindingRow[] }> {
  if (flavourOf(trx) === 'postgres') {
    const [row] = await reusable(
      trx,
      'inventory.overrides-and-findings',
      (slot) =>
        trx.selectNoFrom([
          sql<
            HostPackageOverridesTable[]
          >`(select coalesce(json_agg(o), '[]'::json) from host_package_overrides o where o.host_id = ${slot(0)})`.as(
            'overrides',
          ),
          sql<
            FindingRow[]
          >`(select coalesce(json_agg(f), '[]'::json) from findings f where f.host_id = ${slot(0)} and f.package_name = any(${slot(1)}::text[]))`.as(
            'findings',
          ),
        ]),
      [hostId, [...names]],
    );
    return { overrides: row?.overrides ?? [], findings: row?.findings ?? [] };
  }
  const overrides = await reusable(
    trx,
    'inventory.host-overrides',
    (slot) => trx.selectFrom('host_package_overrides').selectAll().where('host_id', '=', slot(0)),
    [hostId],
  );
  return { overrides, findings: await listHostFindingRows(trx, hostId, names) };
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
