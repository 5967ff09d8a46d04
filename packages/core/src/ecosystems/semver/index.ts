import type { Ecosystem } from '../../types/ecosystem.js';
import { checkSemver, compareSemver, parseSemver, type SemVer } from './version.js';

export type { SemVer } from './version.js';
export { checkSemver, compareSemver, parseSemver } from './version.js';

/** Semantic Versioning 2.0.0 precedence (semver.org), strict: no leading `v`, no ranges. */
export const semver: Ecosystem<SemVer> = {
  id: 'semver',
  title: 'Semantic Versioning 2.0.0',
  parseVersion: parseSemver,
  checkVersion: checkSemver,
  compare: compareSemver,
};
