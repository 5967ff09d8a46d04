export {
  type AptDriver,
  type AptDriverOptions,
  createAptDriver,
  type DpkgPackageState,
  parseSimulation,
} from './driver.js';
export { classifyAptFailure } from './errors.js';
