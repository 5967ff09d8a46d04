import { PatchwardenError } from '@patchwarden/core/errors';

/** A command line that cannot be run as given: exit code 2, with the usage hint. */
export class UsageError extends PatchwardenError {
  constructor(message: string) {
    super('USAGE', message, 400);
  }
}

/** Exit codes of every command (documented in docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** The command ran, and what it checked failed: batch lines, `--fail-on` findings. */
  failed: 1,
  /** Bad usage or bad input: nothing was done. */
  badInput: 2,
  /** An unexpected internal error. */
  internal: 3,
  /** Something the command needs could not be reached (a feed URL with no cached copy). */
  unavailable: 4,
} as const;
