import { DEFAULT_SLA_POLICY } from '../../risk/index.js';
import type { Advisory, AffectedPackage, AffectedRange, DistroScope, FeedOrigin } from '../../types/advisory.js';
import type { InstalledPackage, Inventory, OsIdentity } from '../../types/inventory.js';
import type { AdvisoryIndexInput } from '../advisory-index.js';
import type { DetectionContext } from '../detect.js';

export const DEBIAN_12: DistroScope = { distro: 'debian', release: '12', stream: null };

export function range(fields: Partial<AffectedRange> = {}): AffectedRange {
  return { introduced: null, fixed: null, lastAffected: null, limit: null, ...fields };
}

export function affected(fields: Partial<AffectedPackage> & { name: string }): AffectedPackage {
  return {
    ecosystem: 'deb',
    scope: DEBIAN_12,
    nameKind: 'source',
    ranges: [],
    versions: [],
    binaries: [],
    noFixReason: null,
    severity: null,
    urgency: null,
    ...fields,
  };
}

export function advisory(fields: Partial<Advisory> & { id: string }): Advisory {
  return {
    source: 'osv',
    aliases: [],
    related: [],
    cves: fields.id.startsWith('CVE-') ? [fields.id] : [],
    summary: null,
    published: null,
    modified: null,
    withdrawn: null,
    severity: 'unknown',
    cvss: [],
    affected: [],
    references: [],
    ...fields,
  };
}

export function entry(adv: Advisory, origin: FeedOrigin | null = null): AdvisoryIndexInput {
  return { advisory: adv, origin };
}

export function os(distro: string, version: string | null, fields: Partial<OsIdentity> = {}): OsIdentity {
  const family = distro === 'debian' || distro === 'ubuntu' ? 'debian' : distro === 'alpine' ? 'alpine' : 'rhel';
  const ecosystem = family === 'debian' ? 'deb' : family === 'alpine' ? 'apk' : 'rpm';
  return {
    family,
    distro,
    version,
    versionId: version,
    codename: null,
    prettyName: `${distro} ${version ?? ''}`,
    ecosystem,
    ...fields,
  };
}

export function pkg(
  name: string,
  version: string,
  fields: Partial<InstalledPackage> & { sourceName?: string; sourceVersion?: string } = {},
): InstalledPackage {
  const { sourceName, sourceVersion, ...rest } = fields;
  return {
    name,
    version,
    architecture: 'amd64',
    source: sourceName === undefined ? null : { name: sourceName, version: sourceVersion ?? version },
    ecosystem: 'deb',
    ...rest,
  };
}

export function inventory(host: OsIdentity | null, packages: InstalledPackage[]): Inventory {
  return { os: host, packages };
}

export function context(fields: Partial<DetectionContext> = {}): DetectionContext {
  return {
    kev: new Map(),
    epss: new Map(),
    criticality: 'medium',
    sla: DEFAULT_SLA_POLICY,
    now: new Date('2025-06-01T12:00:00Z'),
    ...fields,
  };
}
