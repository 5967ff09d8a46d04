import type { Ecosystem, EcosystemId } from '../types/ecosystem.js';

export type { Ecosystem, EcosystemId } from '../types/ecosystem.js';
/** For callers comparing many deb versions held in one string (`patchwarden vercmp --batch`). */
export { compareDebVersionRanges } from './deb/index.js';

import { alpm } from './alpm/index.js';
import { apk } from './apk/index.js';
import { deb } from './deb/index.js';
import { rpm } from './rpm/index.js';
import { semver } from './semver/index.js';

const registry: ReadonlyMap<EcosystemId, Ecosystem> = new Map<EcosystemId, Ecosystem>([
  ['deb', deb],
  ['rpm', rpm],
  ['alpm', alpm],
  ['apk', apk],
  ['semver', semver],
]);

/** The ecosystem with this id, or undefined. */
export function getEcosystem(id: string): Ecosystem | undefined {
  return registry.get(id as EcosystemId);
}

/** Every known ecosystem, in a stable order. */
export function listEcosystems(): Ecosystem[] {
  return [...registry.values()];
}

export function isEcosystemId(id: string): id is EcosystemId {
  return registry.has(id as EcosystemId);
}
