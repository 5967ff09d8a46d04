import type { FastifyBaseLogger } from 'fastify';

/** One kind of periodic work; it decides itself whether there is anything to do (and takes its locks). */
export interface ScheduledTask {
  name: string;
  run(): Promise<unknown>;
}

export interface Scheduler {
  /** Runs every task once at once, then every interval. Idempotent. */
  start(): void;
  /** Stops the timer and waits for a pass under way to end. */
  stop(): Promise<void>;
  /** Runs one pass now (tests); waits for a pass already under way first. */
  runOnce(): Promise<void>;
}

/**
 * Calls each task every `intervalMs`, one pass at a time (a slow pass delays the next, it never
 * overlaps it). A task that throws is logged and tried again next pass. The timer is unref'd, so it
 * never keeps the process alive on its own.
 */
export function createScheduler(deps: {
  intervalMs: number;
  tasks: readonly ScheduledTask[];
  log: FastifyBaseLogger;
}): Scheduler {
  let timer: NodeJS.Timeout | null = null;
  let isRunning = false;
  let current: Promise<void> = Promise.resolve();

  async function pass(): Promise<void> {
    for (const task of deps.tasks) {
      try {
        await task.run();
      } catch (err) {
        deps.log.error({ err, task: task.name }, 'scheduled task failed');
      }
    }
  }

  function runOnce(): Promise<void> {
    current = current.then(pass);
    return current;
  }

  function schedule(delayMs: number): void {
    timer = setTimeout(() => {
      void runOnce().then(() => {
        if (isRunning) schedule(deps.intervalMs);
      });
    }, delayMs);
    timer.unref();
  }

  return {
    start() {
      if (isRunning) return;
      isRunning = true;
      schedule(0);
    },
    async stop() {
      isRunning = false;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await current;
    },
    runOnce,
  };
}
