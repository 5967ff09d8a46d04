import type { CommandResult, FailureReason } from '../types.js';

/**
 * Output patterns of dnf 4 / rpm 4 failures, checked in this order (the first match wins). The
 * texts are dnf's and rpm's English messages (the driver runs them with `LC_ALL=C.UTF-8`).
 */
const PATTERNS: ReadonlyArray<readonly [FailureReason, RegExp]> = [
  // exit_on_lock=True: "RPMDB already locked by 1234"; blocking: "Waiting for process with pid 1234 to finish."
  [
    'lock-held',
    /already locked by \d+|Waiting for process with pid \d+ to finish|waiting for transaction lock/i,
  ],
  [
    'disk-full',
    /No space left on device|needs [\d.]+\s*[KMGT]?i?B more space on the|Disk Requirements:|At least [\d.]+\s*[KMGT]?i?B more space needed/i,
  ],
  // A failing %pre/%preun aborts the package; rpm: "error: lua script failed" / "%prein(...) scriptlet failed".
  [
    'script-failed',
    /Error in (PRE|PREUN|POSTUN|POST|PRETRANS|POSTTRANS)\w* scriptlet|scriptlet failed|lua script failed/i,
  ],
  [
    'download-failed',
    /Error downloading packages|Failed to download|Cannot download|Curl error|Failed to synchronize cache|Cannot find a valid baseurl|All mirrors were tried|Status code: \d+|checksum doesn't match|incorrect checksum|Error opening \S+\.rpm|Cannot retrieve repository metadata|Failed to load expired repos cache/i,
  ],
  [
    'not-found',
    /Unable to find a match|No match for argument|No package .* available|No packages marked for/i,
  ],
  [
    'dependency-conflict',
    /Problem( \d+)?: |conflicting requests|nothing provides|conflicts with|Depsolve Error|problem with installed package|cannot install both|package .* requires .*, but none of the providers can be installed/i,
  ],
];

/** dnf's exit code when `exit_on_lock=True` finds the lock taken. */
const DNF_EXIT_LOCKED = 200;

/** Classifies a failed dnf or rpm command from its exit code and output. */
export function classifyDnfFailure(result: CommandResult): FailureReason {
  const text = `${result.stderr}\n${result.stdout}`;
  if (result.exitCode === DNF_EXIT_LOCKED) return 'lock-held';
  if (result.timedOut) {
    // A blocking lock wait that ran into the timeout is still a held lock.
    return PATTERNS[0]?.[1].test(text) ? 'lock-held' : 'timeout';
  }
  for (const [reason, pattern] of PATTERNS) {
    if (pattern.test(text)) return reason;
  }
  return 'unknown';
}
