import type { CommandResult, FailureReason } from '../types.js';

/** zypper exit codes (zypper(8), EXIT CODES; src/zypper-main.h). */
export const ZYPPER_EXIT = {
  ok: 0,
  bug: 1,
  syntax: 2,
  invalidArgs: 3,
  /** ZYPPER_EXIT_ERR_ZYPP: a problem reported by libzypp, e.g. unresolvable dependencies. */
  zypp: 4,
  privileges: 5,
  noRepos: 6,
  /** ZYPPER_EXIT_ZYPP_LOCKED: another process holds the zypp lock. */
  locked: 7,
  /** ZYPPER_EXIT_ERR_COMMIT: the rpm transaction failed (e.g. a %pre scriptlet). */
  commit: 8,
  /** ZYPPER_EXIT_INF_REBOOT_NEEDED: success; an installed package needs a reboot. */
  rebootNeeded: 102,
  /** ZYPPER_EXIT_INF_RESTART_NEEDED: success; zypper updated itself and should be run again. */
  restartNeeded: 103,
  /** ZYPPER_EXIT_INF_CAP_NOT_FOUND: an argument matches no package or capability. */
  capNotFound: 104,
  onSignal: 105,
  /** ZYPPER_EXIT_INF_REPOS_SKIPPED: a repository failed to refresh and was skipped. */
  reposSkipped: 106,
  /** ZYPPER_EXIT_INF_RPM_SCRIPT_FAILED: packages installed, but a %post scriptlet failed. */
  rpmScriptFailed: 107,
} as const;

/** Exit codes after which the packages are in place: plain success and the informational ones. */
export const ZYPPER_SUCCESS_EXITS: ReadonlySet<number> = new Set([
  ZYPPER_EXIT.ok,
  ZYPPER_EXIT.rebootNeeded,
  ZYPPER_EXIT.restartNeeded,
]);

const LOCK =
  /System management is locked by the application with pid|zypp is locked|waiting for transaction lock/i;
const DISK =
  /No space left on device|needs [\d.]+\s*[KMGT]?i?B more space on the|Not enough (free )?(disk )?space|Disk quota exceeded/i;
const SCRIPT =
  /lua script failed|scriptlet failed|%(pre|post|preun|postun|pretrans|posttrans)(in|un)?\(.*\) scriptlet|Error in \w+ scriptlet/i;
const DOWNLOAD =
  /Download \(curl\) error|Failed to provide Package|Failed to cache rpm database|File '.*' not found on medium|Valid metadata not found|Repository '.*' is invalid|Problem retrieving (files|the repository index file)|Can't provide file|Timeout exceeded when accessing|Could not resolve host|Failed to download|has been skipped/i;
const DEPENDENCY =
  /Problem: |nothing provides|conflicts with|is needed by|cannot install both|requires .* but this requirement cannot be provided/i;
const NOT_FOUND = /No provider of '.*' found|not found in package names|Package '.*' not found/i;

/** Classifies a failed zypper or rpm command from its exit code and output. */
export function classifyZypperFailure(result: CommandResult): FailureReason {
  const text = `${result.stderr}\n${result.stdout}`;
  if (result.exitCode === ZYPPER_EXIT.locked || LOCK.test(text)) return 'lock-held';
  if (result.timedOut) return 'timeout';
  if (DISK.test(text)) return 'disk-full';
  if (result.exitCode === ZYPPER_EXIT.rpmScriptFailed || SCRIPT.test(text)) return 'script-failed';
  if (result.exitCode === ZYPPER_EXIT.capNotFound || NOT_FOUND.test(text)) return 'not-found';
  if (result.exitCode === ZYPPER_EXIT.reposSkipped || DOWNLOAD.test(text)) return 'download-failed';
  if (DEPENDENCY.test(text)) return 'dependency-conflict';
  return 'unknown';
}
