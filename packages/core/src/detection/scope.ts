import type { DistroScope } from '../types/advisory.js';
import type { OsIdentity } from '../types/inventory.js';

/**
 * The advisory scope a host is judged by: its distro and release, plain stream (Ubuntu Pro and FIPS
 * are separate streams; a host is on one only when the caller says so). Null when the OS is unknown.
 */
export function scopeOf(os: OsIdentity | null, stream: string | null = null): DistroScope | null {
  if (os === null || os.distro === '' || os.distro === 'unknown') return null;
  return { distro: os.distro, release: os.version, stream };
}

/**
 * The index key of a scope: `debian:12`, `ubuntu:18.04:pro`, `arch:` (rolling release). An
 * application package (scope null) is keyed by its ecosystem id alone (`semver`), which never
 * contains a colon, so the two kinds cannot collide.
 */
export function scopeKey(scope: DistroScope): string {
  const base = `${scope.distro}:${scope.release ?? ''}`;
  return scope.stream === null ? base : `${base}:${scope.stream}`;
}

/** One (scope, package name) pair: the unit of lookup and of re-evaluation. */
export interface PackageRef {
  scopeKey: string;
  name: string;
}

/** A Map-friendly string for a `PackageRef` (a NUL separates the parts). */
export function packageKey(ref: PackageRef): string {
  return `${ref.scopeKey}\u0000${ref.name}`;
}
