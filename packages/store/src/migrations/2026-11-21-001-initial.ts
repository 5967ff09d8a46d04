import type { Kysely } from 'kysely';

// Types both databases accept: `timestamptz` holds ISO-8601 text on SQLite (NUMERIC affinity keeps
// non-numeric text as text), `double precision` has REAL affinity there, `bigint` INTEGER affinity.
// JSON lives in `text` on both. Ids are text chosen by the application: no autoincrement, whose
// syntax differs between the two.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('host_groups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('parent_id', 'text', (c) => c.references('host_groups.id').onDelete('set null'))
    .addColumn('description', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('package_sets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('package_count', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('package_set_members')
    .addColumn('package_set_id', 'text', (c) => c.notNull().references('package_sets.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('ecosystem', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('architecture', 'text')
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('source_name', 'text')
    .addColumn('source_version', 'text')
    .addPrimaryKeyConstraint('package_set_members_pk', ['package_set_id', 'position'])
    .execute();
  // Feed sync asks "which sets hold a package named X" to re-evaluate only the affected hosts.
  await db.schema
    .createIndex('package_set_members_name_idx')
    .on('package_set_members')
    .columns(['ecosystem', 'name', 'package_set_id'])
    .execute();

  await db.schema
    .createTable('hosts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('os_family', 'text')
    .addColumn('os_distro', 'text')
    .addColumn('os_version', 'text')
    .addColumn('os_version_id', 'text')
    .addColumn('os_codename', 'text')
    .addColumn('os_pretty_name', 'text')
    .addColumn('os_ecosystem', 'text')
    .addColumn('labels', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('group_id', 'text', (c) => c.references('host_groups.id').onDelete('set null'))
    .addColumn('owner', 'text')
    .addColumn('environment', 'text')
    .addColumn('criticality', 'text', (c) => c.notNull().defaultTo('medium'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_seen_at', 'timestamptz')
    .addColumn('package_set_id', 'text', (c) => c.references('package_sets.id'))
    .addColumn('inventory_updated_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('hosts_name_idx').on('hosts').column('name').execute();
  await db.schema.createIndex('hosts_group_id_idx').on('hosts').column('group_id').execute();
  await db.schema.createIndex('hosts_package_set_id_idx').on('hosts').column('package_set_id').execute();

  await db.schema
    .createTable('advisories')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('title', 'text')
    .addColumn('severity', 'text')
    .addColumn('cvss_score', 'double precision')
    .addColumn('aliases', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('published_at', 'timestamptz')
    .addColumn('modified_at', 'timestamptz')
    .addColumn('withdrawn_at', 'timestamptz')
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addUniqueConstraint('advisories_source_external_id_key', ['source', 'external_id'])
    .execute();

  await db.schema
    .createTable('advisory_affected')
    .addColumn('advisory_id', 'text', (c) => c.notNull().references('advisories.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('ecosystem', 'text', (c) => c.notNull())
    .addColumn('os_scope', 'text')
    .addColumn('package_name', 'text', (c) => c.notNull())
    .addColumn('introduced', 'text')
    .addColumn('fixed', 'text')
    .addColumn('last_affected', 'text')
    .addPrimaryKeyConstraint('advisory_affected_pk', ['advisory_id', 'position'])
    .execute();
  await db.schema
    .createIndex('advisory_affected_package_idx')
    .on('advisory_affected')
    .columns(['ecosystem', 'package_name'])
    .execute();

  await db.schema
    .createTable('findings')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('host_id', 'text', (c) => c.notNull().references('hosts.id').onDelete('cascade'))
    .addColumn('advisory_id', 'text', (c) => c.notNull().references('advisories.id'))
    .addColumn('package_name', 'text', (c) => c.notNull())
    .addColumn('installed_version', 'text', (c) => c.notNull())
    .addColumn('fixed_version', 'text')
    .addColumn('severity', 'text')
    .addColumn('risk_score', 'double precision')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('opened_at', 'timestamptz', (c) => c.notNull())
    .addColumn('fixed_at', 'timestamptz')
    .addColumn('due_at', 'timestamptz')
    .addUniqueConstraint('findings_host_package_advisory_key', ['host_id', 'package_name', 'advisory_id'])
    .execute();
  await db.schema
    .createIndex('findings_status_due_idx')
    .on('findings')
    .columns(['status', 'due_at'])
    .execute();
  await db.schema.createIndex('findings_advisory_id_idx').on('findings').column('advisory_id').execute();

  await db.schema
    .createTable('finding_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('finding_id', 'text', (c) => c.notNull().references('findings.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('actor', 'text')
    .addColumn('detail', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
  await db.schema
    .createIndex('finding_events_finding_at_idx')
    .on('finding_events')
    .columns(['finding_id', 'at'])
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('disabled_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('roles')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('permissions', 'text', (c) => c.notNull().defaultTo('[]'))
    .execute();

  await db.schema
    .createTable('user_roles')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role_id', 'text', (c) => c.notNull().references('roles.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('user_roles_pk', ['user_id', 'role_id'])
    .execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz')
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('enrollment_secrets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
    .addColumn('group_id', 'text', (c) => c.references('host_groups.id').onDelete('set null'))
    .addColumn('max_uses', 'integer')
    .addColumn('use_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('node_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('host_id', 'text', (c) => c.notNull().references('hosts.id').onDelete('cascade'))
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('host_id', 'text', (c) => c.notNull().references('hosts.id').onDelete('cascade'))
    .addColumn('rollout_id', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('available_at', 'timestamptz', (c) => c.notNull())
    .addColumn('claimed_at', 'timestamptz')
    .addColumn('claimed_by', 'text')
    .addColumn('finished_at', 'timestamptz')
    .addColumn('result', 'text')
    .execute();
  // An agent's poll: its own queued jobs that are due.
  await db.schema
    .createIndex('jobs_host_state_available_idx')
    .on('jobs')
    .columns(['host_id', 'state', 'available_at'])
    .execute();
  await db.schema.createIndex('jobs_rollout_id_idx').on('jobs').column('rollout_id').execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('actor', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'text')
    .addColumn('detail', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('prev_hash', 'text')
    .addColumn('hash', 'text', (c) => c.notNull().unique())
    .execute();
  await db.schema
    .createIndex('audit_log_target_idx')
    .on('audit_log')
    .columns(['target_type', 'target_id'])
    .execute();
}
