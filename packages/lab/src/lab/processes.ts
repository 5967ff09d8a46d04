import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Starts `argv` detached from this process (its own process group, stdin closed, stdout and
 * stderr appended to `logFile`), so that it outlives `lab up`. Returns the child (still
 * referenced, so its early exit can be noticed; call `unref` when done watching).
 */
export function spawnDetached(
  argv: string[],
  options: { logFile: string; cwd: string; env: NodeJS.ProcessEnv },
): ChildProcess {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error('spawnDetached: empty argv');
  const log = openSync(options.logFile, 'a');
  try {
    return spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', log, log],
    });
  } finally {
    closeSync(log);
  }
}

/**
 * Whether `pid` is alive and is the process the lab started: its command line contains `marker`
 * (a path only that process was given), so a pid reused by another program is never taken for it.
 */
export async function isLabProcess(pid: number | null, marker: string): Promise<boolean> {
  if (pid === null) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false; // ESRCH: gone (EPERM cannot happen for our own children)
  }
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.split('\u0000').some((arg) => arg.includes(marker));
  } catch {
    return false; // exited between the two checks
  }
}

/**
 * Stops a lab process: SIGTERM, then SIGKILL after `graceMs`. Only when `isLabProcess(pid, marker)`.
 * Returns whether it was running.
 */
export async function stopLabProcess(pid: number | null, marker: string, graceMs = 10_000): Promise<boolean> {
  if (pid === null || !(await isLabProcess(pid, marker))) return false;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!(await isLabProcess(pid, marker))) return true;
    await sleep(100);
  }
  signal(pid, 'SIGKILL');
  for (let i = 0; i < 50 && (await isLabProcess(pid, marker)); i += 1) await sleep(100);
  return true;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** The last `bytes` of a log file, for error messages ('' when it does not exist). */
export async function tailOf(file: string, bytes = 2000): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.slice(-bytes).trim();
  } catch {
    return '';
  }
}
