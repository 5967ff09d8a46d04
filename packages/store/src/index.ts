export { readJson, readOptionalTimestamp, readTimestamp, writeTimestamp } from './codec.js';
export type { StoreDialect } from './dialect.js';
export {
  bumpRevision,
  LOCK_KEYS,
  readRevision,
  SQLITE_FILE_NAME,
  withExclusiveLock,
} from './dialect.js';
export { migrateToLatest, migrations } from './migrate.js';
export {
  type ApiToken,
  bindRole,
  countUsers,
  createApiToken,
  createNodeKey,
  createUser,
  findApiTokenByHash,
  findNodeKeyByHash,
  listRoleBindings,
  type NodeKey,
  type RoleBindingRecord,
  revokeNodeKeys,
  type TokenLookup,
  touchApiToken,
  type User,
} from './repositories/access.js';
export {
  ADVISORIES_REVISION,
  advisoryContentHash,
  advisoryRowId,
  getAdvisory,
  listAdvisoryInputs,
  loadEpssScores,
  loadKevEntries,
  type PutAdvisoriesResult,
  putAdvisories,
  putEpssScores,
  putKevEntries,
} from './repositories/advisories.js';
export {
  type AuditChainReport,
  type AuditEntry,
  appendAuditEntry,
  auditEntryHash,
  type NewAuditEntry,
  verifyAuditChain,
} from './repositories/audit-log.js';
export {
  createHost,
  DEFAULT_PAGE_SIZE,
  getHost,
  type Host,
  type HostPage,
  listHosts,
  MAX_PAGE_SIZE,
  type NewHost,
  setHostInventory,
} from './repositories/hosts.js';
export {
  canonicalPackageLines,
  getPackageSet,
  type PutPackageSetResult,
  packageSetId,
  putPackageSet,
} from './repositories/package-sets.js';
export type * from './schema.js';
export { openStore, type Store, type StoreOptions } from './store.js';
export { inTransaction } from './transaction.js';
