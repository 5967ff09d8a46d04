import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { PatchwardenError } from '@patchwarden/core/host';
import type { CommandResult } from './types.js';

export const DEFAULT_TIMEOUT_MS = 15 * 60 * 1000;
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;
/** Output that is parsed (inventories, plans, update lists) is read whole, up to this. */
export const QUERY_OUTPUT_LIMIT = 64 * 1024 * 1024;
/** PATH the drivers run the managers with by default; fixed so that nothing depends on the agent's environment. */
export const DRIVER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  maxOutputBytes?: number;
  /** Written to the child's stdin, then closed; default: stdin closed at once. */
  input?: string;
}

/**
 * Runs `argv` without a shell and resolves with its exit code and bounded output (never rejects for
 * a non-zero exit; rejects only when the program cannot be started at all). On timeout the process
 * group gets SIGTERM, then SIGKILL 5 s later.
 */
export function runCommand(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const [program, ...args] = argv;
  if (program === undefined) {
    return Promise.reject(new Error('runCommand needs a program'));
  }
  const limit = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const stdout = new TailBuffer(limit);
    const stderr = new TailBuffer(limit);
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), 5000);
    }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (killTimer !== undefined) clearTimeout(killTimer);
      resolve({
        command: [...argv],
        exitCode: code,
        stdout: stdout.text(),
        stderr: stderr.text(),
        truncated: stdout.dropped + stderr.dropped > 0,
        timedOut,
        durationMs: Math.round(performance.now() - started),
      });
    });
    child.stdin.on('error', () => {
      // A child that exits without reading its stdin closes the pipe (EPIPE): not a failure of the run.
    });
    child.stdin.end(options.input ?? '');
  });
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** Keeps the last `limit` bytes written to it. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  dropped = 0;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length > 0) {
      const first = this.chunks[0] as Buffer;
      const excess = this.size - this.limit;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
        this.dropped += first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
        this.dropped += excess;
      }
    }
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * Runs a command whose output is parsed: read whole (up to QUERY_OUTPUT_LIMIT; more throws
 * PACKAGE_MANAGER_OUTPUT_TOO_LARGE), with `result` bounded to `options.maxOutputBytes` as a run's
 * result would be, for the job log.
 */
export async function runQuery(
  argv: readonly string[],
  options: RunOptions = {},
): Promise<{ full: CommandResult; result: CommandResult }> {
  const full = await runCommand(argv, { ...options, maxOutputBytes: QUERY_OUTPUT_LIMIT });
  if (full.truncated) {
    throw new PatchwardenError(
      'PACKAGE_MANAGER_OUTPUT_TOO_LARGE',
      `${full.command.join(' ')} printed more than ${QUERY_OUTPUT_LIMIT} bytes`,
      502,
    );
  }
  return { full, result: bounded(full, options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES) };
}

/** The result with each stream cut to its last `limit` bytes, as runCommand bounds them. */
function bounded(result: CommandResult, limit: number): CommandResult {
  const tail = (text: string) => {
    const bytes = Buffer.from(text, 'utf8');
    return bytes.length <= limit
      ? { text, cut: false }
      : { text: bytes.subarray(bytes.length - limit).toString('utf8'), cut: true };
  };
  const stdout = tail(result.stdout);
  const stderr = tail(result.stderr);
  return {
    ...result,
    stdout: stdout.text,
    stderr: stderr.text,
    truncated: result.truncated || stdout.cut || stderr.cut,
  };
}

/** Whether every program is an executable file in one of `path`'s directories. */
export async function areExecutablesPresent(
  programs: readonly string[],
  path: string = DRIVER_PATH,
): Promise<boolean> {
  for (const program of programs) {
    if (!(await isOnPath(program, path))) return false;
  }
  return true;
}

async function isOnPath(program: string, path: string): Promise<boolean> {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    try {
      await access(join(dir, program), constants.X_OK);
      return true;
    } catch {
      // Not in this directory.
    }
  }
  return false;
}
