import { loadConfig } from '@patchwarden/server';
import { migrateToLatest, openStore } from '@patchwarden/store';
import { parseArgsOrHelp, unknownAction } from '../admin.js';
import { EXIT } from '../errors.js';
import { type Io, write } from '../io.js';

const USAGE = `usage: patchwarden db migrate [--config FILE] [--data-dir D] [--json]
Brings the database to this version's schema: SQLite under --data-dir (default ./patchwarden-data),
or PostgreSQL when PATCHWARDEN_DATABASE_URL is set. \`serve\` does the same on start. A database
migrated by a newer Patchwarden is refused (DATABASE_NEWER_THAN_CODE) and left unchanged.`;

export async function dbCommand(args: string[], io: Io): Promise<number> {
  const parsed = await parseArgsOrHelp(
    args,
    io,
    { config: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } },
    USAGE,
  );
  if (parsed === null) {
    return EXIT.ok;
  }
  const { values, positionals } = parsed;
  if (positionals.join(' ') !== 'migrate') {
    throw unknownAction(positionals.length === 0 ? undefined : positionals.join(' '), USAGE);
  }
  const config = loadConfig({
    env: io.env ?? {},
    ...(values.config === undefined ? {} : { file: values.config as string }),
    flags: { dataDir: values['data-dir'] },
  });
  const store = await openStore(
    config.databaseUrl === null ? { dataDir: config.dataDir } : { url: config.databaseUrl },
  );
  try {
    const applied = await migrateToLatest(store.db);
    if (values.json) {
      await write(io.stdout, `${JSON.stringify({ applied }, null, 2)}\n`);
    } else {
      await write(
        io.stdout,
        applied.length === 0
          ? 'the database is up to date\n'
          : `applied ${applied.length} migration(s):\n${applied.map((name) => `  ${name}`).join('\n')}\n`,
      );
    }
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
