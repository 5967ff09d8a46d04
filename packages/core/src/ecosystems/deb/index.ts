import type { Ecosystem } from '../../types/ecosystem.js';
import { checkDebVersion, compareDebVersions, type DebVersion, tryParseDebVersion } from './version.js';

export { parseDpkgStatus } from './inventory.js';
export type { DebVersion, DebVersionRule } from './version.js';
export {
  checkDebVersion,
  compareDebVersionRanges,
  compareDebVersions,
  parseDebVersion,
  tryParseDebVersion,
} from './version.js';

/** dpkg's version rules (deb-version(7)), as `dpkg --compare-versions` applies them. See readme.md. */
export const deb: Ecosystem<DebVersion> = {
  id: 'deb',
  title: 'dpkg (Debian, Ubuntu)',
  parseVersion: tryParseDebVersion,
  checkVersion: checkDebVersion,
  compare: compareDebVersions,
};
