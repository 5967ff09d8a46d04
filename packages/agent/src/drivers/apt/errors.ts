import { classifyByRules, type FailureRule } from '../operation.js';
import type { CommandResult, FailureReason } from '../types.js';

// Checked in this order: the first rule whose pattern appears in stdout or stderr wins. Texts are
// apt-get's and dpkg's own (LC_ALL=C), as seen from apt 2.6 / dpkg 1.21.
const RULES: FailureRule[] = [
  {
    // apt: "E: Could not get lock <root>/var/lib/dpkg/lock-frontend. It is held by process N (apt-get)",
    // "E: Unable to acquire the dpkg frontend lock"; dpkg: "dpkg frontend lock was locked by another process".
    reason: 'lock-held',
    pattern:
      /Could not get lock|Unable to acquire the dpkg frontend lock|Unable to lock the administration directory|Unable to lock directory|frontend lock (?:was|is) locked by another process|database lock was locked by another process/,
  },
  {
    reason: 'disk-full',
    pattern: /No space left on device|You don't have enough free space|not enough free space|Disk full/i,
  },
  {
    // dpkg: "installed pms-broken package post-installation script subprocess returned error exit
    // status 1", "new pms-x package pre-installation script subprocess returned error …", "unable to
    // execute installed … post-installation script".
    reason: 'script-failed',
    pattern:
      /(?:pre|post)-(?:installation|removal) script subprocess returned error|unable to execute [^\n]*(?:pre|post)-(?:installation|removal) script|maintainer script [^\n]*failed/,
  },
  {
    // "E: Unable to locate package x", "E: Version '9' for 'x' was not found", "has no installation
    // candidate", "E: Couldn't find any package by glob", dpkg -i "cannot access archive".
    reason: 'not-found',
    pattern:
      /Unable to locate package|Version '[^']*' for '[^']*' was not found|has no installation candidate|Couldn't find any package by|cannot access archive/,
  },
  {
    // "The following packages have unmet dependencies", "E: Unable to correct problems, you have held
    // broken packages.", "E: Packages need to be removed but remove is disabled." (--no-remove),
    // dpkg: "dependency problems prevent configuration", "conflicting packages - not installing".
    reason: 'dependency-conflict',
    pattern:
      /unmet dependencies|Unable to correct problems|held broken packages|Packages need to be removed but remove is disabled|dependency problems|conflicting packages|breaks [^\n]* and is installed|trying to overwrite/,
  },
  {
    // "E: Failed to fetch file:/…/x.deb  File not found", "Unable to fetch some archives",
    // "Some index files failed to download", name resolution, hash mismatches.
    reason: 'download-failed',
    pattern:
      /Failed to fetch|Unable to fetch some archives|Some index files failed to download|Temporary failure resolving|Could not resolve|Could not connect|Hash Sum mismatch|File has unexpected size|Failed to download|does not have a Release file/,
  },
];

/**
 * Why an apt-get or dpkg run failed. `timeout` when the runner killed it; otherwise the first
 * matching rule over stderr then stdout (apt prints `E:` lines on stderr, dpkg's script errors on
 * stdout/stderr depending on the caller); `unknown` when nothing matches.
 */
export function classifyAptFailure(result: CommandResult): FailureReason {
  return classifyByRules(result, RULES);
}
