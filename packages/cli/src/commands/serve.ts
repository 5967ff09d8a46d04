import { type Config, describeSettings, loadConfig, startServer } from '@patchwarden/server';
import { parseArgsOrHelp } from '../admin.js';
import { EXIT, UsageError } from '../errors.js';
import { type Io, write } from '../io.js';

const USAGE = `usage: patchwarden serve [--config FILE] [--host H] [--port P] [--data-dir D] [--log-level L]
Runs the server: SQLite under --data-dir (default ./patchwarden-data), or PostgreSQL when
PATCHWARDEN_DATABASE_URL=postgres://... is set. Flags win over environment variables, which win
over the YAML config file. On an empty database it creates an admin and prints its API token once.
Settings (see docs/configuration.md):`;

export async function serveCommand(args: string[], io: Io): Promise<number> {
  const parsed = await parseArgsOrHelp(
    args,
    io,
    {
      config: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      'log-level': { type: 'string' },
    },
    USAGE,
    `${USAGE}\n  ${describeSettings().join('\n  ')}`,
  );
  if (parsed === null) {
    return EXIT.ok;
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}\n${USAGE}`);
  }
  const port = values.port as string | undefined;
  if (port !== undefined && !/^\d+$/.test(port)) {
    throw new UsageError(`--port must be a number, not ${JSON.stringify(port)}`);
  }
  const config: Config = loadConfig({
    env: io.env ?? {},
    ...(values.config === undefined ? {} : { file: values.config as string }),
    flags: {
      host: values.host,
      port: port === undefined ? undefined : Number(port),
      dataDir: values['data-dir'],
      logLevel: values['log-level'],
    },
  });
  const server = await startServer(config);
  const where = config.databaseUrl === null ? `SQLite in ${config.dataDir}` : 'PostgreSQL';
  const lines = [`patchwarden: serving on ${server.url} (${where})`];
  if (server.bootstrapToken !== null) {
    lines.push(
      'patchwarden: created the first admin (admin@localhost). Its API token, shown only this once:',
      `  ${server.bootstrapToken}`,
      `  export PATCHWARDEN_URL=${server.url} PATCHWARDEN_TOKEN=${server.bootstrapToken}`,
    );
  }
  await write(io.stderr, `${lines.join('\n')}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  return EXIT.ok;
}
