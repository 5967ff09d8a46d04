import { readFile, stat } from 'node:fs/promises';
import { hostname as osHostname, release as osKernel } from 'node:os';
import { basename, join } from 'node:path';
import type { InstalledPackage } from '@patchwarden/core/host';
import { PatchwardenError } from '@patchwarden/core/host';
import { openRollbackArchive, type RollbackArchive } from './archive.js';
import {
  type CheckinClient,
  type CheckinReply,
  type CheckinRequest,
  createCheckinClient,
  type HostFacts,
  inventoryDelta,
  ServerError,
  ServerUnreachableError,
} from './checkin.js';
import { detectManager } from './detect-manager.js';
import { createDriver } from './drivers/index.js';
import { runCommand } from './drivers/run-command.js';
import type { ManagerId, PackageDriver } from './drivers/types.js';
import { type JobOutcome, recoverInterruptedChange, runJob } from './jobs.js';
import { type AgentJob, type JobResult, type Journal, openJournal } from './journal.js';
import { readRebootState } from './reboot.js';
import { type AgentState, isNotFound, openState, type SentInventory } from './state.js';

export const AGENT_VERSION = '0.1.0';
/** First retry after the server was away; doubles per failure up to `MAX_BACKOFF_MS`. */
export const BASE_BACKOFF_MS = 5_000;
export const MAX_BACKOFF_MS = 15 * 60_000;
/** ± this fraction of the interval is added at random, so a fleet does not check in in step. */
export const INTERVAL_JITTER = 0.1;
/** Jobs run back to back in one cycle at most; the rest wait for the next cycle. */
export const MAX_JOBS_PER_CYCLE = 10;

export interface AgentLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

export interface AgentOptions {
  serverUrl: string;
  /** Needed to enrol (first run, or after the node key was revoked). */
  enrollSecret: string | null;
  stateDir: string;
  /** A private package root (the lab); null: the machine itself. */
  root: string | null;
  /** Null: detected from the OS (`<root>/etc/os-release`). */
  manager: ManagerId | null;
  /** Default: `<root>/etc/hostname`, else the machine's name (with a root: `<name>-<root dir>`). */
  hostname?: string | null;
  /** Check in every this many seconds instead of the server's interval. */
  intervalOverrideSeconds?: number | null;
  requestTimeoutMs?: number;
  /** For tests: a driver other than `createDriver(manager, { root })`. */
  driver?: PackageDriver;
  now?: () => Date;
  random?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  log?: AgentLogger;
  /** Runs when a reboot job asks for it, after its result was posted (default: `systemctl reboot`). */
  reboot?: () => Promise<void>;
}

/** What one cycle did. */
export interface CycleReport {
  enrolled: boolean;
  /** Check-ins sent, in order, by kind. */
  checkins: Array<'full' | 'delta' | 'heartbeat'>;
  jobs: Array<{ id: string; kind: string; status: string; outcome: 'ran' | 'recovered' | 'reposted' }>;
  intervalSeconds: number;
}

export interface Agent {
  readonly driver: PackageDriver;
  readonly manager: ManagerId;
  /** One cycle: enrol if needed, post what the journal still owes, check in, run jobs, send the change. */
  runOnce(): Promise<CycleReport>;
  /** Cycles until `signal` aborts: the server's interval with jitter, backoff while it is away. */
  run(signal: AbortSignal): Promise<void>;
  /** Closes the connection kept alive to the server. */
  close(): void;
}

/**
 * The delay before the next cycle. After a success: the interval ± `INTERVAL_JITTER`. After
 * `failures` failures in a row: `BASE_BACKOFF_MS · 2^(failures-1)`, capped at `MAX_BACKOFF_MS`
 * (and never above the interval), with "equal jitter" (half fixed, half random).
 */
export function nextDelayMs(input: {
  intervalSeconds: number;
  failures: number;
  random: () => number;
}): number {
  const interval = input.intervalSeconds * 1000;
  if (input.failures === 0) {
    return Math.round(interval * (1 + INTERVAL_JITTER * (2 * input.random() - 1)));
  }
  const cap = Math.min(MAX_BACKOFF_MS, Math.max(interval, BASE_BACKOFF_MS));
  const backoff = Math.min(cap, BASE_BACKOFF_MS * 2 ** Math.min(input.failures - 1, 30));
  return Math.round(backoff / 2 + (backoff / 2) * input.random());
}

const SILENT: AgentLogger = { info() {}, warn() {}, debug() {} };

// The package database files whose change means the inventory may have changed (relative to root).
const DATABASE_FILES: Readonly<Record<ManagerId, string[]>> = {
  apt: ['var/lib/dpkg/status'],
  dnf: ['var/lib/rpm/rpmdb.sqlite', 'var/lib/rpm/Packages', 'usr/lib/sysimage/rpm/rpmdb.sqlite'],
  zypper: ['var/lib/rpm/rpmdb.sqlite', 'var/lib/rpm/Packages', 'usr/lib/sysimage/rpm/rpmdb.sqlite'],
  pacman: ['var/lib/pacman/local'],
};

async function readFirst(paths: string[]): Promise<string | null> {
  for (const path of paths) {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return null;
}

export async function createAgent(options: AgentOptions): Promise<Agent> {
  const log = options.log ?? SILENT;
  const now = options.now ?? (() => new Date());
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? sleepFor;
  const root = options.root;
  const rootDir = root ?? '/';
  const state: AgentState = await openState(options.stateDir);
  const journal: Journal = openJournal(options.stateDir);
  const archive: RollbackArchive = openRollbackArchive(join(options.stateDir, 'archive'));
  // A private root without its own os-release (a bare lab root) is described by the machine's.
  const found =
    (await readFirst([join(rootDir, 'etc/os-release'), join(rootDir, 'usr/lib/os-release')])) ??
    (root === null ? null : await readFirst(['/etc/os-release', '/usr/lib/os-release']));
  if (found === null) {
    throw new PatchwardenError(
      'OS_RELEASE_MISSING',
      `no os-release under ${rootDir} (etc/ or usr/lib/)`,
      500,
    );
  }
  const osRelease: string = found;
  const manager = options.manager ?? detectManager(osRelease);
  const driver = options.driver ?? createDriver(manager, { root });
  const client: CheckinClient = createCheckinClient({
    serverUrl: options.serverUrl,
    agentVersion: AGENT_VERSION,
    ...(options.requestTimeoutMs === undefined ? {} : { timeoutMs: options.requestTimeoutMs }),
  });
  const kernel = osKernel();
  const hostname =
    options.hostname ??
    (await readFirst([join(rootDir, 'etc/hostname')]))?.trim() ??
    (root === null ? osHostname() : `${osHostname()}-${basename(root)}`);

  let identity = await state.readIdentity();
  if (identity !== null && identity.serverUrl !== options.serverUrl) {
    log.warn({ previous: identity.serverUrl }, 'state belongs to another server; enrolling again');
    identity = null;
  }
  let sent: SentInventory | null = await state.readSentInventory();
  let isFullWanted = false;
  // The journal is read in full at start and after a result could not be posted; otherwise not.
  let isJournalPending = true;

  async function machineId(): Promise<string> {
    const text = await readFirst([join(rootDir, 'etc/machine-id')]);
    const id = text?.trim() ?? '';
    return id !== '' ? id : state.machineId();
  }

  async function fingerprint(): Promise<string | null> {
    const parts: string[] = [];
    for (const rel of DATABASE_FILES[manager]) {
      try {
        const s = await stat(join(rootDir, rel));
        parts.push(`${rel}:${s.ino}:${s.size}:${s.mtimeMs}`);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return parts.length === 0 ? null : parts.join('|');
  }

  async function facts(inventory: InstalledPackage[] | null): Promise<HostFacts> {
    const reboot = await readRebootState({
      manager,
      root,
      runningKernel: kernel,
      inventory: inventory ?? sent?.packages ?? [],
    });
    return {
      kernel,
      agentVersion: AGENT_VERSION,
      rebootRequired: reboot.isRebootRequired,
      rebootPackages: reboot.packages,
    };
  }

  async function enroll(report: CycleReport): Promise<void> {
    if (options.enrollSecret === null) {
      throw new PatchwardenError('NOT_ENROLLED', 'this agent has no identity yet; pass --enroll-secret', 400);
    }
    const print = await fingerprint();
    const packages = await driver.readInventory();
    const reply = await client.enroll({
      enrollSecret: options.enrollSecret,
      hostname,
      machineId: await machineId(),
      ...(await facts(packages)),
      inventory: { seq: 0, osRelease, packages },
    });
    identity = {
      serverUrl: options.serverUrl,
      hostId: reply.hostId,
      nodeKey: reply.nodeKey,
      enrolledAt: now().toISOString(),
    };
    await state.writeIdentity(identity);
    sent = { seq: 0, packages, fingerprint: print };
    await state.writeSentInventory(sent);
    report.enrolled = true;
    report.intervalSeconds = reply.checkinIntervalSeconds;
    log.info(
      { hostId: reply.hostId, isReenrolment: reply.isReenrolment, packages: packages.length },
      'enrolled',
    );
  }

  function nodeKey(): string {
    if (identity === null) throw new PatchwardenError('NOT_ENROLLED', 'not enrolled', 500);
    return identity.nodeKey;
  }

  /** One check-in (retrying at once with a full inventory when the server asks for one). */
  async function checkin(report: CycleReport): Promise<CheckinReply> {
    for (let attempt = 0; ; attempt++) {
      const print = await fingerprint();
      let body: CheckinRequest;
      let kind: 'full' | 'delta' | 'heartbeat';
      let packages: InstalledPackage[] | null = null;
      if (sent !== null && !isFullWanted && print !== null && print === sent.fingerprint) {
        kind = 'heartbeat';
        body = { seq: sent.seq, ...(await facts(null)) };
      } else {
        packages = await driver.readInventory();
        const delta = sent === null || isFullWanted ? null : inventoryDelta(sent.packages, packages);
        if (delta !== null && sent !== null && delta.upsert.length === 0 && delta.remove.length === 0) {
          kind = 'heartbeat';
          body = { seq: sent.seq, ...(await facts(packages)) };
        } else if (delta !== null && sent !== null) {
          kind = 'delta';
          body = { seq: sent.seq + 1, delta, ...(await facts(packages)) };
        } else {
          kind = 'full';
          body = { seq: (sent?.seq ?? 0) + 1, full: { osRelease, packages }, ...(await facts(packages)) };
        }
      }
      let reply: CheckinReply;
      try {
        reply = await client.checkin(nodeKey(), body);
      } catch (err) {
        if (err instanceof ServerError && err.httpStatus === 409 && attempt === 0) {
          log.info({ code: err.code }, 'server wants a full inventory');
          isFullWanted = true;
          continue;
        }
        if (
          err instanceof ServerError &&
          (err.code === 'INVALID_NODE_KEY' || err.code === 'NODE_KEY_REVOKED') &&
          attempt === 0 &&
          options.enrollSecret !== null
        ) {
          log.warn({ code: err.code }, 'node key refused; enrolling again');
          await enroll(report);
          continue;
        }
        throw err;
      }
      report.checkins.push(kind);
      if (kind !== 'heartbeat' && packages !== null) {
        sent = { seq: body.seq, packages, fingerprint: print };
        await state.writeSentInventory(sent);
        isFullWanted = false;
      } else if (kind === 'heartbeat' && sent !== null && packages !== null && sent.fingerprint !== print) {
        // Same packages, database touched: remember the new fingerprint so the next one is cheap.
        sent = { ...sent, fingerprint: print };
        await state.writeSentInventory(sent);
      }
      if (reply.inventory === 'send-full' && attempt === 0) {
        isFullWanted = true;
        continue;
      }
      return reply;
    }
  }

  /** Marks a job the server refused for good (4xx) as closed, so it is never retried. */
  async function drop(jobId: string, err: ServerError): Promise<void> {
    log.warn({ jobId, code: err.code }, 'server refused the job; dropped from the journal');
    await journal.append({ step: 'dropped', jobId, at: now().toISOString(), code: err.code });
  }

  async function postResult(jobId: string, result: JobResult): Promise<boolean> {
    try {
      await client.jobResult(nodeKey(), jobId, result);
    } catch (err) {
      if (err instanceof ServerUnreachableError) {
        isJournalPending = true;
        log.warn({ jobId, err: err.message }, 'job result not posted; kept in the journal');
        return false;
      }
      if (err instanceof ServerError && err.httpStatus !== 401) {
        await drop(jobId, err);
        return false;
      }
      throw err;
    }
    await journal.append({ step: 'result-posted', jobId, at: now().toISOString() });
    return true;
  }

  /** Results the journal owes the server: stored ones, and interrupted changes read from the inventory. */
  async function settleJournal(report: CycleReport): Promise<void> {
    if (!isJournalPending) return;
    for (const record of await journal.records()) {
      if (record.isResultPosted) continue;
      let result = record.result;
      if (result === null && record.change !== null) {
        // Interrupted in the middle of the package manager: never run it again, report what is.
        result = await recoverInterruptedChange(record, driver, now);
        await journal.append({ step: 'result', jobId: record.jobId, at: now().toISOString(), result });
        report.jobs.push({
          id: record.jobId,
          kind: record.job?.kind ?? '?',
          status: result.status,
          outcome: 'recovered',
        });
        isFullWanted = isFullWanted || sent === null;
      } else if (result === null && record.job !== null) {
        // Received (maybe started) and stopped before any package change: run it now.
        await execute(record.job, report, true);
        continue;
      }
      if (result !== null) await postResult(record.jobId, result);
    }
    isJournalPending = false;
    await journal.compact();
  }

  async function execute(job: AgentJob, report: CycleReport, isResumed: boolean): Promise<JobOutcome | null> {
    const record = isResumed ? null : await journal.record(job.id);
    if (record?.result != null) {
      // Delivered again after it ran (the result may not have arrived): the same result, not a second run.
      await postResult(job.id, record.result);
      report.jobs.push({ id: job.id, kind: job.kind, status: record.result.status, outcome: 'reposted' });
      return null;
    }
    if (record?.change != null) {
      const result = await recoverInterruptedChange(record, driver, now);
      await journal.append({ step: 'result', jobId: job.id, at: now().toISOString(), result });
      await postResult(job.id, result);
      report.jobs.push({ id: job.id, kind: job.kind, status: result.status, outcome: 'recovered' });
      return null;
    }
    if (record === null && !isResumed) {
      await journal.append({ step: 'received', jobId: job.id, at: now().toISOString(), job });
    }
    let startedState: string;
    try {
      startedState = (await client.jobStarted(nodeKey(), job.id)).state;
    } catch (err) {
      // Cancelled, timed out or unknown to the server: nothing has been changed, so nothing to run.
      if (err instanceof ServerError && err.httpStatus !== 401) {
        await drop(job.id, err);
        return null;
      }
      throw err;
    }
    await journal.append({ step: 'started', jobId: job.id, at: now().toISOString() });
    if (startedState !== 'running' || Date.parse(job.deadlineAt) <= now().getTime()) {
      // Past its deadline (or already finished on the server): changing packages now would
      // surprise whoever planned the job; say so instead.
      const at = now().toISOString();
      const result: JobResult = {
        status: 'failed',
        exitCode: null,
        stdout: '',
        stderr: '',
        stdoutTruncated: false,
        stderrTruncated: false,
        before: [],
        after: [],
        failureReason: 'timeout',
        message: `not run: the job is ${startedState} and its deadline is ${job.deadlineAt}`,
        startedAt: at,
        finishedAt: at,
      };
      await journal.append({ step: 'result', jobId: job.id, at, result });
      await postResult(job.id, result);
      report.jobs.push({ id: job.id, kind: job.kind, status: 'failed', outcome: 'ran' });
      return null;
    }
    const outcome = await runJob(job, { driver, journal, archive, root, now });
    await journal.append({ step: 'result', jobId: job.id, at: now().toISOString(), result: outcome.result });
    await postResult(job.id, outcome.result);
    report.jobs.push({ id: job.id, kind: job.kind, status: outcome.result.status, outcome: 'ran' });
    log.info(
      { jobId: job.id, kind: job.kind, status: outcome.result.status, reason: outcome.result.failureReason },
      'job finished',
    );
    if (job.kind === 'scan') isFullWanted = true;
    return outcome;
  }

  async function runOnce(): Promise<CycleReport> {
    const report: CycleReport = { enrolled: false, checkins: [], jobs: [], intervalSeconds: 0 };
    if (identity === null) await enroll(report);
    await settleJournal(report);
    let reply = await checkin(report);
    let isRebootPending = false;
    // A host runs one job at a time; after each, the new inventory goes out at once (verification),
    // and that check-in hands out the next queued job. Bounded so one cycle cannot run forever.
    for (let round = 0; round < MAX_JOBS_PER_CYCLE && reply.jobs.length > 0; round++) {
      for (const job of reply.jobs) {
        const outcome = await execute(job, report, false);
        if (outcome?.isRebootPending === true) isRebootPending = true;
      }
      if (isRebootPending) break;
      reply = await checkin(report);
    }
    report.intervalSeconds = options.intervalOverrideSeconds ?? reply.checkinIntervalSeconds;
    if (isRebootPending) {
      log.info({}, 'rebooting as the job asked');
      await (options.reboot ?? systemReboot)();
    }
    return report;
  }

  return {
    driver,
    manager,
    runOnce,
    close: () => client.close(),
    async run(signal) {
      let failures = 0;
      let intervalSeconds = options.intervalOverrideSeconds ?? 300;
      while (!signal.aborted) {
        try {
          const report = await runOnce();
          intervalSeconds = report.intervalSeconds;
          failures = 0;
        } catch (err) {
          failures += 1;
          log.warn(
            {
              failures,
              code: err instanceof PatchwardenError ? err.code : undefined,
              err: err instanceof Error ? err.message : String(err),
            },
            'cycle failed; backing off',
          );
        }
        const delay = nextDelayMs({ intervalSeconds, failures, random });
        log.debug({ delayMs: delay, failures }, 'next cycle');
        await sleep(delay, signal);
      }
    },
  };
}

function sleepFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

async function systemReboot(): Promise<void> {
  const result = await runCommand(['systemctl', 'reboot'], { timeoutMs: 60_000 });
  if (result.exitCode !== 0) {
    await runCommand(['shutdown', '-r', '+1'], { timeoutMs: 60_000 });
  }
}
