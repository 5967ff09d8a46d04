import type { Ecosystem } from '../../types/ecosystem.js';
import { checkRpmVersion, compareRpmVersions, type RpmEvr, tryParseRpmEvr } from './version.js';

export { parseRpmQa, RPM_QA_QUERY_FORMAT } from './inventory.js';
export type { RpmEvr, RpmVersionRule } from './version.js';
export { parseRpmEvr, rpmvercmp } from './version.js';

/** rpm's `[epoch:]version[-release]` versions, ordered as python3-rpm's `rpm.labelCompare`. */
export const rpm: Ecosystem<RpmEvr> = {
  id: 'rpm',
  title: 'rpm (RHEL, Fedora, AlmaLinux, Rocky, SUSE)',
  parseVersion: tryParseRpmEvr,
  checkVersion: checkRpmVersion,
  compare: compareRpmVersions,
};
