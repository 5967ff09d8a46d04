import { PatchwardenError } from '@patchwarden/core/errors';
import { EXIT, UsageError } from './errors.js';
import type { Io } from './io.js';

type Command = (args: string[], io: Io) => Promise<number>;

// Each command is loaded only when it runs: `vercmp --batch` must not pay for the advisory parsers.
const commands: Record<string, { load: () => Promise<Command>; summary: string }> = {
  vercmp: {
    load: async () => (await import('./commands/vercmp.js')).vercmpCommand,
    summary: 'compare two versions as the package manager does',
  },
  inventory: {
    load: async () => (await import('./commands/inventory.js')).inventoryCommand,
    summary: 'print the normalised inventory of a host',
  },
  scan: {
    load: async () => (await import('./commands/scan.js')).scanCommand,
    summary: 'find the advisories that apply to one host, offline',
  },
  serve: {
    load: async () => (await import('./commands/serve.js')).serveCommand,
    summary: 'run the server (REST API, agent protocol, feed sync)',
  },
  lab: {
    load: async () => (await import('./commands/lab.js')).labCommand,
    summary: 'sandboxed lab hosts: lab up, status, down',
  },
  db: {
    load: async () => (await import('./commands/db.js')).dbCommand,
    summary: 'database maintenance: db migrate',
  },
  hosts: {
    load: async () => (await import('./commands/hosts.js')).hostsCommand,
    summary: 'list and show hosts (server)',
  },
  findings: {
    load: async () => (await import('./commands/findings.js')).findingsCommand,
    summary: 'list findings (server)',
  },
  advisories: {
    load: async () => (await import('./commands/advisories.js')).advisoriesCommand,
    summary: 'show an advisory and the hosts it affects (server)',
  },
  feeds: {
    load: async () => (await import('./commands/feeds.js')).feedsCommand,
    summary: 'add, list and sync advisory feeds (server)',
  },
  summary: {
    load: async () => (await import('./commands/summary.js')).summaryCommand,
    summary: 'fleet summary (server)',
  },
  tokens: {
    load: async () => (await import('./commands/tokens.js')).tokensCommand,
    summary: 'create and revoke API tokens (server)',
  },
  'enroll-secrets': {
    load: async () => (await import('./commands/enroll-secrets.js')).enrollSecretsCommand,
    summary: 'create and revoke agent enrolment secrets (server)',
  },
  users: {
    load: async () => (await import('./commands/users.js')).usersCommand,
    summary: 'create users and grant roles (server)',
  },
  agent: {
    load: async () => (await import('./commands/agent.js')).agentCommand,
    summary: 'run the host agent: enrol, check in, run jobs',
  },
  jobs: {
    load: async () => (await import('./commands/jobs.js')).jobsCommand,
    summary: 'create, list, show and cancel jobs on hosts (server)',
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(16)}${c.summary}`);
  return `usage: patchwarden <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun \`patchwarden <command> --help\` for a command's options.\n`;
}

/** Runs the CLI and returns the exit code; one line on stderr for any error. */
export async function main(argv: string[], io: Io = process): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? EXIT.badInput : EXIT.ok;
  }
  const command = commands[name];
  if (!command) {
    io.stderr.write(`patchwarden: unknown command ${JSON.stringify(name)}\n${usage()}`);
    return EXIT.badInput;
  }
  try {
    const run = await command.load();
    return await run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`patchwarden ${name}: ${err.message}\n`);
      return EXIT.badInput;
    }
    if (err instanceof PatchwardenError) {
      io.stderr.write(`patchwarden ${name}: ${err.code}: ${err.message}\n`);
      return err.status < 500 ? EXIT.badInput : EXIT.unavailable;
    }
    io.stderr.write(
      `patchwarden ${name}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return EXIT.internal;
  }
}
