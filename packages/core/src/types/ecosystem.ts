import type { InvalidVersionError } from '../errors.js';

/** Package-URL types of the ecosystems Patchwarden knows. */
export type EcosystemId = 'deb' | 'rpm' | 'alpm' | 'apk' | 'semver';

/**
 * The rules of one package ecosystem. Every ecosystem folder exports one of these and the
 * registry (`ecosystems/index.ts`) lists them; nothing else branches on the ecosystem id.
 */
export interface Ecosystem<Parsed = unknown> {
  readonly id: EcosystemId;
  /** Human name of the rules, e.g. "dpkg (Debian, Ubuntu)". */
  readonly title: string;
  /** The parsed form, or null when `text` is not a version in this ecosystem. Never throws. */
  parseVersion(text: string): Parsed | null;
  /** Null when `text` is valid; otherwise the error naming the input and the rule it breaks. Never throws. */
  checkVersion(text: string): InvalidVersionError | null;
  /**
   * Negative, zero or positive: `a` older than, equal to or newer than `b`, exactly as the
   * ecosystem's native tool orders them. Throws InvalidVersionError when either is invalid.
   */
  compare(a: string, b: string): number;
}
