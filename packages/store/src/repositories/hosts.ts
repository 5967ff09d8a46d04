import { randomUUID } from 'node:crypto';
import {
  type EcosystemId,
  type InstalledPackage,
  type OsFamily,
  type OsIdentity,
  PatchwardenError,
} from '@patchwarden/core';
import type { Kysely } from 'kysely';
import { readJson, readOptionalTimestamp, readTimestamp, writeTimestamp } from '../codec.js';
import type { Criticality, Database, HostRow } from '../schema.js';
import { inTransaction } from '../transaction.js';
import { putPackageSet } from './package-sets.js';

/** A managed host as the rest of Patchwarden sees it. */
export interface Host {
  id: string;
  name: string;
  /** Null until the host has reported its OS. */
  os: OsIdentity | null;
  labels: Record<string, string>;
  groupId: string | null;
  owner: string | null;
  environment: string | null;
  criticality: Criticality;
  createdAt: Date;
  lastSeenAt: Date | null;
  /** The package set of its latest inventory, or null before the first one. */
  packageSetId: string | null;
  inventoryUpdatedAt: Date | null;
}

export interface NewHost {
  /** Default: a random UUID. */
  id?: string;
  name: string;
  os?: OsIdentity | null;
  labels?: Record<string, string>;
  groupId?: string | null;
  owner?: string | null;
  environment?: string | null;
  /** Default `medium`. */
  criticality?: Criticality;
}

export interface HostPage {
  /** In ascending id order. */
  hosts: Host[];
  /** Pass as `after` for the next page; null when this page is the last. */
  nextCursor: string | null;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** The `hosts` columns that hold an OS identity (all null for none). */
export function osColumns(os: OsIdentity | null) {
  return {
    os_family: os?.family ?? null,
    os_distro: os?.distro ?? null,
    os_version: os?.version ?? null,
    os_version_id: os?.versionId ?? null,
    os_codename: os?.codename ?? null,
    os_pretty_name: os?.prettyName ?? null,
    os_ecosystem: os?.ecosystem ?? null,
  };
}

export async function createHost(db: Kysely<Database>, input: NewHost, now: Date): Promise<Host> {
  const os = input.os ?? null;
  const row = await db
    .insertInto('hosts')
    .values({
      id: input.id ?? randomUUID(),
      name: input.name,
      ...osColumns(os),
      labels: JSON.stringify(input.labels ?? {}),
      group_id: input.groupId ?? null,
      owner: input.owner ?? null,
      environment: input.environment ?? null,
      criticality: input.criticality ?? 'medium',
      created_at: writeTimestamp(now),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toHost(row);
}

/** The host with that id, or null. */
export async function getHost(db: Kysely<Database>, id: string): Promise<Host | null> {
  const row = await db.selectFrom('hosts').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? null : toHost(row);
}

/**
 * One page of hosts in ascending id order, starting after the cursor `after` (exclusive).
 * `limit` defaults to 100; outside 1..1,000 it throws `INVALID_PAGE_SIZE` (400). Stable under inserts: a page never repeats
 * or skips a host that existed when the listing started.
 */
export async function listHosts(
  db: Kysely<Database>,
  options: { after?: string | null; limit?: number } = {},
): Promise<HostPage> {
  const limit = options.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new PatchwardenError(
      'INVALID_PAGE_SIZE',
      `page size must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${limit}`,
      400,
    );
  }
  let query = db
    .selectFrom('hosts')
    .selectAll()
    .orderBy('id')
    .limit(limit + 1);
  if (options.after != null) {
    query = query.where('id', '>', options.after);
  }
  const rows = await query.execute();
  const hosts = rows.slice(0, limit).map(toHost);
  const hasMore = rows.length > limit;
  return { hosts, nextCursor: hasMore ? (hosts.at(-1)?.id ?? null) : null };
}

/**
 * Records a host's full installed-package list: finds or stores its package set and points the
 * host at it, in one transaction, so a failure leaves neither a new set nor a changed host.
 * Throws `HOST_NOT_FOUND` (404) when no host has that id. Returns the set id and whether it was new.
 */
export async function setHostInventory(
  db: Kysely<Database>,
  hostId: string,
  packages: readonly InstalledPackage[],
  now: Date,
): Promise<{ packageSetId: string; isNewSet: boolean }> {
  return inTransaction(db, async (trx) => {
    const set = await putPackageSet(trx, packages, now);
    const updated = await trx
      .updateTable('hosts')
      .set({ package_set_id: set.id, inventory_updated_at: writeTimestamp(now) })
      .where('id', '=', hostId)
      .executeTakeFirst();
    if (updated.numUpdatedRows === 0n) {
      throw new PatchwardenError('HOST_NOT_FOUND', `host ${hostId} does not exist`, 404);
    }
    return { packageSetId: set.id, isNewSet: set.isNew };
  });
}

/** A host row as the rest of Patchwarden sees it. */
export function toHost(row: HostRow): Host {
  return {
    id: row.id,
    name: row.name,
    os: osOfRow(row),
    labels: readJson(row.labels, 'hosts.labels') as Record<string, string>,
    groupId: row.group_id,
    owner: row.owner,
    environment: row.environment,
    criticality: row.criticality,
    createdAt: readTimestamp(row.created_at),
    lastSeenAt: readOptionalTimestamp(row.last_seen_at),
    packageSetId: row.package_set_id,
    inventoryUpdatedAt: readOptionalTimestamp(row.inventory_updated_at),
  };
}

/** The OS columns of a host row as core's `OsIdentity`, or null before the host reported one. */
export function osOfRow(
  row: Pick<
    HostRow,
    | 'os_family'
    | 'os_distro'
    | 'os_version'
    | 'os_version_id'
    | 'os_codename'
    | 'os_pretty_name'
    | 'os_ecosystem'
  >,
): OsIdentity | null {
  if (row.os_family === null || row.os_distro === null) {
    return null;
  }
  return {
    family: row.os_family as OsFamily,
    distro: row.os_distro,
    version: row.os_version,
    versionId: row.os_version_id,
    codename: row.os_codename,
    prettyName: row.os_pretty_name ?? row.os_distro,
    ecosystem: row.os_ecosystem as EcosystemId | null,
  };
}
