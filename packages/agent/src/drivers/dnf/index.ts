export {
  createDnfDriver,
  type DnfDriverOptions,
  nevraOf,
  parseCheckUpdate,
  plannedChanges,
} from './driver.js';
export { classifyDnfFailure } from './errors.js';
export { DriverError } from './rpm.js';
