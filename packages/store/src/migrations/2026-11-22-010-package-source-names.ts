import type { Kysely } from 'kysely';

// Feed sync asks "which hosts hold a package built from source X": Debian, Ubuntu and Alpine
// advisories name source packages, so set members and host overrides need an index on the source
// name as well as the binary name (which `package_set_members_name_idx` and
// `host_package_overrides_name_idx` cover).

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('package_set_members_source_name_idx')
    .on('package_set_members')
    .columns(['source_name', 'package_set_id'])
    .execute();
  await db.schema
    .createIndex('host_package_overrides_source_name_idx')
    .on('host_package_overrides')
    .columns(['source_name', 'host_id'])
    .execute();
}
