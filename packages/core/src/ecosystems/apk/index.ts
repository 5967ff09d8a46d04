import type { Ecosystem } from '../../types/ecosystem.js';
import { type ApkVersion, checkApkVersion, compareApkVersions, parseApkVersion } from './version.js';

export { parseApkInstalled } from './inventory.js';
export type { ApkVersion } from './version.js';
export {
  checkApkVersion,
  compareApkVersions,
  compareApkVersionsUnchecked,
  parseApkVersion,
} from './version.js';

/** Alpine's apk-tools 2.x version order (`apk version -t`) and validation (`apk version -c`). */
export const apk: Ecosystem<ApkVersion> = {
  id: 'apk',
  title: 'apk-tools (Alpine Linux)',
  parseVersion: parseApkVersion,
  checkVersion: checkApkVersion,
  compare: compareApkVersions,
};
