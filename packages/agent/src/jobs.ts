import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstalledPackage } from '@patchwarden/core/host';
import type { RollbackArchive } from './archive.js';
import { runCommand } from './drivers/run-command.js';
import type {
  CommandResult,
  FailureReason,
  OperationResult,
  PackageChange,
  PackageDriver,
  PackageSpec,
} from './drivers/types.js';
import type { AgentJob, HookSpec, JobRecord, JobResult, Journal, VersionEntry } from './journal.js';

/** Characters kept of each of stdout and stderr in a result (the server's limit; the tail is kept). */
export const MAX_RESULT_OUTPUT_CHARS = 65_536;
/** Versions listed in a result's before/after (the server's limit). */
export const MAX_RESULT_VERSIONS = 5_000;

/** The server's failure reasons (docs/jobs.md), from the driver's classification. */
export type JobFailureReason =
  | 'lock-held'
  | 'dependency-conflict'
  | 'maintainer-script'
  | 'download'
  | 'disk-full'
  | 'timeout'
  | 'hook-failed'
  | 'hook-missing'
  | 'unknown';

const REASONS: Readonly<Record<FailureReason, JobFailureReason>> = {
  'lock-held': 'lock-held',
  'dependency-conflict': 'dependency-conflict',
  'script-failed': 'maintainer-script',
  'download-failed': 'download',
  'disk-full': 'disk-full',
  timeout: 'timeout',
  'not-found': 'unknown',
  unknown: 'unknown',
};

export function jobFailureReason(reason: FailureReason | null): JobFailureReason {
  return reason === null ? 'unknown' : REASONS[reason];
}

export interface JobRunnerDeps {
  driver: PackageDriver;
  journal: Journal;
  archive: RollbackArchive;
  /** The private root (lab), or null: the machine itself. */
  root: string | null;
  now: () => Date;
}

/** What running a job produced; `isRebootPending` asks the agent to reboot after posting it. */
export interface JobOutcome {
  result: JobResult;
  isRebootPending: boolean;
}

/** Collects commands' output into one bounded result. */
class Output {
  private stdout = '';
  private stderr = '';
  exitCode: number | null = null;
  add(command: CommandResult): void {
    this.stdout += `$ ${command.command.join(' ')}\n${command.stdout}`;
    if (command.stderr !== '') this.stderr += `$ ${command.command.join(' ')}\n${command.stderr}`;
    this.exitCode = command.exitCode;
  }
  addAll(commands: CommandResult[]): void {
    for (const command of commands) this.add(command);
  }
  note(line: string): void {
    this.stderr += `${line}\n`;
  }
  fields() {
    const out = tail(this.stdout);
    const err = tail(this.stderr);
    return { stdout: out.text, stderr: err.text, stdoutTruncated: out.cut, stderrTruncated: err.cut };
  }
}

function tail(text: string): { text: string; cut: boolean } {
  return text.length <= MAX_RESULT_OUTPUT_CHARS
    ? { text, cut: false }
    : { text: text.slice(text.length - MAX_RESULT_OUTPUT_CHARS), cut: true };
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 4096 ? `${line.slice(0, 4093)}...` : line;
}

function key(name: string, architecture: string | null | undefined): string {
  return `${name}\t${architecture ?? ''}`;
}

/** The installed version of each named package (null: absent); `architecture` null matches any. */
export function versionsIn(
  inventory: InstalledPackage[],
  packages: Array<{ name: string; architecture?: string | null }>,
): VersionEntry[] {
  return packages.map((p) => {
    const arch = p.architecture ?? null;
    const found = inventory.find((i) => i.name === p.name && (arch === null || i.architecture === arch));
    return { name: p.name, architecture: found?.architecture ?? arch, version: found?.version ?? null };
  });
}

function fromChanges(changes: PackageChange[]): { before: VersionEntry[]; after: VersionEntry[] } {
  const seen = new Set<string>();
  const before: VersionEntry[] = [];
  const after: VersionEntry[] = [];
  for (const c of changes) {
    const k = key(c.name, c.architecture);
    if (seen.has(k)) continue;
    seen.add(k);
    before.push({ name: c.name, architecture: c.architecture, version: c.from });
    after.push({ name: c.name, architecture: c.architecture, version: c.to });
  }
  return { before: before.slice(0, MAX_RESULT_VERSIONS), after: after.slice(0, MAX_RESULT_VERSIONS) };
}

/** Runs a hook's argv without a shell, killed at its timeout. */
export async function runHook(hook: HookSpec): Promise<CommandResult> {
  try {
    return await runCommand(hook.command, {
      timeoutMs: hook.timeoutSeconds * 1000,
      maxOutputBytes: MAX_RESULT_OUTPUT_CHARS,
    });
  } catch (err) {
    // The program could not be started (ENOENT, EACCES): a failed hook, not a crash of the agent.
    return {
      command: hook.command,
      exitCode: null,
      stdout: '',
      stderr: `cannot run hook ${hook.name}: ${err instanceof Error ? err.message : String(err)}\n`,
      truncated: false,
      timedOut: false,
      durationMs: 0,
    };
  }
}

function isHookOk(result: CommandResult): boolean {
  return result.exitCode === 0 && !result.timedOut;
}

/** A change the runner is about to make: what to run and what it must leave. */
interface PlannedChange {
  /** Package versions installed now that the change replaces or removes (archived first). */
  replaced: PackageSpec[];
  before: VersionEntry[];
  expected: VersionEntry[];
  run(): Promise<OperationResult>;
}

/**
 * Runs one job (docs/jobs.md) and returns its result. Package jobs: pre hooks (a failure stops
 * the job: `hook-failed`, nothing changed), the previous package files into the rollback archive,
 * journal `change-started`, the package manager, journal `change-finished`, post hooks. Dry runs
 * ask the manager's own simulation and run no hooks. The caller journals `received`/`started`
 * before and `result` after.
 */
export async function runJob(job: AgentJob, deps: JobRunnerDeps): Promise<JobOutcome> {
  const startedAt = deps.now().toISOString();
  const output = new Output();
  const finish = (
    status: 'succeeded' | 'failed',
    fields: {
      reason?: JobFailureReason | null;
      message?: string | null;
      before?: VersionEntry[];
      after?: VersionEntry[];
    } = {},
  ): JobResult => ({
    status,
    exitCode: output.exitCode,
    ...output.fields(),
    before: fields.before ?? [],
    after: fields.after ?? [],
    failureReason: status === 'failed' ? (fields.reason ?? 'unknown') : null,
    message: fields.message === undefined || fields.message === null ? null : oneLine(fields.message),
    startedAt,
    finishedAt: deps.now().toISOString(),
  });
  const done = (result: JobResult, extra: Partial<JobOutcome> = {}): JobOutcome => ({
    result,
    isRebootPending: false,
    ...extra,
  });
  const payload = job.payload;

  switch (job.kind) {
    case 'scan':
      return done(finish('succeeded', { message: 'a full inventory follows' }));

    case 'run-hook': {
      if (payload.hook === undefined) {
        return done(finish('failed', { reason: 'hook-missing', message: 'the job names no hook' }));
      }
      const result = await runHook(payload.hook);
      output.add(result);
      return done(
        isHookOk(result)
          ? finish('succeeded', { message: `hook ${payload.hook.name} ran` })
          : finish('failed', {
              reason: 'hook-failed',
              message: `hook ${payload.hook.name} ${result.timedOut ? 'timed out' : `exited ${result.exitCode ?? 'on a signal'}`}`,
            }),
      );
    }

    case 'reboot': {
      if (deps.root !== null) {
        // A private root cannot reboot the machine: a reboot clears what a real one clears.
        await rm(join(deps.root, 'run/reboot-required'), { force: true });
        await rm(join(deps.root, 'run/reboot-required.pkgs'), { force: true });
        return done(finish('succeeded', { message: 'private root: reboot simulated' }));
      }
      return done(finish('succeeded', { message: 'rebooting' }), { isRebootPending: true });
    }

    case 'install':
    case 'upgrade':
    case 'rollback':
      return runPackageJob(job, deps, output, finish, done);

    default:
      return done(
        finish('failed', { reason: 'unknown', message: `unknown job kind ${JSON.stringify(job.kind)}` }),
      );
  }
}

type Finish = (
  status: 'succeeded' | 'failed',
  fields?: {
    reason?: JobFailureReason | null;
    message?: string | null;
    before?: VersionEntry[];
    after?: VersionEntry[];
  },
) => JobResult;

async function runPackageJob(
  job: AgentJob,
  deps: JobRunnerDeps,
  output: Output,
  finish: Finish,
  done: (result: JobResult, extra?: Partial<JobOutcome>) => JobOutcome,
): Promise<JobOutcome> {
  const { driver } = deps;
  const payload = job.payload;
  const specs: PackageSpec[] = (payload.packages ?? [])
    .filter((p): p is { name: string; version: string; architecture?: string | null } => p.version !== null)
    .map((p) => ({ name: p.name, version: p.version, architecture: p.architecture ?? null }));
  const removals = (payload.packages ?? []).filter((p) => p.version === null);

  if (job.kind === 'install' && specs.length === 0) {
    return done(finish('failed', { reason: 'unknown', message: 'an install job needs packages' }));
  }

  if (payload.dryRun === true) {
    let simulated: OperationResult;
    try {
      simulated =
        job.kind === 'upgrade'
          ? await driver.simulate({ kind: 'upgrade' })
          : await driver.simulate({
              kind: 'install',
              packages: specs,
              allowDowngrade: job.kind === 'rollback',
            });
    } catch (err) {
      return done(finish('failed', { reason: 'unknown', message: errorText(err) }));
    }
    output.addAll(simulated.commands);
    const { before, after } = fromChanges(simulated.changes);
    if (job.kind === 'rollback') {
      const inventory = await driver.readInventory();
      for (const r of versionsIn(inventory, removals)) {
        if (r.version === null) continue;
        before.push(r);
        after.push({ ...r, version: null });
      }
    }
    return done(
      simulated.isSuccess
        ? finish('succeeded', { before, after, message: `dry run: ${after.length} package(s) would change` })
        : finish('failed', {
            reason: jobFailureReason(simulated.reason),
            before,
            after,
            message: 'dry run failed',
          }),
    );
  }

  for (const hook of payload.hooks?.pre ?? []) {
    const result = await runHook(hook);
    output.add(result);
    if (!isHookOk(result)) {
      return done(
        finish('failed', {
          reason: 'hook-failed',
          message: `pre hook ${hook.name} ${result.timedOut ? 'timed out' : `exited ${result.exitCode ?? 'on a signal'}`}; no package was changed`,
        }),
      );
    }
  }

  let planned: PlannedChange;
  try {
    planned = await planChange(job.kind, specs, removals, deps);
  } catch (err) {
    return done(finish('failed', { reason: 'unknown', message: errorText(err) }));
  }
  if (planned.replaced.length > 0) {
    const kept = await deps.archive.keep(job.id, planned.replaced, driver);
    for (const miss of kept.missing) {
      output.note(`rollback archive: ${miss.name} ${miss.version} not kept: ${miss.error}`);
    }
  }

  await deps.journal.append({
    step: 'change-started',
    jobId: job.id,
    at: deps.now().toISOString(),
    before: planned.before,
    expected: planned.expected,
  });
  let operation: OperationResult;
  try {
    operation = await planned.run();
  } catch (err) {
    await deps.journal.append({
      step: 'change-finished',
      jobId: job.id,
      at: deps.now().toISOString(),
      isSuccess: false,
    });
    return done(
      finish('failed', {
        reason: 'unknown',
        message: errorText(err),
        before: planned.before,
        after: planned.before,
      }),
    );
  }
  await deps.journal.append({
    step: 'change-finished',
    jobId: job.id,
    at: deps.now().toISOString(),
    isSuccess: operation.isSuccess,
  });
  output.addAll(operation.commands);
  const changed = fromChanges(operation.changes);
  const before = mergeVersions(planned.before, changed.before, 'keep-first');
  const after = mergeVersions(
    planned.before.map((b) => ({ ...b })),
    changed.after,
    'overwrite',
  );

  if (!operation.isSuccess) {
    const restored =
      operation.reason === 'script-failed' ? await restoreReplaced(planned, deps, output) : null;
    return done(
      finish('failed', {
        reason: jobFailureReason(operation.reason),
        message: `${job.kind} failed (${operation.reason ?? 'unknown'})${restored === null ? '' : restored.message}`,
        before,
        after: restored?.after ?? after,
      }),
    );
  }
  for (const hook of payload.hooks?.post ?? []) {
    const result = await runHook(hook);
    output.add(result);
    if (!isHookOk(result)) {
      return done(
        finish('failed', {
          reason: 'hook-failed',
          message: `packages changed, then post hook ${hook.name} ${result.timedOut ? 'timed out' : `exited ${result.exitCode ?? 'on a signal'}`}`,
          before,
          after,
        }),
      );
    }
  }
  const count = after.filter((a, i) => a.version !== before[i]?.version).length;
  return done(finish('succeeded', { before, after, message: `${job.kind}: ${count} package(s) changed` }));
}

/**
 * After a maintainer script failed half-way (dpkg leaves the new version unpacked but not
 * configured, and every later apt run tries to configure it again), puts the replaced packages back
 * from the rollback archive, so the host is left as it was and stays usable. Returns the versions
 * installed afterwards and a note for the result, or null when nothing was archived to restore.
 */
async function restoreReplaced(
  planned: PlannedChange,
  deps: JobRunnerDeps,
  output: Output,
): Promise<{ after: VersionEntry[]; message: string } | null> {
  const files: string[] = [];
  for (const spec of planned.replaced) {
    const archived = await deps.archive.find(spec);
    if (archived !== null) files.push(archived.file);
  }
  if (files.length === 0) return null;
  let restore: OperationResult;
  try {
    restore = await deps.driver.installFiles(files);
  } catch (err) {
    output.note(`restoring the previous versions failed: ${errorText(err)}`);
    return { after: planned.before, message: '; restoring the previous versions failed' };
  }
  output.addAll(restore.commands);
  const after = versionsIn(await deps.driver.readInventory(), planned.before);
  return {
    after,
    message: restore.isSuccess
      ? `; the previous versions were restored from the rollback archive`
      : `; restoring the previous versions failed too (${restore.reason ?? 'unknown'})`,
  };
}

/** `base` with the entries of `extra` added (or, with 'overwrite', replacing the same package). */
function mergeVersions(
  base: VersionEntry[],
  extra: VersionEntry[],
  mode: 'keep-first' | 'overwrite',
): VersionEntry[] {
  const out = [...base];
  for (const e of extra) {
    const index = out.findIndex(
      (o) =>
        o.name === e.name &&
        (o.architecture == null || e.architecture == null || o.architecture === e.architecture),
    );
    if (index < 0) out.push(e);
    else if (mode === 'overwrite') out[index] = { ...e };
  }
  return out.slice(0, MAX_RESULT_VERSIONS);
}

async function planChange(
  kind: string,
  specs: PackageSpec[],
  removals: Array<{ name: string; architecture?: string | null }>,
  deps: JobRunnerDeps,
): Promise<PlannedChange> {
  const { driver } = deps;
  const inventory = await driver.readInventory();
  if (kind === 'upgrade') {
    const plan = await driver.simulate({ kind: 'upgrade' });
    const planned = fromChanges(plan.changes);
    return {
      replaced: plan.changes.flatMap((c) =>
        c.from === null ? [] : [{ name: c.name, version: c.from, architecture: c.architecture }],
      ),
      before: planned.before,
      expected: planned.after,
      run: () => driver.upgrade(),
    };
  }
  const before = versionsIn(inventory, [...specs, ...removals]);
  const expected: VersionEntry[] = [
    ...specs.map((s) => ({ name: s.name, architecture: s.architecture ?? null, version: s.version })),
    ...removals.map((r) => ({ name: r.name, architecture: r.architecture ?? null, version: null })),
  ];
  const replaced = before.flatMap((b, i) => {
    const target = expected[i];
    return b.version === null || b.version === target?.version
      ? []
      : [{ name: b.name, version: b.version, architecture: b.architecture ?? null }];
  });
  if (kind === 'install') {
    return { replaced, before, expected, run: () => driver.install(specs) };
  }
  // rollback: archived files first (the repository may have dropped those versions), then the
  // repository for the rest, then removals of packages the undone job newly installed.
  return {
    replaced,
    before,
    expected,
    run: async () => {
      const pending = specs.filter((s, i) => before[i]?.version !== s.version);
      const gone = removals.filter((_, i) => before[specs.length + i]?.version != null);
      const results: OperationResult[] = [];
      const fromRepository: PackageSpec[] = [];
      const files: string[] = [];
      for (const spec of pending) {
        const archived = await deps.archive.find(spec);
        if (archived === null) fromRepository.push(spec);
        else files.push(archived.file);
      }
      if (files.length > 0) results.push(await driver.installFiles(files));
      if (fromRepository.length > 0 && results.every((r) => r.isSuccess)) {
        results.push(await driver.install(fromRepository, { allowDowngrade: true }));
      }
      if (gone.length > 0 && results.every((r) => r.isSuccess)) results.push(await driver.remove(gone));
      const failed = results.find((r) => !r.isSuccess);
      return {
        isSuccess: failed === undefined,
        reason: failed?.reason ?? null,
        changes: results.flatMap((r) => r.changes),
        commands: results.flatMap((r) => r.commands),
      };
    },
  };
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/**
 * The true outcome of a job the agent stopped in the middle of (the journal has `change-started`
 * and no `change-finished`): read from the inventory, never by running the change again. Succeeded
 * when every expected version is installed (null: absent), else failed.
 */
export async function recoverInterruptedChange(
  record: JobRecord,
  driver: PackageDriver,
  now: () => Date,
): Promise<JobResult> {
  const change = record.change;
  const startedAt = change?.at ?? now().toISOString();
  const expected = change?.expected ?? [];
  const before = change?.before ?? [];
  const inventory = await driver.readInventory();
  const names = [...before, ...expected.filter((e) => !before.some((b) => b.name === e.name))];
  const after = versionsIn(inventory, names);
  const misses = expected.filter((e) => versionsIn(inventory, [e])[0]?.version !== e.version);
  const isSuccess = misses.length === 0;
  return {
    status: isSuccess ? 'succeeded' : 'failed',
    exitCode: null,
    stdout: '',
    stderr: '',
    stdoutTruncated: false,
    stderrTruncated: false,
    before,
    after,
    failureReason: isSuccess ? null : 'unknown',
    message: isSuccess
      ? 'the agent stopped during the change; the inventory shows it completed'
      : oneLine(
          `the agent stopped during the change; not as expected: ${misses
            .map((m) => `${m.name} ${m.version ?? '(absent)'}`)
            .join(', ')}`,
        ),
    startedAt,
    finishedAt: now().toISOString(),
  };
}
