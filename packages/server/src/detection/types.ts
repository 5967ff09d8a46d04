import type { Criticality, InstalledPackage, OsIdentity, PackageRef } from '@patchwarden/core';
import type { Database, FindingRow } from '@patchwarden/store';
import type { Kysely } from 'kysely';

/** What one host evaluation changed. */
export interface HostEvaluation {
  hostId: string;
  /** Finding rows (host × package × advisory) opened, reopened and fixed by this evaluation. */
  opened: number;
  reopened: number;
  fixed: number;
  /** Open finding rows after it. */
  open: number;
}

/**
 * Keeps findings current. The advisory index lives in memory per replica as a cache, rebuilt or
 * updated when the database's `advisories` revision moves; findings live only in the database.
 */
export interface DetectionService {
  /**
   * Re-evaluates one host from its stored inventory, in `trx` (the check-in's transaction), writing
   * findings, finding events and the host's rollups. With `packageNames`, only findings of those
   * installed packages are re-judged (a delta check-in); others are left as they are.
   */
  evaluateHost(
    trx: Kysely<Database>,
    hostId: string,
    options?: {
      packageNames?: readonly string[];
      /**
       * The host's OS, criticality and installed packages (all of them, or those named in
       * `packageNames`) when the caller has them at hand (`AppliedInventory.evaluation`), so they
       * are not read again.
       */
      inventory?: {
        os: OsIdentity | null;
        criticality: Criticality;
        packages: readonly InstalledPackage[];
        /** The host's open findings as stored before this evaluation, when the caller read them. */
        openFindings?: number;
        /**
         * The host's finding rows of the packages judged (those named in `packageNames`, or all), read
         * in `trx` after the host row was locked, when the caller read them.
         */
        findingRows?: readonly FindingRow[];
      };
    },
  ): Promise<HostEvaluation>;
  /**
   * Re-evaluates every host that has one of `refs` installed (after a feed sync changed them), each
   * host in its own transaction, after bringing the index up to the stored revision. Returns how
   * many hosts were evaluated and the finding rows they opened, reopened and fixed.
   */
  reevaluatePackages(
    refs: readonly PackageRef[],
  ): Promise<{ hosts: number; opened: number; reopened: number; fixed: number }>;
  /** Brings the in-memory index up to the database's revision; returns that revision. */
  refresh(): Promise<number>;
}
