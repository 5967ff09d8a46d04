export {
  AGENT_VERSION,
  type Agent,
  type AgentLogger,
  type AgentOptions,
  BASE_BACKOFF_MS,
  type CycleReport,
  createAgent,
  INTERVAL_JITTER,
  MAX_BACKOFF_MS,
  nextDelayMs,
} from './agent.js';
export {
  DEFAULT_ARCHIVE_MAX_BYTES,
  DEFAULT_ARCHIVE_MAX_JOBS,
  openRollbackArchive,
  type RollbackArchive,
} from './archive.js';
export {
  type CheckinClient,
  createCheckinClient,
  inventoryDelta,
  ServerError,
  ServerUnreachableError,
} from './checkin.js';
export { detectManager, managerForOsRelease } from './detect-manager.js';
export * from './drivers/index.js';
export { jobFailureReason, recoverInterruptedChange, runJob } from './jobs.js';
export { type AgentJob, type JobResult, type Journal, openJournal } from './journal.js';
export { type RebootState, readRebootState } from './reboot.js';
export { type AgentIdentity, type AgentState, openState } from './state.js';
