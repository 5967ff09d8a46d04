import { fileURLToPath } from 'node:url';
import {
  LAB_ADVISORIES,
  LAB_MANAGERS,
  type LabManager,
  type LabStatus,
  labDown,
  labStatus,
  labUp,
  nativeQuery,
} from '@patchwarden/lab';
import { parseCommandArgs } from '../args.js';
import { formatTable } from '../client.js';
import { EXIT, UsageError } from '../errors.js';
import { type Io, write } from '../io.js';

const USAGE = `usage: patchwarden lab up [--hosts N] [--manager apt|dnf|zypper|pacman] [--dir DIR]
                       [--port P | --server URL --enroll-secret S [--token T]] [--prefix P]
                       [--wait SECONDS] [--json]
       patchwarden lab status [--dir DIR] [--json]
       patchwarden lab down [--dir DIR] [--json]
Sandboxed hosts for demos, tests and benchmarks. \`up\` builds a local repository of generated lab
packages (some versions with advisories against them, published as an OSV feed in DIR/feed), creates N
private package roots at mixed patch levels and starts one agent per root. Without --server it starts
its own server (SQLite in DIR/server-data) and prints its URL and an admin token; with --server and
--enroll-secret it joins that one (--token, or PATCHWARDEN_TOKEN, also adds the lab feed there).
\`status\` lists each host's manager, root and host id; \`down\` stops everything and removes DIR.
The lab never touches this machine's own packages. Defaults: --hosts 3, --manager apt,
--dir ./patchwarden-lab, --prefix lab (host names are <prefix>-<manager>-NN), --wait 60 (seconds to
wait for the agents to enrol; 0: don't). See docs/lab.md.`;

const OPTIONS = {
  hosts: { type: 'string' },
  manager: { type: 'string' },
  dir: { type: 'string' },
  port: { type: 'string' },
  server: { type: 'string' },
  'enroll-secret': { type: 'string' },
  token: { type: 'string' },
  wait: { type: 'string' },
  prefix: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const DEFAULT_DIR = './patchwarden-lab';

/** The CLI entry the lab's children run: this package's `bin/patchwarden.js`. */
function cliCommand(): string[] {
  return [process.execPath, fileURLToPath(new URL('../../bin/patchwarden.js', import.meta.url))];
}

export async function labCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, OPTIONS, USAGE);
  if (values.help) {
    await write(io.stdout, `${USAGE}\n`);
    return EXIT.ok;
  }
  const [sub, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}\n${USAGE}`);
  const dir = (values.dir as string | undefined) ?? DEFAULT_DIR;
  const json = values.json === true;
  switch (sub) {
    case 'up':
      return up(values, dir, json, io);
    case 'status': {
      rejectUpFlags(values, 'status');
      const status = await labStatus(dir);
      await write(io.stdout, json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
      return EXIT.ok;
    }
    case 'down': {
      rejectUpFlags(values, 'down');
      const result = await labDown(dir);
      await write(
        io.stdout,
        json
          ? `${JSON.stringify(result, null, 2)}\n`
          : `patchwarden lab: stopped ${result.agentsStopped} agent(s)${result.isServerStopped ? ' and the lab server' : ''}, removed ${result.dir}\n`,
      );
      return EXIT.ok;
    }
    default:
      throw new UsageError(
        `${sub === undefined ? 'a subcommand is required' : `unknown subcommand ${JSON.stringify(sub)}`}\n${USAGE}`,
      );
  }
}

function rejectUpFlags(values: Record<string, unknown>, sub: string): void {
  for (const flag of ['hosts', 'manager', 'port', 'server', 'enroll-secret', 'token', 'wait', 'prefix']) {
    if (values[flag] !== undefined)
      throw new UsageError(`--${flag} is an option of \`lab up\`, not \`lab ${sub}\``);
  }
}

function nonEmpty(text: string | undefined): string | null {
  return text === undefined || text === '' ? null : text;
}

function wholeNumber(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text))
    throw new UsageError(`${flag} must be a whole number; got ${JSON.stringify(text)}`);
  return Number(text);
}

async function up(values: Record<string, unknown>, dir: string, json: boolean, io: Io): Promise<number> {
  const hosts = wholeNumber('--hosts', values.hosts as string | undefined, 3);
  if (hosts < 1) throw new UsageError('--hosts must be at least 1');
  const manager = (values.manager as string | undefined) ?? 'apt';
  if (!(LAB_MANAGERS as readonly string[]).includes(manager)) {
    throw new UsageError(
      `--manager must be one of ${LAB_MANAGERS.join(', ')}; got ${JSON.stringify(manager)}`,
    );
  }
  const serverUrl = values.server as string | undefined;
  const enrollSecret = values['enroll-secret'] as string | undefined;
  if ((serverUrl === undefined) !== (enrollSecret === undefined)) {
    throw new UsageError('--server and --enroll-secret go together');
  }
  if (serverUrl !== undefined && values.port !== undefined) {
    throw new UsageError('--port is for the lab’s own server; it does not combine with --server');
  }
  if (serverUrl !== undefined && !/^https?:\/\//.test(serverUrl)) {
    throw new UsageError(`--server must be an http(s) URL; got ${JSON.stringify(serverUrl)}`);
  }
  const port = wholeNumber('--port', values.port as string | undefined, 0);
  const waitSeconds = wholeNumber('--wait', values.wait as string | undefined, 60);
  const env = io.env ?? {};
  let own: { adminToken: string; port: number } | null = null;
  if (serverUrl === undefined) {
    const { generateSecret } = await import('@patchwarden/server');
    own = { adminToken: generateSecret('token'), port };
  }
  const result = await labUp({
    dir,
    hosts,
    manager: manager as LabManager,
    command: cliCommand(),
    join:
      serverUrl === undefined || enrollSecret === undefined
        ? null
        : {
            url: serverUrl,
            enrollSecret,
            adminToken: (values.token as string | undefined) ?? nonEmpty(env.PATCHWARDEN_TOKEN),
          },
    own,
    env: { ...process.env, ...env },
    waitSeconds,
    ...(values.prefix === undefined ? {} : { namePrefix: values.prefix as string }),
    progress: json ? undefined : (line) => io.stderr.write(`patchwarden lab: ${line}\n`),
  });
  const isHealthy = result.failedAgents.length === 0 && result.notEnrolled.length === 0;
  if (json) {
    await write(
      io.stdout,
      `${JSON.stringify(
        {
          state: result.state,
          adminToken: result.adminToken,
          failedAgents: result.failedAgents,
          notEnrolled: result.notEnrolled,
          notes: result.notes,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    await write(io.stdout, upText(result));
  }
  return isHealthy ? EXIT.ok : EXIT.failed;
}

function upText(result: Awaited<ReturnType<typeof labUp>>): string {
  const { state } = result;
  const first = state.hosts[0];
  const lines = [
    `Lab of ${state.hosts.length} ${state.manager} host(s) in ${state.dir}`,
    `  server:  ${state.server.url}${state.server.isOwn ? ` (the lab's own, SQLite in ${state.server.dataDir})` : ''}`,
  ];
  if (result.adminToken !== null && state.server.isOwn) {
    lines.push(`  admin token (also in ${state.server.adminTokenFile}): ${result.adminToken}`);
  }
  lines.push(`  feed:    ${state.feedDir} (${LAB_ADVISORIES.length} OSV advisories, PWLAB-2026-*)`);
  for (const note of result.notes) lines.push(`  note:    ${note}`);
  for (const failed of result.failedAgents) {
    lines.push(`  AGENT EXITED: ${failed.name}:`, ...failed.log.split('\n').map((l) => `      ${l}`));
  }
  if (result.notEnrolled.length > 0) lines.push(`  not enrolled yet: ${result.notEnrolled.join(', ')}`);
  lines.push('', 'Try:');
  if (state.server.isOwn && result.adminToken !== null) {
    lines.push(`  export PATCHWARDEN_URL=${state.server.url} PATCHWARDEN_TOKEN=${result.adminToken}`);
  } else {
    lines.push(`  export PATCHWARDEN_URL=${state.server.url} PATCHWARDEN_TOKEN=<a token of yours>`);
  }
  lines.push(
    '  patchwarden hosts list',
    '  patchwarden findings list',
    '  patchwarden advisories show PWLAB-2026-0001',
    `  patchwarden lab status --dir ${state.dir}`,
  );
  if (first !== undefined) {
    lines.push(
      `  ${nativeQuery(state.manager, first.root).join(' ')}    # ${first.name}, with the manager's own tool`,
    );
  }
  lines.push(`  patchwarden lab down --dir ${state.dir}`, '');
  return lines.join('\n');
}

function formatStatus(status: LabStatus): string {
  const server = status.server;
  const running = server.isRunning === null ? '' : server.isRunning ? ' (running)' : ' (NOT running)';
  const head = [
    `Lab in ${status.dir}: ${status.hosts.length} ${status.manager} host(s), created ${status.createdAt}`,
    `server: ${server.url}${server.isOwn ? ' (own)' : ''}${running}`,
    ...(server.adminTokenFile === null ? [] : [`admin token: ${server.adminTokenFile}`]),
    `feed: ${status.feedDir}${status.feedId === null ? ' (not on the server)' : ''}`,
    '',
  ].join('\n');
  return `${head}\n${formatTable(
    ['NAME', 'MANAGER', 'LEVEL', 'HOST ID', 'AGENT', 'ROOT'],
    status.hosts.map((h) => [
      h.name,
      h.manager,
      h.patchLevel,
      h.hostId,
      h.isAgentRunning ? `running (${h.pid})` : 'stopped',
      h.root,
    ]),
  )}`;
}
