import { classifyByRules, type FailureRule } from '../operation.js';
import type { CommandResult, FailureReason } from '../types.js';

// Checked in this order: the first rule whose pattern appears in the output wins. Texts are pacman
// 6.0's own (LC_ALL=C).
const RULES: FailureRule[] = [
  {
    // "error: failed to init transaction (unable to lock database)", "error: could not lock database: File exists".
    reason: 'lock-held',
    pattern: /unable to lock database|could not lock database/,
  },
  {
    // "error: Partition / too full: N blocks needed, M blocks free", "error: not enough free disk space".
    reason: 'disk-full',
    pattern: /not enough free disk space|too full: \d+ blocks needed|No space left on device/,
  },
  {
    // A scriptlet that returns non-zero, or cannot start (no /bin/sh in the root): pacman prints
    // "error: command failed to execute correctly" / "call to execv failed" and still exits 0.
    reason: 'script-failed',
    pattern: /command failed to execute correctly|call to execv failed|error: scriptlet failed/,
  },
  {
    // "error: target not found: pms-hello=9.9", -U of a missing file: "could not find or read package".
    reason: 'not-found',
    pattern: /target not found|could not find or read package|package not found/,
  },
  {
    // Unmet or conflicting dependencies, and files owned by another package ("conflicting files",
    // "exists in filesystem"): both mean the requested set cannot coexist with what is installed.
    reason: 'dependency-conflict',
    pattern:
      /could not satisfy dependencies|unable to satisfy dependency|unresolvable dependencies|conflicting dependencies|are in conflict|conflicting files|exists in filesystem|breaks dependency/,
  },
  {
    // "error: failed retrieving file 'x' from host", "error: failed to commit transaction (failed to
    // retrieve some files)", "error: failed to synchronize all databases", "failed to update <db>".
    reason: 'download-failed',
    pattern:
      /failed retrieving file|failed to retrieve some files|failed to synchronize all databases|failed to update|download library error|could not resolve host|invalid or corrupted (?:package|database)/i,
  },
];

/**
 * Why a pacman run failed. `timeout` when the runner killed it; otherwise the first matching rule
 * over stderr then stdout; `unknown` when nothing matches.
 */
export function classifyPacmanFailure(result: CommandResult): FailureReason {
  return classifyByRules(result, RULES);
}

/** Whether a run that exited 0 reported a failed scriptlet (pacman never fails for those). */
export function hasScriptletFailure(result: CommandResult): boolean {
  return /command failed to execute correctly|call to execv failed/.test(
    `${result.stderr}\n${result.stdout}`,
  );
}
