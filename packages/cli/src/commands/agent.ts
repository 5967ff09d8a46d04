import { type AgentLogger, createAgent, isManagerId, MANAGER_IDS } from '@patchwarden/agent';
import { parseCommandArgs } from '../args.js';
import { EXIT, UsageError } from '../errors.js';
import { type Io, write } from '../io.js';

const USAGE = `usage: patchwarden agent --server URL [--enroll-secret S] [--state-dir DIR] [--once]
                         [--root DIR] [--manager apt|dnf|zypper|pacman] [--hostname NAME]
                         [--interval-override SECONDS] [--log-level info|debug|silent]
The host agent: enrols with the secret (first run), then checks in on the server's interval,
sends its inventory (full, then deltas) and runs the jobs the server hands out (docs/agent.md).
  --server URL            the Patchwarden server (env PATCHWARDEN_URL)
  --enroll-secret S       enrolment secret pwe_… (env PATCHWARDEN_ENROLL_SECRET); needed until enrolled
  --state-dir DIR         identity (0600), journal, rollback archive; default /var/lib/patchwarden-agent
  --once                  one enrol/check-in/job cycle, print its report as JSON, exit
  --root DIR              a private package root (the lab); default: this machine
  --manager M             the package manager; default: detected from os-release
  --hostname NAME         the name to enrol with; default: <root>/etc/hostname or the machine's
  --interval-override S   check in every S seconds instead of the server's interval
  --log-level L           JSON lines on stderr; default info`;

export async function agentCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      server: { type: 'string' },
      'enroll-secret': { type: 'string' },
      'state-dir': { type: 'string' },
      once: { type: 'boolean' },
      root: { type: 'string' },
      manager: { type: 'string' },
      hostname: { type: 'string' },
      'interval-override': { type: 'string' },
      'log-level': { type: 'string' },
    },
    USAGE,
  );
  if (values.help) {
    await write(io.stdout, `${USAGE}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}\n${USAGE}`);
  }
  const env = io.env ?? {};
  const server = (values.server as string | undefined) ?? env.PATCHWARDEN_URL;
  if (server === undefined || !/^https?:\/\//.test(server)) {
    throw new UsageError(`--server must be an http(s) URL\n${USAGE}`);
  }
  const manager = values.manager as string | undefined;
  if (manager !== undefined && !isManagerId(manager)) {
    throw new UsageError(
      `--manager must be one of ${MANAGER_IDS.join(', ')}, not ${JSON.stringify(manager)}`,
    );
  }
  const interval = values['interval-override'] as string | undefined;
  if (interval !== undefined && !/^[1-9]\d*$/.test(interval)) {
    throw new UsageError(
      `--interval-override must be a whole number of seconds, not ${JSON.stringify(interval)}`,
    );
  }
  const level = (values['log-level'] as string | undefined) ?? 'info';
  if (!['info', 'debug', 'silent'].includes(level)) {
    throw new UsageError(`--log-level must be info, debug or silent, not ${JSON.stringify(level)}`);
  }
  const agent = await createAgent({
    serverUrl: server,
    enrollSecret: (values['enroll-secret'] as string | undefined) ?? env.PATCHWARDEN_ENROLL_SECRET ?? null,
    stateDir: (values['state-dir'] as string | undefined) ?? '/var/lib/patchwarden-agent',
    root: (values.root as string | undefined) ?? null,
    manager: manager !== undefined && isManagerId(manager) ? manager : null,
    hostname: (values.hostname as string | undefined) ?? null,
    intervalOverrideSeconds: interval === undefined ? null : Number(interval),
    log: stderrLogger(io, level),
  });
  if (values.once === true) {
    try {
      const report = await agent.runOnce();
      await write(io.stdout, `${JSON.stringify(report)}\n`);
      return report.jobs.some((j) => j.status === 'failed') ? EXIT.failed : EXIT.ok;
    } finally {
      agent.close();
    }
  }
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await agent.run(controller.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    agent.close();
  }
  return EXIT.ok;
}

/** One JSON line per message on stderr: `{ time, level, msg, …fields }`. Never logs the node key. */
function stderrLogger(io: Io, level: string): AgentLogger {
  const line = (lvl: string, fields: Record<string, unknown>, msg: string) => {
    io.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields })}\n`);
  };
  return {
    info: (fields, msg) => (level === 'silent' ? undefined : line('info', fields, msg)),
    warn: (fields, msg) => (level === 'silent' ? undefined : line('warn', fields, msg)),
    debug: (fields, msg) => (level === 'debug' ? line('debug', fields, msg) : undefined),
  };
}
