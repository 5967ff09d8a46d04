export { createPacmanDriver, type PacmanDriver, type PacmanDriverOptions } from './driver.js';
export { classifyPacmanFailure, hasScriptletFailure } from './errors.js';
