import { createHash } from 'node:crypto';
import type { EcosystemId, InstalledPackage } from '@patchwarden/core';
import type { Kysely } from 'kysely';
import { writeTimestamp } from '../codec.js';
import type { Database, PackageSetMemberRow, PackageSetMembersTable } from '../schema.js';
import { inTransaction } from '../transaction.js';

// 8 columns x 1,000 rows stays under both databases' limit on bound parameters per statement
// (SQLite 32,766, PostgreSQL 65,535).
const MEMBER_ROWS_PER_INSERT = 1000;

export interface PutPackageSetResult {
  /** sha256 (hex) of the canonical package list; the same packages always give the same id. */
  id: string;
  /** True when this call stored the set, false when it was already there. */
  isNew: boolean;
}

/** One member of a canonical package set: a package as a set row stores it, without set id and position. */
export type CanonicalMember = Omit<PackageSetMembersTable, 'package_set_id' | 'position'>;

/** A package list in canonical form: its content address, and its members in canonical order. */
export interface CanonicalPackageSet {
  /** sha256 (hex) of the canonical lines joined by newlines (`packageSetId`). */
  id: string;
  /** The packages in the order of their canonical lines, exact duplicates dropped. */
  members: CanonicalMember[];
}

function canonicalLine(member: CanonicalMember): string {
  return JSON.stringify([
    member.ecosystem,
    member.name,
    member.architecture,
    member.version,
    member.source_name,
    member.source_version,
  ]);
}

function memberOf(pkg: InstalledPackage): CanonicalMember {
  return {
    ecosystem: pkg.ecosystem,
    name: pkg.name,
    architecture: pkg.architecture ?? null,
    version: pkg.version,
    source_name: pkg.source?.name ?? null,
    source_version: pkg.source?.version ?? null,
  };
}

function byLine(a: { line: string }, b: { line: string }): number {
  return a.line < b.line ? -1 : a.line > b.line ? 1 : 0;
}

/**
 * The canonical form of a package list: one JSON array per package, sorted by code unit,
 * exact duplicates dropped. Order and duplicates of the input do not change the set id.
 */
export function canonicalPackageLines(packages: readonly InstalledPackage[]): string[] {
  const lines = packages.map((pkg) => canonicalLine(memberOf(pkg)));
  lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return lines.filter((line, index) => index === 0 || line !== lines[index - 1]);
}

/** The content address of a package list: sha256 of its canonical lines joined by newlines. */
export function packageSetId(packages: readonly InstalledPackage[]): string {
  return hashLines(canonicalPackageLines(packages));
}

/** The canonical form of a package list and its id, computed once (the lines are not parsed back). */
export function canonicalPackageSet(packages: readonly InstalledPackage[]): CanonicalPackageSet {
  const entries = packages.map((pkg) => {
    const member = memberOf(pkg);
    return { line: canonicalLine(member), member };
  });
  entries.sort(byLine);
  const lines: string[] = [];
  const members: CanonicalMember[] = [];
  for (const entry of entries) {
    if (lines.length > 0 && lines[lines.length - 1] === entry.line) continue;
    lines.push(entry.line);
    members.push(entry.member);
  }
  return { id: hashLines(lines), members };
}

function hashLines(lines: readonly string[]): string {
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/**
 * Stores a package list once, keyed by its content. Idempotent: a second call with the same
 * packages (in any order) returns the same id with `isNew: false` and writes nothing. Runs in
 * one transaction (or the caller's, when `db` is one).
 */
export function putPackageSet(
  db: Kysely<Database>,
  packages: readonly InstalledPackage[],
  now: Date,
): Promise<PutPackageSetResult> {
  return putCanonicalPackageSet(db, canonicalPackageSet(packages), now);
}

/** `putPackageSet` for a list already in canonical form (`canonicalPackageSet`). */
export async function putCanonicalPackageSet(
  db: Kysely<Database>,
  set: CanonicalPackageSet,
  now: Date,
): Promise<PutPackageSetResult> {
  const { id, members } = set;
  return inTransaction(db, async (trx) => {
    // Concurrent writers of the same set: the loser waits on the key and then does nothing.
    const inserted = await trx
      .insertInto('package_sets')
      .values({ id, package_count: members.length, created_at: writeTimestamp(now) })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    if (inserted.numInsertedOrUpdatedRows === 0n) {
      return { id, isNew: false };
    }
    const rows = members.map((member, position) => ({ package_set_id: id, position, ...member }));
    for (let start = 0; start < rows.length; start += MEMBER_ROWS_PER_INSERT) {
      await trx
        .insertInto('package_set_members')
        .values(rows.slice(start, start + MEMBER_ROWS_PER_INSERT))
        .execute();
    }
    return { id, isNew: true };
  });
}

/** The packages of a set in canonical order, or null when no set has that id. */
export async function getPackageSet(db: Kysely<Database>, id: string): Promise<InstalledPackage[] | null> {
  const set = await db.selectFrom('package_sets').select('id').where('id', '=', id).executeTakeFirst();
  if (set === undefined) {
    return null;
  }
  const rows = await db
    .selectFrom('package_set_members')
    .selectAll()
    .where('package_set_id', '=', id)
    .orderBy('position')
    .execute();
  return rows.map(toInstalledPackage);
}

function toInstalledPackage(row: PackageSetMemberRow): InstalledPackage {
  return {
    name: row.name,
    version: row.version,
    architecture: row.architecture,
    source:
      row.source_name === null ? null : { name: row.source_name, version: row.source_version ?? row.version },
    ecosystem: row.ecosystem as EcosystemId,
  };
}
