import { type Kysely, type SqlBool, sql } from 'kysely';

// Jobs as an operator sees them: one `jobs` row per request (what to do, to which selector, by whom,
// until when) and one `job_hosts` row per host the selector resolved to when the job was created,
// with that host's state, attempts and result. The initial `jobs` table (one row per host, never
// used) is replaced. `group_hooks` are the pre/post and on-demand commands configured per group.
// Same type rules as the initial migration; booleans are `integer` 0/1 on both databases.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('jobs').execute();

  await db.schema
    .createTable('jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    // JSON: packages, rollbackOf, hook; what every targeted host gets.
    .addColumn('payload', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('is_dry_run', 'integer', (c) => c.notNull().defaultTo(0))
    // JSON: the selector as given (hosts, group, labels), kept for the record.
    .addColumn('selector', 'text', (c) => c.notNull())
    .addColumn('rollout_id', 'text')
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('deadline_at', 'timestamptz', (c) => c.notNull())
    .addColumn('host_count', 'integer', (c) => c.notNull())
    .execute();
  // The job list pages newest first by (created_at, id).
  await db.schema.createIndex('jobs_created_id_idx').on('jobs').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('jobs_rollout_id_idx').on('jobs').column('rollout_id').execute();

  await db.schema
    .createTable('job_hosts')
    .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
    .addColumn('host_id', 'text', (c) => c.notNull().references('hosts.id').onDelete('cascade'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(0))
    // JSON for this host only (a rollback's versions to go back to); null: the job's payload.
    .addColumn('payload', 'text')
    .addColumn('queued_at', 'timestamptz', (c) => c.notNull())
    .addColumn('deadline_at', 'timestamptz', (c) => c.notNull())
    .addColumn('sent_at', 'timestamptz')
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addColumn('timed_out_at', 'timestamptz')
    .addColumn('cancelled_at', 'timestamptz')
    // JSON of the agent's result, null until one arrives.
    .addColumn('result', 'text')
    .addColumn('failure_reason', 'text')
    // 1 when the result arrived after the entry had timed out.
    .addColumn('is_late', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('job_hosts_pk', ['job_id', 'host_id'])
    .execute();
  // A check-in: this host's queued and active entries, oldest first.
  await db.schema
    .createIndex('job_hosts_host_state_idx')
    .on('job_hosts')
    .columns(['host_id', 'state', 'queued_at'])
    .execute();
  // Expiry: unfinished entries past their deadline.
  await db.schema
    .createIndex('job_hosts_state_deadline_idx')
    .on('job_hosts')
    .columns(['state', 'deadline_at'])
    .execute();
  // A host never runs two jobs at once: at most one entry per host is sent or running.
  await db.schema
    .createIndex('job_hosts_one_active_idx')
    .on('job_hosts')
    .column('host_id')
    .unique()
    .where(sql.raw<SqlBool>(`state in ('sent', 'running')`))
    .execute();

  await db.schema
    .createTable('group_hooks')
    .addColumn('group_id', 'text', (c) => c.notNull().references('host_groups.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    // 'pre' | 'post' (around every job that changes packages) | 'manual' (run-hook jobs only).
    .addColumn('phase', 'text', (c) => c.notNull())
    // JSON array: argv, run without a shell.
    .addColumn('command', 'text', (c) => c.notNull())
    .addColumn('timeout_seconds', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('group_hooks_pk', ['group_id', 'name'])
    .execute();
}
