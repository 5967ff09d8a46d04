import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';

/**
 * A point in time. Written as an ISO-8601 UTC string; read back as a string on SQLite and as a
 * `Date` on PostgreSQL (`timestamptz`), so repositories read it through `readTimestamp`.
 */
export type Timestamp = ColumnType<Date | string, string, string>;

/** JSON text, in a `text` column on both databases; repositories parse it through `readJson`. */
export type JsonText = string;

export type Criticality = 'low' | 'medium' | 'high' | 'critical';
export type FindingStatus = 'open' | 'fixed' | 'waived';
export type FindingEventKind = 'opened' | 'fixed' | 'waived' | 'reopened';
/** A job's state on one host (docs/jobs.md). */
export type JobState = 'queued' | 'sent' | 'running' | 'succeeded' | 'failed' | 'timed-out' | 'cancelled';
export type JobKind = 'scan' | 'install' | 'upgrade' | 'rollback' | 'reboot' | 'run-hook';
export type HookPhase = 'pre' | 'post' | 'manual';

export interface HostGroupsTable {
  id: string;
  name: string;
  parent_id: string | null;
  description: string | null;
  created_at: Timestamp;
}

/** One row per distinct installed-package list; `id` is the sha256 of its canonical form. */
export interface PackageSetsTable {
  id: string;
  package_count: number;
  created_at: Timestamp;
}

/** The packages of a set, stored once per set; `position` is the index in the canonical order. */
export interface PackageSetMembersTable {
  package_set_id: string;
  position: number;
  ecosystem: string;
  name: string;
  architecture: string | null;
  version: string;
  source_name: string | null;
  source_version: string | null;
}

export interface HostsTable {
  id: string;
  name: string;
  os_family: string | null;
  os_distro: string | null;
  os_version: string | null;
  os_version_id: string | null;
  os_codename: string | null;
  os_pretty_name: string | null;
  os_ecosystem: string | null;
  /** JSON object of string labels. */
  labels: JsonText;
  group_id: string | null;
  owner: string | null;
  environment: string | null;
  criticality: Criticality;
  created_at: Timestamp;
  last_seen_at: Timestamp | null;
  package_set_id: string | null;
  inventory_updated_at: Timestamp | null;
  /** The last inventory delta applied (0 after a full inventory); `bigint`, a string on PostgreSQL. */
  inventory_seq: ColumnType<number | string, number | undefined, number>;
  /** The agent's stable machine identity (`/etc/machine-id`), when it sent one. */
  machine_id: string | null;
  kernel: string | null;
  agent_version: string | null;
  /** 0 or 1. */
  reboot_required: ColumnType<number, number | undefined, number>;
  /** JSON array of the packages that asked for the reboot. */
  reboot_packages: ColumnType<JsonText, JsonText | undefined, JsonText>;
  /** Rollups of the open findings, rewritten with them. */
  open_findings: ColumnType<number, number | undefined, number>;
  kev_findings: ColumnType<number, number | undefined, number>;
  worst_severity: string | null;
  max_risk_score: number | null;
  earliest_due_at: Timestamp | null;
}

/** A per-host difference from the base package set; `version` null removes the package. */
export interface HostPackageOverridesTable {
  host_id: string;
  ecosystem: string;
  name: string;
  /** '' when the package has no architecture. */
  architecture: string;
  version: string | null;
  source_name: string | null;
  source_version: string | null;
}

export type FeedKind =
  | 'auto'
  | 'osv'
  | 'debian-tracker'
  | 'debian-dsa-list'
  | 'alpine-secdb'
  | 'kev'
  | 'epss';
export type FeedSyncStatus = 'running' | 'ok' | 'failed';

/** A named advisory source: a URL or a local path, synced on a schedule and on demand. */
export interface FeedsTable {
  id: string;
  name: string;
  kind: FeedKind;
  location: string;
  /** Seconds between scheduled syncs; null syncs only on demand. */
  schedule_seconds: number | null;
  /** 0 or 1. */
  enabled: ColumnType<number, number | undefined, number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  next_sync_at: Timestamp | null;
  last_sync_started_at: Timestamp | null;
  last_sync_finished_at: Timestamp | null;
  last_sync_status: FeedSyncStatus | null;
  last_sync_error: string | null;
  /** JSON object of the last sync's counts (records added, changed, removed, hosts re-evaluated). */
  last_sync_counts: ColumnType<JsonText, JsonText | undefined, JsonText>;
}

export interface KevEntriesTable {
  cve_id: string;
  feed_id: string | null;
  /** JSON of core's `KevEntry`. */
  record: JsonText;
  content_hash: string;
}

export interface EpssScoresTable {
  cve_id: string;
  feed_id: string | null;
  epss: number;
  percentile: number;
  scored_on: string | null;
}

/** Named monotone counters (`advisories`), bumped in the transaction that changes what they count. */
export interface RevisionsTable {
  name: string;
  /** `bigint`, a string on PostgreSQL. */
  value: number | string;
}

export type Role = 'admin' | 'operator' | 'approver' | 'auditor';

/** A user holds a role everywhere (`group_id` null) or for the hosts of one group. */
export interface RoleBindingsTable {
  id: string;
  user_id: string;
  role: Role;
  group_id: string | null;
  created_at: Timestamp;
}

export interface AdvisoriesTable {
  id: string;
  source: string;
  external_id: string;
  title: string | null;
  severity: string | null;
  cvss_score: number | null;
  /** JSON array of alias ids (CVE, GHSA, DSA). */
  aliases: JsonText;
  published_at: Timestamp | null;
  modified_at: Timestamp | null;
  withdrawn_at: Timestamp | null;
  /** sha256 of the normalised record, so a feed sync writes only what changed. */
  content_hash: string;
  feed_id: string | null;
  /** JSON `{ advisory, origin }` exactly as core parsed it; the detection index is built from it. */
  record: ColumnType<JsonText, JsonText | undefined, JsonText>;
}

export interface AdvisoryAffectedTable {
  advisory_id: string;
  position: number;
  ecosystem: string;
  /** The OS release the range applies to (`debian:12`), or null for any. */
  os_scope: string | null;
  package_name: string;
  introduced: string | null;
  fixed: string | null;
  last_affected: string | null;
}

export interface FindingsTable {
  id: string;
  host_id: string;
  advisory_id: string;
  package_name: string;
  installed_version: string;
  fixed_version: string | null;
  severity: string | null;
  risk_score: number | null;
  status: FindingStatus;
  opened_at: Timestamp;
  fixed_at: Timestamp | null;
  due_at: Timestamp | null;
  ecosystem: string | null;
  architecture: string | null;
  source_package: string | null;
  fix_state: string | null;
  /** JSON array of the CVE ids this advisory covers. */
  cves: ColumnType<JsonText, JsonText | undefined, JsonText>;
  /** 0 or 1. */
  is_kev: ColumnType<number, number | undefined, number>;
  epss: number | null;
  /** JSON of core's `FindingEvidence` for this advisory. */
  evidence: ColumnType<JsonText, JsonText | undefined, JsonText>;
  updated_at: Timestamp | null;
}

export interface FindingEventsTable {
  id: string;
  finding_id: string;
  kind: FindingEventKind;
  at: Timestamp;
  actor: string | null;
  /** JSON object: the versions seen, the exception id for a waiver. */
  detail: JsonText;
}

export interface UsersTable {
  id: string;
  email: string;
  display_name: string;
  password_hash: string | null;
  created_at: Timestamp;
  disabled_at: Timestamp | null;
}

export interface RolesTable {
  id: string;
  name: string;
  /** JSON array of permission names. */
  permissions: JsonText;
}

export interface UserRolesTable {
  user_id: string;
  role_id: string;
}

/** API tokens; only a hash of the secret is kept. */
export interface ApiTokensTable {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  created_at: Timestamp;
  expires_at: Timestamp | null;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

/** Secrets an agent presents to enrol; only a hash is kept. */
export interface EnrollmentSecretsTable {
  id: string;
  name: string;
  secret_hash: string;
  group_id: string | null;
  max_uses: number | null;
  use_count: number;
  created_at: Timestamp;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

/** The key an enrolled agent authenticates with; only a hash is kept. */
export interface NodeKeysTable {
  id: string;
  host_id: string;
  key_hash: string;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
}

/** One row per job an operator (or a rollout) asked for; its hosts are `job_hosts`. */
export interface JobsTable {
  id: string;
  kind: JobKind;
  /** JSON object: `packages`, `rollbackOf`, `hook`, as the kind needs. */
  payload: JsonText;
  /** 0 or 1: the package manager only simulates. */
  is_dry_run: number;
  /** JSON object: the selector as given (`hostIds`, `groupId`, `labels`). */
  selector: JsonText;
  rollout_id: string | null;
  created_by: string | null;
  created_at: Timestamp;
  deadline_at: Timestamp;
  host_count: number;
}

/** A job on one host: the selector resolved when the job was created. */
export interface JobHostsTable {
  job_id: string;
  host_id: string;
  state: JobState;
  attempt: ColumnType<number, number | undefined, number>;
  /** JSON object for this host only (a rollback's versions), or null for the job's payload. */
  payload: JsonText | null;
  queued_at: Timestamp;
  deadline_at: Timestamp;
  sent_at: Timestamp | null;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  timed_out_at: Timestamp | null;
  cancelled_at: Timestamp | null;
  /** JSON object, the agent's result, or null until one arrived. */
  result: JsonText | null;
  failure_reason: string | null;
  /** 0 or 1: the result arrived after the entry had timed out. */
  is_late: ColumnType<number, number | undefined, number>;
}

/** A command configured for a group's hosts, run around package jobs or on demand. */
export interface GroupHooksTable {
  group_id: string;
  name: string;
  phase: HookPhase;
  /** JSON array, the argv. */
  command: JsonText;
  timeout_seconds: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Append-only; `hash` covers `prev_hash` and the row (see `appendAuditEntry`), so edits break the chain. */
export interface AuditLogTable {
  /** 1, 2, 3, … in append order; `bigint`, so PostgreSQL returns it as a string. */
  seq: ColumnType<number | string, number, never>;
  at: Timestamp;
  actor: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  detail: JsonText;
  prev_hash: string | null;
  hash: string;
}

export interface Database {
  host_groups: HostGroupsTable;
  package_sets: PackageSetsTable;
  package_set_members: PackageSetMembersTable;
  hosts: HostsTable;
  advisories: AdvisoriesTable;
  advisory_affected: AdvisoryAffectedTable;
  findings: FindingsTable;
  finding_events: FindingEventsTable;
  users: UsersTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  api_tokens: ApiTokensTable;
  enrollment_secrets: EnrollmentSecretsTable;
  node_keys: NodeKeysTable;
  jobs: JobsTable;
  job_hosts: JobHostsTable;
  group_hooks: GroupHooksTable;
  audit_log: AuditLogTable;
  feeds: FeedsTable;
  kev_entries: KevEntriesTable;
  epss_scores: EpssScoresTable;
  revisions: RevisionsTable;
  host_package_overrides: HostPackageOverridesTable;
  role_bindings: RoleBindingsTable;
}

export type HostRow = Selectable<HostsTable>;
export type NewHostRow = Insertable<HostsTable>;
export type HostUpdate = Updateable<HostsTable>;
export type PackageSetMemberRow = Selectable<PackageSetMembersTable>;
