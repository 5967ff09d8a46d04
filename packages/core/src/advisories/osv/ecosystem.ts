import type { DistroScope } from '../../types/advisory.js';
import type { EcosystemId } from '../../types/ecosystem.js';

/** What an OSV `package.ecosystem` string means for matching. */
export interface OsvEcosystem {
  ecosystem: EcosystemId;
  /** Null for application ecosystems. `distro` is the os-release `ID`; `release` as `OsIdentity.version` gives it. */
  scope: DistroScope | null;
  /** Debian, Ubuntu and Alpine name source packages; RPM families and application registries name what gets installed. */
  nameKind: 'source' | 'binary';
}

/**
 * Application registries whose OSV versions order as SemVer 2.0. Their `ECOSYSTEM` ranges are
 * read with the semver rules; for the others below only `SEMVER` ranges are usable.
 */
const SEMVER_ORDERED_APPS: ReadonlySet<string> = new Set(['npm', 'Go', 'crates.io', 'Hex']);
/** Application registries with an ordering of their own (PEP 440, Maven, RubyGems, NuGet, Composer, pub). */
const OTHER_APPS: ReadonlySet<string> = new Set(['PyPI', 'Maven', 'RubyGems', 'NuGet', 'Packagist', 'Pub']);

/** Whether `ECOSYSTEM`-typed ranges of this OSV ecosystem can be compared with our comparators. */
export function hasComparableEcosystemRanges(ecosystemString: string): boolean {
  return !OTHER_APPS.has(ecosystemString);
}

const SUSE_PRODUCTS: ReadonlyArray<readonly [string, string]> = [
  // os-release IDs of the SUSE products (longest product name first).
  ['Linux Enterprise Server for SAP Applications', 'sles_sap'],
  ['Linux Enterprise Server', 'sles'],
  ['Linux Enterprise Desktop', 'sled'],
];

/**
 * Maps an OSV `package.ecosystem` string (OSV schema, "Affected package ecosystems") to our
 * ecosystem id and distribution scope; null for ecosystems Patchwarden cannot match (GIT-only
 * feeds, Android, Linux, Arch — which has no OSV ecosystem —, unknown strings). Names are matched
 * case-sensitively, as the spec writes them. Releases are normalised to what a host's os-release
 * gives: Debian major (`Debian:12`), Ubuntu `YY.MM`, Alpine `major.minor` (`Alpine:v3.19`),
 * RHEL family major, SUSE `15.5` for `15 SP5`.
 *
 * Streams: `Ubuntu:Pro:18.04:LTS` -> `pro`; `Ubuntu:Pro:FIPS-updates:22.04:LTS` -> `fips-updates`
 * (the FIPS part lower-cased; a FIPS stream is also a Pro one); words after the release other than
 * `LTS` are appended lower-cased with `:` (`Ubuntu:22.04:LTS:Realtime` -> `realtime`). Red Hat:
 * `enterprise_linux:9` is the plain stream, `rhel_eus:9.2` -> `eus-9.2` (likewise aus, e4s, tus);
 * other Red Hat products (OpenShift, …) are not OS streams and give null. SUSE: `-LTSS` -> `ltss`;
 * `Linux Enterprise Module for Basesystem 15 SP5` -> sles 15.5 stream `module-basesystem`.
 */
export function osvEcosystem(ecosystemString: string): OsvEcosystem | null {
  if (SEMVER_ORDERED_APPS.has(ecosystemString) || OTHER_APPS.has(ecosystemString)) {
    return { ecosystem: 'semver', scope: null, nameKind: 'binary' };
  }
  const colon = ecosystemString.indexOf(':');
  if (colon === -1) return null;
  const name = ecosystemString.slice(0, colon);
  const rest = ecosystemString.slice(colon + 1);
  switch (name) {
    case 'Debian':
      return /^\d+$/.test(rest) ? deb('debian', rest, null) : null;
    case 'Ubuntu':
      return ubuntu(rest.split(':'));
    case 'Alpine': {
      const match = /^v(\d+\.\d+)$/.exec(rest);
      return match ? { ecosystem: 'apk', scope: scope('alpine', match[1]!, null), nameKind: 'source' } : null;
    }
    case 'AlmaLinux':
      return /^\d+$/.test(rest) ? rpm('almalinux', rest, null) : null;
    case 'Rocky Linux':
      return /^\d+$/.test(rest) ? rpm('rocky', rest, null) : null;
    case 'Red Hat':
      return redHat(rest);
    case 'SUSE':
      return suse(rest);
    case 'openSUSE':
      return openSuse(rest);
    default:
      return null;
  }
}

function scope(distro: string, release: string | null, stream: string | null): DistroScope {
  return { distro, release, stream };
}

function deb(distro: string, release: string, stream: string | null): OsvEcosystem {
  return { ecosystem: 'deb', scope: scope(distro, release, stream), nameKind: 'source' };
}

function rpm(distro: string, release: string | null, stream: string | null): OsvEcosystem {
  return { ecosystem: 'rpm', scope: scope(distro, release, stream), nameKind: 'binary' };
}

function ubuntu(parts: string[]): OsvEcosystem | null {
  const streamParts: string[] = [];
  let i = 0;
  if (parts[i] === 'Pro') {
    i += 1;
    if (parts[i] !== undefined && /^FIPS/.test(parts[i]!)) {
      streamParts.push(parts[i]!.toLowerCase());
      i += 1;
    } else {
      streamParts.push('pro');
    }
  }
  const release = parts[i];
  if (release === undefined || !/^\d{2}\.\d{2}$/.test(release)) return null;
  i += 1;
  if (parts[i] === 'LTS') i += 1;
  for (; i < parts.length; i += 1) {
    if (parts[i] === '') return null;
    streamParts.push(parts[i]!.toLowerCase());
  }
  return deb('ubuntu', release, streamParts.length === 0 ? null : streamParts.join(':'));
}

/** `enterprise_linux:9::appstream`, `rhel_eus:9.2::baseos` (CPE-derived, Red Hat's OSV/CSAF feeds). */
function redHat(rest: string): OsvEcosystem | null {
  const [product, version] = rest.split(':');
  if (version === undefined) return null;
  const match = /^(\d+)(?:\.(\d+))?$/.exec(version);
  if (match === null) return null;
  const major = match[1]!;
  if (product === 'enterprise_linux') return rpm('rhel', major, null);
  const stream = /^rhel_(eus|aus|e4s|tus)$/.exec(product ?? '');
  if (stream === null) return null;
  return rpm('rhel', major, `${stream[1]}-${version}`);
}

/** `Linux Enterprise Server 15 SP5`, `Linux Enterprise Server 12 SP5-LTSS`, `Linux Enterprise Module for X 15 SP5`. */
function suse(rest: string): OsvEcosystem | null {
  // Micro releases are `5.5`, not `5 SP5`.
  const micro = /^Linux Enterprise Micro (\d+\.\d+)$/.exec(rest);
  if (micro !== null) return rpm('sle-micro', micro[1]!, null);
  const match = /^(.+?) (\d+)(?:[ -]SP(\d+))?(?:-(LTSS))?$/.exec(rest);
  if (match === null) return null;
  const [, product, major, servicePack, ltss] = match;
  const release = servicePack === undefined || servicePack === '0' ? major! : `${major}.${servicePack}`;
  const streamWords = ltss === undefined ? [] : ['ltss'];
  const module = /^Linux Enterprise Module for (.+)$/.exec(product!);
  if (module !== null) {
    const moduleName = module[1]!.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    return rpm('sles', release, [`module-${moduleName}`, ...streamWords].join(':'));
  }
  for (const [title, distro] of SUSE_PRODUCTS) {
    if (product === title)
      return rpm(distro, release, streamWords.length === 0 ? null : streamWords.join(':'));
  }
  return null;
}

/** `Leap 15.5`, `Leap Micro 5.5`, `Tumbleweed`. */
function openSuse(rest: string): OsvEcosystem | null {
  if (rest === 'Tumbleweed') return rpm('opensuse-tumbleweed', null, null);
  const leap = /^Leap (\d+\.\d+)$/.exec(rest);
  if (leap !== null) return rpm('opensuse-leap', leap[1]!, null);
  const micro = /^Leap Micro (\d+\.\d+)$/.exec(rest);
  return micro ? rpm('opensuse-leap-micro', micro[1]!, null) : null;
}
