import type { EcosystemId, InstalledPackage } from '@patchwarden/core/host';

/** The package managers the agent drives. One folder per manager under `drivers/`. */
export type ManagerId = 'apt' | 'dnf' | 'zypper' | 'pacman';

/**
 * Why a package operation failed, as operators and rollout halts need it. Drivers classify from
 * the manager's exit code and output; `unknown` when nothing matches.
 */
export type FailureReason =
  | 'lock-held'
  | 'dependency-conflict'
  | 'script-failed'
  | 'download-failed'
  | 'disk-full'
  | 'timeout'
  | 'not-found'
  | 'unknown';

/** Where a driver works. */
export interface DriverOptions {
  /**
   * A private package root (the lab, tests): the manager is pointed at it and at the configuration
   * kept inside it (see each driver's readme). Null: the machine's own packages (production).
   */
  root: string | null;
  /** Kill a manager call after this long; the result's reason is `timeout`. Default 15 minutes. */
  timeoutMs?: number;
  /** Keep at most this many bytes of each of stdout and stderr (the tail). Default 64 KiB. */
  maxOutputBytes?: number;
}

/** One run of a package-manager command. */
export interface CommandResult {
  /** argv as run, for the job log. */
  command: string[];
  exitCode: number | null;
  /** Bounded to `maxOutputBytes` (the tail is kept); `truncated` says when bytes were dropped. */
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  durationMs: number;
}

/** An exact package version to install, upgrade or downgrade to. */
export interface PackageSpec {
  name: string;
  version: string;
  /** Null: the manager's default (the installed one's, or native). */
  architecture?: string | null;
}

/** A newer version the configured repositories offer for an installed package. */
export interface AvailableUpdate {
  name: string;
  architecture: string | null;
  installedVersion: string;
  candidateVersion: string;
}

/** What a change did, or would do (simulation): package → version before and after (null = absent). */
export interface PackageChange {
  name: string;
  architecture: string | null;
  from: string | null;
  to: string | null;
}

export interface OperationResult {
  isSuccess: boolean;
  /** Null when `isSuccess`. */
  reason: FailureReason | null;
  /** The changes, from the inventory read before and after (for a simulation: as the manager planned them). */
  changes: PackageChange[];
  /** Every command run, in order. */
  commands: CommandResult[];
}

/**
 * One package manager, driven by calling the real tool (never by editing its databases). Every
 * method that changes packages has a simulated twin through `simulate`.
 */
export interface PackageDriver {
  readonly id: ManagerId;
  /** The ecosystem of the versions it reports (`deb`, `rpm`, `alpm`). */
  readonly ecosystem: EcosystemId;
  /** Whether the manager's binaries are present on this machine. */
  isAvailable(): Promise<boolean>;
  /** The installed packages, as the manager's own query reports them. */
  readInventory(): Promise<InstalledPackage[]>;
  /** Refreshes repository metadata. */
  refresh(): Promise<OperationResult>;
  /** Installed packages with a newer candidate in the repositories. */
  listUpdates(): Promise<AvailableUpdate[]>;
  /** The manager's own dry run of `install` (exact versions; downgrades allowed when asked) or `upgrade`. */
  simulate(
    operation:
      | { kind: 'install'; packages: PackageSpec[]; allowDowngrade?: boolean }
      | { kind: 'upgrade'; names?: string[] },
  ): Promise<OperationResult>;
  /** Installs exactly these versions (new installs, upgrades, and with `allowDowngrade` downgrades). */
  install(packages: PackageSpec[], options?: { allowDowngrade?: boolean }): Promise<OperationResult>;
  /** Upgrades the named packages (all upgradable when omitted) to their candidates. */
  upgrade(names?: string[]): Promise<OperationResult>;
  /**
   * Copies the package files of these exact versions into `dir` (from the manager's cache, or by
   * downloading them while the repository still has them), for the rollback archive. Returns the paths.
   */
  fetchPackageFiles(packages: PackageSpec[], dir: string): Promise<string[]>;
  /** Installs local package files (rollback from the archive, even when the repository dropped the version). */
  installFiles(paths: string[]): Promise<OperationResult>;
  /**
   * Removes these installed packages (rollback of a job that newly installed them). A name that is
   * not installed is the manager's own error; the agent only passes installed ones.
   */
  remove(packages: Array<{ name: string; architecture?: string | null }>): Promise<OperationResult>;
  /** Classifies a failed command. */
  classify(result: CommandResult): FailureReason;
}
