export { DriverError } from '../operation.js';
export {
  createDnfDriver,
  type DnfDriverOptions,
  nevraOf,
  parseCheckUpdate,
  plannedChanges,
} from './driver.js';
export { classifyDnfFailure } from './errors.js';
