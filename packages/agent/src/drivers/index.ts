import { PatchwardenError } from '@patchwarden/core/host';
import { createAptDriver } from './apt/index.js';
import { createDnfDriver } from './dnf/index.js';
import { createPacmanDriver } from './pacman/index.js';
import type { DriverOptions, ManagerId, PackageDriver } from './types.js';
import { createZypperDriver } from './zypper/index.js';

export { type AptDriver, type AptDriverOptions, classifyAptFailure, createAptDriver } from './apt/index.js';
export { classifyDnfFailure, createDnfDriver, type DnfDriverOptions, DriverError } from './dnf/index.js';
export {
  classifyPacmanFailure,
  createPacmanDriver,
  type PacmanDriver,
  type PacmanDriverOptions,
} from './pacman/index.js';
export { DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_TIMEOUT_MS, type RunOptions, runCommand } from './run-command.js';
export type * from './types.js';
export {
  classifyZypperFailure,
  createZypperDriver,
  ZYPPER_EXIT,
  type ZypperDriverOptions,
} from './zypper/index.js';

/** Every manager, by id: a new manager is a new folder plus one line here. */
const DRIVERS: Readonly<Record<ManagerId, (options: DriverOptions) => PackageDriver>> = {
  apt: createAptDriver,
  dnf: createDnfDriver,
  zypper: createZypperDriver,
  pacman: createPacmanDriver,
};

export const MANAGER_IDS = Object.keys(DRIVERS) as ManagerId[];

export function isManagerId(value: string): value is ManagerId {
  return Object.hasOwn(DRIVERS, value);
}

/** The driver for `id`; throws UNKNOWN_MANAGER (400) for anything else. */
export function createDriver(id: string, options: DriverOptions): PackageDriver {
  if (!isManagerId(id)) {
    throw new PatchwardenError(
      'UNKNOWN_MANAGER',
      `unknown package manager ${JSON.stringify(id)}; expected one of ${MANAGER_IDS.join(', ')}`,
      400,
    );
  }
  return DRIVERS[id](options);
}
