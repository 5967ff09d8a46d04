export { DriverError } from '../operation.js';
export {
  capabilityOf,
  createZypperDriver,
  parseInstallSummary,
  parseListUpdates,
  type ZypperDriverOptions,
} from './driver.js';
export { classifyZypperFailure, ZYPPER_EXIT, ZYPPER_SUCCESS_EXITS } from './errors.js';
