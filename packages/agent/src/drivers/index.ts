export { DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_TIMEOUT_MS, type RunOptions, runCommand } from './run-command.js';
export type * from './types.js';
