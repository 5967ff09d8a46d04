import type { Kysely } from 'kysely';

// What the server needs on top of the initial schema: feeds and their sync state, the whole
// normalised advisory record (the detection index is rebuilt from it), KEV and EPSS, per-host
// package differences and delta sequence numbers, finding details for the patch-centric view,
// host finding rollups for fast fleet queries, role bindings scoped to groups, and named counters.
// Same type rules as the initial migration; booleans are `integer` 0/1 on both databases.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('feeds')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('location', 'text', (c) => c.notNull())
    .addColumn('schedule_seconds', 'integer')
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('next_sync_at', 'timestamptz')
    .addColumn('last_sync_started_at', 'timestamptz')
    .addColumn('last_sync_finished_at', 'timestamptz')
    .addColumn('last_sync_status', 'text')
    .addColumn('last_sync_error', 'text')
    .addColumn('last_sync_counts', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();

  await db.schema
    .alterTable('advisories')
    .addColumn('feed_id', 'text', (c) => c.references('feeds.id').onDelete('set null'))
    .execute();
  // `{ advisory, origin }` exactly as core parsed it; the affected rows stay the SQL-side index.
  await db.schema
    .alterTable('advisories')
    .addColumn('record', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
  await db.schema.createIndex('advisories_feed_id_idx').on('advisories').column('feed_id').execute();

  await db.schema
    .createTable('kev_entries')
    .addColumn('cve_id', 'text', (c) => c.primaryKey())
    .addColumn('feed_id', 'text', (c) => c.references('feeds.id').onDelete('set null'))
    .addColumn('record', 'text', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('epss_scores')
    .addColumn('cve_id', 'text', (c) => c.primaryKey())
    .addColumn('feed_id', 'text', (c) => c.references('feeds.id').onDelete('set null'))
    .addColumn('epss', 'double precision', (c) => c.notNull())
    .addColumn('percentile', 'double precision', (c) => c.notNull())
    .addColumn('scored_on', 'text')
    .execute();

  // Named monotone counters, e.g. `advisories`: bumped in the transaction that changes advisories,
  // KEV or EPSS, so every replica knows when its in-memory detection index is stale.
  await db.schema
    .createTable('revisions')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'bigint', (c) => c.notNull())
    .execute();

  // A host's inventory = its base package set with these rows applied: a row with a version
  // replaces or adds that package, a row with `version` null removes it. `architecture` is ''
  // when the package has none, so it can be part of the key.
  await db.schema
    .createTable('host_package_overrides')
    .addColumn('host_id', 'text', (c) => c.notNull().references('hosts.id').onDelete('cascade'))
    .addColumn('ecosystem', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('architecture', 'text', (c) => c.notNull())
    .addColumn('version', 'text')
    .addColumn('source_name', 'text')
    .addColumn('source_version', 'text')
    .addPrimaryKeyConstraint('host_package_overrides_pk', ['host_id', 'ecosystem', 'name', 'architecture'])
    .execute();
  await db.schema
    .createIndex('host_package_overrides_name_idx')
    .on('host_package_overrides')
    .columns(['ecosystem', 'name', 'host_id'])
    .execute();

  await db.schema
    .alterTable('hosts')
    .addColumn('inventory_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('hosts').addColumn('machine_id', 'text').execute();
  await db.schema.alterTable('hosts').addColumn('kernel', 'text').execute();
  await db.schema.alterTable('hosts').addColumn('agent_version', 'text').execute();
  await db.schema
    .alterTable('hosts')
    .addColumn('reboot_required', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('hosts')
    .addColumn('reboot_packages', 'text', (c) => c.notNull().defaultTo('[]'))
    .execute();
  // Rollups of the host's open findings, rewritten whenever its findings change, so the host list
  // filters and sorts by exposure without aggregating findings per request.
  await db.schema
    .alterTable('hosts')
    .addColumn('open_findings', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('hosts')
    .addColumn('kev_findings', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('hosts').addColumn('worst_severity', 'text').execute();
  await db.schema.alterTable('hosts').addColumn('max_risk_score', 'double precision').execute();
  await db.schema.alterTable('hosts').addColumn('earliest_due_at', 'timestamptz').execute();
  await db.schema.createIndex('hosts_machine_id_idx').on('hosts').column('machine_id').execute();
  await db.schema
    .createIndex('hosts_open_findings_idx')
    .on('hosts')
    .columns(['open_findings', 'id'])
    .execute();

  await db.schema.alterTable('findings').addColumn('ecosystem', 'text').execute();
  await db.schema.alterTable('findings').addColumn('architecture', 'text').execute();
  await db.schema.alterTable('findings').addColumn('source_package', 'text').execute();
  await db.schema.alterTable('findings').addColumn('fix_state', 'text').execute();
  await db.schema
    .alterTable('findings')
    .addColumn('cves', 'text', (c) => c.notNull().defaultTo('[]'))
    .execute();
  await db.schema
    .alterTable('findings')
    .addColumn('is_kev', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('findings').addColumn('epss', 'double precision').execute();
  await db.schema
    .alterTable('findings')
    .addColumn('evidence', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
  await db.schema.alterTable('findings').addColumn('updated_at', 'timestamptz').execute();
  await db.schema
    .createIndex('findings_host_status_idx')
    .on('findings')
    .columns(['host_id', 'status'])
    .execute();
  await db.schema
    .createIndex('findings_fix_idx')
    .on('findings')
    .columns(['status', 'package_name', 'fixed_version'])
    .execute();

  await db.schema
    .createTable('role_bindings')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('group_id', 'text', (c) => c.references('host_groups.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('role_bindings_user_idx')
    .on('role_bindings')
    .columns(['user_id', 'role', 'group_id'])
    .unique()
    .execute();
}
