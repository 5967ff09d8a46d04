import type { Ecosystem } from '../../types/ecosystem.js';
import { type AlpmVersion, checkAlpmVersion, compareAlpmVersions, tryParseAlpmVersion } from './version.js';

export { parsePacmanDesc, parsePacmanLocalDb } from './inventory.js';
export type { AlpmVersion, AlpmVersionRule } from './version.js';
export { alpmRpmvercmp, parseAlpmVersion } from './version.js';

/** pacman's `[epoch:]pkgver[-pkgrel]` versions, ordered exactly as `vercmp` (alpm_pkg_vercmp). */
export const alpm: Ecosystem<AlpmVersion> = {
  id: 'alpm',
  title: 'pacman / libalpm (Arch Linux)',
  parseVersion: tryParseAlpmVersion,
  checkVersion: checkAlpmVersion,
  compare: compareAlpmVersions,
};
