import {
  type AdminArgs,
  dispatch,
  expectArgs,
  parseDuration,
  positiveIntFlag,
  printResult,
  runAdminCommand,
} from '../admin.js';
import { formatTable } from '../client.js';
import { EXIT, UsageError } from '../errors.js';
import { type Io, write } from '../io.js';

const USAGE = `usage: patchwarden jobs create (--host H [--host H2 ...] | --group G | --label k=v ...)
                               (--install NAME[:ARCH]=VERSION ... | --upgrade | --rollback JOB | --scan
                                | --reboot | --hook NAME) [--dry-run] [--deadline 1h]
       patchwarden jobs list [--limit N] [--cursor C]
       patchwarden jobs show JOB_ID [--limit N] [--cursor C]
       patchwarden jobs cancel JOB_ID
       patchwarden jobs hooks list --group GROUP_ID
       patchwarden jobs hooks set --group GROUP_ID --name N --phase pre|post|manual --timeout 30s -- COMMAND [ARG ...]
       patchwarden jobs hooks delete --group GROUP_ID --name N
Options: --server URL (PATCHWARDEN_URL), --token T (PATCHWARDEN_TOKEN), --json.
Hosts are ids or unique names; a group (id or name) includes its subgroups; several --label must all
match; --group and --label combine. The selector is resolved to hosts when the job is created.
--rollback JOB without a selector rolls back every host the job reported on. --dry-run runs the
package manager's own simulation (install, upgrade, rollback). --deadline: 90s, 30m, 2h, 1d
(default 1h); what a host has not finished by then is timed-out. cancel stops hosts still queued.
Hooks (admins): pre/post hooks run around every job that changes packages on the group's hosts
(subgroups included), manual ones only as --hook jobs; the command runs without a shell.`;

interface Job {
  id: string;
  kind: string;
  state: string;
  dryRun: boolean;
  packages: { name: string; architecture?: string | null; version: string | null }[] | null;
  rollbackOf: string | null;
  hook: string | null;
  createdBy: string | null;
  createdAt: string;
  deadlineAt: string;
  hostCount: number;
  counts: Record<string, number>;
}

interface Entry {
  hostId: string;
  hostName: string | null;
  state: string;
  attempt: number;
  finishedAt: string | null;
  late: boolean;
  failureReason: string | null;
  result: {
    exitCode: number | null;
    stdout: string;
    stderr: string;
    stdoutTruncated: boolean;
    stderrTruncated: boolean;
  } | null;
}

interface JobDetail {
  job: Job;
  hosts: Entry[];
  nextCursor: string | null;
}

const JOB_HEADERS = ['ID', 'KIND', 'WHAT', 'STATE', 'HOSTS', 'PROGRESS', 'CREATED', 'DEADLINE'] as const;
const HOST_HEADERS = ['HOST', 'STATE', 'ATTEMPT', 'EXIT', 'REASON', 'FINISHED'] as const;
const KIND_FLAGS = ['install', 'upgrade', 'rollback', 'scan', 'reboot', 'hook'] as const;

function what(job: Job): string {
  const dry = job.dryRun ? ' (dry run)' : '';
  if (job.packages !== null && job.kind === 'install') {
    const spec = (p: { name: string; architecture?: string | null; version: string | null }) =>
      `${p.name}${p.architecture == null ? '' : `:${p.architecture}`}=${p.version ?? ''}`;
    return `${job.packages.map(spec).join(' ')}${dry}`;
  }
  if (job.rollbackOf !== null) {
    return `undo ${job.rollbackOf}${dry}`;
  }
  return job.hook ?? (job.dryRun ? 'dry run' : '');
}

const STATE_ORDER = ['queued', 'sent', 'running', 'succeeded', 'failed', 'timed-out', 'cancelled'];

function progress(counts: Record<string, number>): string {
  return STATE_ORDER.filter((state) => (counts[state] ?? 0) > 0)
    .map((state) => `${state} ${counts[state]}`)
    .join(', ');
}

function jobRow(job: Job): unknown[] {
  return [
    job.id,
    job.kind,
    what(job),
    job.state,
    job.hostCount,
    progress(job.counts),
    job.createdAt,
    job.deadlineAt,
  ];
}

function hostRow(entry: Entry): unknown[] {
  return [
    entry.hostName ?? entry.hostId,
    entry.late ? `${entry.state} (late)` : entry.state,
    entry.attempt,
    entry.result?.exitCode,
    entry.failureReason,
    entry.finishedAt,
  ];
}

function formatDetail(detail: JobDetail): string {
  const parts = [
    formatTable(JOB_HEADERS, [jobRow(detail.job)]),
    '\n',
    formatTable(HOST_HEADERS, detail.hosts.map(hostRow)),
  ];
  for (const entry of detail.hosts) {
    const result = entry.result;
    if (result === null) {
      continue;
    }
    for (const [stream, text, isCut] of [
      ['stdout', result.stdout, result.stdoutTruncated],
      ['stderr', result.stderr, result.stderrTruncated],
    ] as const) {
      if (text !== '') {
        const body = text.endsWith('\n') ? text : `${text}\n`;
        parts.push(
          `\n--- ${entry.hostName ?? entry.hostId} ${stream}${isCut ? ' (truncated)' : ''}\n${body}`,
        );
      }
    }
  }
  if (detail.nextCursor !== null) {
    parts.push(`\nmore hosts: --cursor ${detail.nextCursor}\n`);
  }
  return parts.join('');
}

/** `patchwarden jobs create|list|show|cancel`: jobs on the fleet's hosts, as tables or `--json`. */
export async function jobsCommand(args: string[], io: Io): Promise<number> {
  return runAdminCommand(
    args,
    io,
    USAGE,
    {
      host: { type: 'string', multiple: true },
      group: { type: 'string' },
      label: { type: 'string', multiple: true },
      install: { type: 'string', multiple: true },
      upgrade: { type: 'boolean' },
      rollback: { type: 'string' },
      scan: { type: 'boolean' },
      reboot: { type: 'boolean' },
      hook: { type: 'string' },
      'dry-run': { type: 'boolean' },
      deadline: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      name: { type: 'string' },
      phase: { type: 'string' },
      timeout: { type: 'string' },
    },
    (parsed) => {
      const { values, rest, json } = parsed;
      const page = {
        limit: positiveIntFlag(values.limit, '--limit takes a positive whole number'),
        cursor: values.cursor as string | undefined,
      };
      return {
        create: async () => {
          expectArgs(rest, 0, USAGE);
          const body = createBody(values);
          const created = await parsed.client().call<JobDetail>('POST', '/jobs', { body });
          await printResult(io, json, created, formatDetail(created));
          return EXIT.ok;
        },
        list: async () => {
          expectArgs(rest, 0, USAGE);
          const listed = await parsed
            .client()
            .call<{ jobs: Job[]; nextCursor: string | null }>('GET', '/jobs', { query: page });
          await printResult(io, json, listed, formatTable(JOB_HEADERS, listed.jobs.map(jobRow)));
          if (!json && listed.nextCursor !== null) {
            await write(io.stdout, `\nmore: --cursor ${listed.nextCursor}\n`);
          }
          return EXIT.ok;
        },
        show: async () => {
          expectArgs(rest, 1, USAGE);
          const detail = await parsed
            .client()
            .call<JobDetail>('GET', `/jobs/${encodeURIComponent(rest[0] ?? '')}`, { query: page });
          await printResult(io, json, detail, formatDetail(detail));
          return EXIT.ok;
        },
        cancel: async () => {
          expectArgs(rest, 1, USAGE);
          const cancelled = await parsed
            .client()
            .call<{ cancelled: number; job: Job }>(
              'POST',
              `/jobs/${encodeURIComponent(rest[0] ?? '')}/cancel`,
              { body: {} },
            );
          await printResult(
            io,
            json,
            cancelled,
            `${formatTable(JOB_HEADERS, [jobRow(cancelled.job)])}\ncancelled on ${cancelled.cancelled} queued host(s)\n`,
          );
          return EXIT.ok;
        },
        hooks: () => hooksCommand(parsed, io),
      };
    },
  );
}

interface Hook {
  groupId: string;
  name: string;
  phase: string;
  command: string[];
  timeoutSeconds: number;
  updatedAt: string;
}

const HOOK_HEADERS = ['GROUP', 'NAME', 'PHASE', 'TIMEOUT', 'COMMAND'] as const;

function hookRow(hook: Hook): unknown[] {
  return [hook.groupId, hook.name, hook.phase, `${hook.timeoutSeconds}s`, JSON.stringify(hook.command)];
}

async function hooksCommand(parsed: AdminArgs, io: Io): Promise<number> {
  const { values, json, client } = parsed;
  const [action, ...command] = parsed.rest;
  const group = values.group as string | undefined;
  if (group === undefined) {
    throw new UsageError(`jobs hooks needs --group\n${USAGE}`);
  }
  const name = values.name as string | undefined;
  const path = (hookName: string) =>
    `/jobs/hooks/${encodeURIComponent(group)}/${encodeURIComponent(hookName)}`;
  const needName = (): string => {
    if (name === undefined) {
      throw new UsageError(`jobs hooks ${action} needs --name\n${USAGE}`);
    }
    return name;
  };
  return dispatch(
    action,
    {
      list: async () => {
        expectArgs(command, 0, USAGE);
        const listed = await client().call<{ hooks: Hook[] }>(
          'GET',
          `/jobs/hooks/${encodeURIComponent(group)}`,
        );
        await printResult(io, json, listed, formatTable(HOOK_HEADERS, listed.hooks.map(hookRow)));
        return EXIT.ok;
      },
      set: async () => {
        const hookName = needName();
        const phase = values.phase as string | undefined;
        if (phase === undefined || !['pre', 'post', 'manual'].includes(phase)) {
          throw new UsageError(`jobs hooks set needs --phase pre, post or manual\n${USAGE}`);
        }
        if (command.length === 0) {
          throw new UsageError(`jobs hooks set needs the command after --\n${USAGE}`);
        }
        const timeout = values.timeout as string | undefined;
        const saved = await client().call<Hook>('PUT', path(hookName), {
          body: {
            phase,
            command,
            timeoutSeconds: timeout === undefined ? 60 : parseDeadline(timeout, '--timeout'),
          },
        });
        await printResult(io, json, saved, formatTable(HOOK_HEADERS, [hookRow(saved)]));
        return EXIT.ok;
      },
      delete: async () => {
        expectArgs(command, 0, USAGE);
        await client().call('DELETE', path(needName()));
        await write(io.stdout, json ? '{}\n' : `deleted hook ${name} of group ${group}\n`);
        return EXIT.ok;
      },
    },
    USAGE,
    { what: 'hooks action' },
  );
}

function createBody(values: Record<string, unknown>): Record<string, unknown> {
  const chosen = KIND_FLAGS.filter((flag) => values[flag] !== undefined && values[flag] !== false);
  if (chosen.length !== 1) {
    throw new UsageError(
      `jobs create needs exactly one of --install, --upgrade, --rollback, --scan, --reboot, --hook${
        chosen.length > 1 ? ` (got ${chosen.map((c) => `--${c}`).join(', ')})` : ''
      }\n${USAGE}`,
    );
  }
  const hosts = (values.host as string[] | undefined) ?? [];
  const group = values.group as string | undefined;
  const labels = parseLabels((values.label as string[] | undefined) ?? []);
  const kind = chosen[0] === 'hook' ? 'run-hook' : chosen[0];
  const body: Record<string, unknown> = { kind };
  if (hosts.length > 0) body.hosts = hosts;
  if (group !== undefined) body.group = group;
  if (labels !== null) body.labels = labels;
  if (kind === 'install') body.packages = ((values.install as string[] | undefined) ?? []).map(parsePackage);
  if (kind === 'rollback') body.rollbackOf = values.rollback;
  if (kind === 'run-hook') body.hook = values.hook;
  if (values['dry-run'] === true) body.dryRun = true;
  const deadline = values.deadline as string | undefined;
  if (deadline !== undefined) body.deadlineSeconds = parseDeadline(deadline);
  return body;
}

/** `name=version` or `name:arch=version`; the version is everything after the first `=`. */
function parsePackage(text: string): { name: string; architecture?: string; version: string } {
  const at = text.indexOf('=');
  if (at <= 0 || at === text.length - 1) {
    throw new UsageError(`--install takes NAME=VERSION (an exact version), got ${JSON.stringify(text)}`);
  }
  const spec = text.slice(0, at);
  const version = text.slice(at + 1);
  const colon = spec.indexOf(':');
  return colon > 0
    ? { name: spec.slice(0, colon), architecture: spec.slice(colon + 1), version }
    : { name: spec, version };
}

function parseLabels(filters: readonly string[]): Record<string, string> | null {
  if (filters.length === 0) {
    return null;
  }
  const labels: Record<string, string> = {};
  for (const filter of filters) {
    const at = filter.indexOf('=');
    if (at <= 0) {
      throw new UsageError(`--label takes KEY=VALUE, got ${JSON.stringify(filter)}`);
    }
    labels[filter.slice(0, at)] = filter.slice(at + 1);
  }
  return labels;
}

function parseDeadline(text: string, flag = '--deadline'): number {
  const seconds = parseDuration(text);
  if (seconds === null || text.startsWith('0')) {
    throw new UsageError(`${flag} takes a duration such as 90s, 30m, 2h or 1d, got ${JSON.stringify(text)}`);
  }
  return seconds;
}
