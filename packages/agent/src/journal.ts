import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isNotFound, writeFileAtomic } from './state.js';

export const JOURNAL_FILE = 'journal.jsonl';
/** Jobs whose entries survive compaction (the newest); older finished jobs are forgotten. */
export const JOURNAL_KEEP_JOBS = 200;

/** A job as the check-in reply delivers it (docs/jobs.md, "Agent side"). */
export interface AgentJob {
  id: string;
  kind: string;
  rolloutId: string | null;
  attempt: number;
  createdAt: string;
  deadlineAt: string;
  payload: JobPayload;
}

export interface HookSpec {
  name: string;
  command: string[];
  timeoutSeconds: number;
}

export interface JobPayload {
  dryRun?: boolean;
  packages?: Array<{ name: string; version: string | null; architecture?: string | null }>;
  rollbackOf?: string;
  hook?: HookSpec;
  hooks?: { pre: HookSpec[]; post: HookSpec[] };
}

/** A package's version before or after a job; null: not installed. */
export interface VersionEntry {
  name: string;
  architecture?: string | null;
  version: string | null;
}

/** The body of `POST /api/v1/agent/jobs/:id/result`. */
export interface JobResult {
  status: 'succeeded' | 'failed';
  exitCode: number | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  before: VersionEntry[];
  after: VersionEntry[];
  failureReason: string | null;
  message: string | null;
  startedAt: string;
  finishedAt: string;
}

/**
 * One line of the journal. A job's lines, in order: `received` (the job as delivered), `started`
 * (the server knows it runs), `change-started` (about to call the package manager: the versions
 * before and the versions it must end at), `change-finished`, `result` (the result to post),
 * `result-posted` (or `dropped`: the server refused it for good). Each line is fsynced before the step it announces begins.
 */
export type JournalEntry =
  | { step: 'received'; jobId: string; at: string; job: AgentJob }
  | { step: 'started'; jobId: string; at: string }
  | {
      step: 'change-started';
      jobId: string;
      at: string;
      before: VersionEntry[];
      /** What the package manager must leave: name → version (null: removed); empty for upgrades. */
      expected: VersionEntry[];
    }
  | { step: 'change-finished'; jobId: string; at: string; isSuccess: boolean }
  | { step: 'result'; jobId: string; at: string; result: JobResult }
  | { step: 'result-posted'; jobId: string; at: string }
  /** The server refused the job's start or result for good (cancelled, unknown, conflicting): closed. */
  | { step: 'dropped'; jobId: string; at: string; code: string };

/** What the journal says about one job. */
export interface JobRecord {
  jobId: string;
  job: AgentJob | null;
  isStarted: boolean;
  change: Extract<JournalEntry, { step: 'change-started' }> | null;
  isChangeFinished: boolean;
  result: JobResult | null;
  isResultPosted: boolean;
}

/**
 * The append-only job journal (`<state>/journal.jsonl`): one JSON object per line, each append
 * fsynced, so after a crash, `kill -9` or power loss the agent knows how far each job got. A torn
 * last line (the crash hit mid-write) is ignored.
 */
export interface Journal {
  append(entry: JournalEntry): Promise<void>;
  /** Every job the journal knows, oldest first. */
  records(): Promise<JobRecord[]>;
  record(jobId: string): Promise<JobRecord | null>;
  /** Rewrites the file keeping the newest `JOURNAL_KEEP_JOBS` jobs and every unfinished one. */
  compact(): Promise<void>;
}

export function openJournal(stateDir: string): Journal {
  const path = join(stateDir, JOURNAL_FILE);

  async function readEntries(): Promise<JournalEntry[]> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    const entries: JournalEntry[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        entries.push(JSON.parse(line) as JournalEntry);
      } catch {
        // A line torn by a crash mid-append: the step it announced never began.
      }
    }
    return entries;
  }

  async function records(): Promise<JobRecord[]> {
    const byId = new Map<string, JobRecord>();
    for (const entry of await readEntries()) {
      let record = byId.get(entry.jobId);
      if (record === undefined) {
        record = {
          jobId: entry.jobId,
          job: null,
          isStarted: false,
          change: null,
          isChangeFinished: false,
          result: null,
          isResultPosted: false,
        };
        byId.set(entry.jobId, record);
      }
      switch (entry.step) {
        case 'received':
          record.job = entry.job;
          break;
        case 'started':
          record.isStarted = true;
          break;
        case 'change-started':
          record.change = entry;
          record.isChangeFinished = false;
          break;
        case 'change-finished':
          record.isChangeFinished = true;
          break;
        case 'result':
          record.result = entry.result;
          break;
        case 'result-posted':
        case 'dropped':
          record.isResultPosted = true;
          break;
      }
    }
    return [...byId.values()];
  }

  return {
    async append(entry) {
      const handle = await open(path, 'a', 0o600);
      try {
        await handle.write(`${JSON.stringify(entry)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
    records,
    async record(jobId) {
      return (await records()).find((r) => r.jobId === jobId) ?? null;
    },
    async compact() {
      const entries = await readEntries();
      const all = await records();
      const finished = all.filter((r) => r.isResultPosted);
      if (finished.length <= JOURNAL_KEEP_JOBS) return;
      const drop = new Set(finished.slice(0, finished.length - JOURNAL_KEEP_JOBS).map((r) => r.jobId));
      const kept = entries.filter((e) => !drop.has(e.jobId));
      await writeFileAtomic(path, kept.map((e) => `${JSON.stringify(e)}\n`).join(''), 0o600);
    },
  };
}
