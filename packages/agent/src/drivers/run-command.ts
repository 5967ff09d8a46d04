import { spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
 *
 * The child writes its output to two temporary files, not to pipes, and runs in its own process
 * group: a package manager must finish its transaction when the agent dies under it (kill -9, OOM).
 * Through a pipe it would die of SIGPIPE at its next write and leave the package database half
 * changed (and pacman its lock). The agent reads the files' tails when the child has exited.
 */
export function runCommand(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const [program, ...args] = argv;
  if (program === undefined) {
    return Promise.reject(new Error('runCommand needs a program'));
  }
  const limit = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'patchwarden-run-'));
  const outPath = join(dir, 'stdout');
  const errPath = join(dir, 'stderr');
  const outFd = openSync(outPath, 'w', 0o600);
  const errFd = openSync(errPath, 'w', 0o600);
  return new Promise<CommandResult>((resolve, reject) => {
    const child = spawn(program, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['pipe', outFd, errFd],
      detached: true,
    });
    closeSync(outFd);
    closeSync(errFd);
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), 5000);
    }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (killTimer !== undefined) clearTimeout(killTimer);
      try {
        const stdout = readTail(outPath, limit);
        const stderr = readTail(errPath, limit);
        resolve({
          command: [...argv],
          exitCode: code,
          stdout: stdout.text,
          stderr: stderr.text,
          truncated: stdout.dropped + stderr.dropped > 0,
          timedOut,
          durationMs: Math.round(performance.now() - started),
        });
      } catch (err) {
        reject(err);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
    child.stdin?.on('error', () => {
      // A child that exits without reading its stdin closes the pipe (EPIPE): not a failure of the run.
    });
    child.stdin?.end(options.input ?? '');
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

/** The last `limit` bytes of a file, as UTF-8 text, and how many bytes came before them. */
function readTail(path: string, limit: number): { text: string; dropped: number } {
  const size = statSync(path).size;
  const length = Math.min(size, limit);
  const buffer = Buffer.alloc(length);
  const fd = openSync(path, 'r');
  try {
    let read = 0;
    while (read < length) {
      const n = readSync(fd, buffer, read, length - read, size - length + read);
      if (n === 0) break;
      read += n;
    }
  } finally {
    closeSync(fd);
  }
  return { text: buffer.toString('utf8'), dropped: size - length };
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
