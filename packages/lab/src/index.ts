export {
  type AptRepository,
  buildAptRepository,
  buildDebPackage,
  type DebPackageSpec,
  debFileName,
  indexAptRepository,
  removeFromAptRepository,
} from './packages/deb.js';
export {
  buildPacmanPackage,
  buildPacmanRepository,
  DEFAULT_PACMAN_DB_NAME,
  type PacmanPackageSpec,
  type PacmanRepository,
  pacmanFileName,
  pacmanVersion,
  publishPacmanPackages,
  unpublishPacmanPackages,
} from './packages/pacman.js';
export {
  type BuiltRpm,
  buildRpmPackages,
  createRpmRepository,
  LAB_TOOL_PATH,
  missingTools,
  RPM_BUILD_TOOLS,
  type RpmPackageDefinition,
  type RpmRepository,
  rpmEvr,
  rpmMacrosText,
  rpmToolEnv,
  standardRpmSet,
  writeRpmMacros,
} from './packages/rpm.js';
export { type AptRoot, createAptRoot } from './roots/apt.js';
export { createDnfRoot, type DnfRoot, LAB_REPO_ID } from './roots/dnf.js';
export { createPacmanRoot, type PacmanRoot, type PacmanRootOptions } from './roots/pacman.js';
export { createZypperRoot, type ZypperRoot } from './roots/zypper.js';
