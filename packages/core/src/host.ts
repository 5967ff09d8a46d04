// `@patchwarden/core/host`: what runs on a managed host (the agent) — version order, inventory
// parsers, os-release and errors — without the advisory parsers and their schema library, which
// would add ~13 MB to the agent's resident memory (docs/agent.md, "Footprint").
export { alpm, parsePacmanDesc, parsePacmanLocalDb } from './ecosystems/alpm/index.js';
export { deb, parseDpkgStatus } from './ecosystems/deb/index.js';
export { getEcosystem, isEcosystemId, listEcosystems } from './ecosystems/index.js';
export { parseRpmQa, RPM_QA_QUERY_FORMAT, rpm } from './ecosystems/rpm/index.js';
export * from './errors.js';
export { parseOsRelease } from './os/index.js';
export type * from './types/ecosystem.js';
export type * from './types/inventory.js';
