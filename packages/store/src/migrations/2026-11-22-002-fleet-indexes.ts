import { type Kysely, sql } from 'kysely';

// Indexes for the operator's fleet queries (repositories/fleet.ts). The host list pages by keyset on
// (sort key, id) in both directions, so each sort key has an index ending in id; a scoped operator
// lists one group's hosts by name; the fleet-wide findings list pages by (risk_score, id). The patch
// view and the summary aggregate every open finding: a partial index over open findings holding
// every column they read lets both databases answer them from the index alone, in group order; it
// replaces findings_fix_idx (status, package_name, fixed_version), which served only that view and
// which PostgreSQL's planner would otherwise prefer for its smaller size, reading the table per row.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('hosts_name_id_idx').on('hosts').columns(['name', 'id']).execute();
  await db.schema.createIndex('hosts_last_seen_id_idx').on('hosts').columns(['last_seen_at', 'id']).execute();
  await db.schema.createIndex('hosts_risk_id_idx').on('hosts').columns(['max_risk_score', 'id']).execute();
  await db.schema
    .createIndex('hosts_group_name_id_idx')
    .on('hosts')
    .columns(['group_id', 'name', 'id'])
    .execute();
  await db.schema.createIndex('findings_risk_id_idx').on('findings').columns(['risk_score', 'id']).execute();
  await db.schema
    .createIndex('findings_open_fix_idx')
    .on('findings')
    .columns([
      'package_name',
      'fixed_version',
      'host_id',
      'advisory_id',
      'is_kev',
      'severity',
      'risk_score',
      'due_at',
      'fix_state',
    ])
    .where(sql<boolean>`status = 'open'`)
    .execute();
  await db.schema.dropIndex('findings_fix_idx').execute();
}
