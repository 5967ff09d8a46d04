import { InvalidInventoryError } from '../errors.js';
import type { EcosystemId } from '../types/ecosystem.js';
import type { OsFamily, OsIdentity } from '../types/inventory.js';

const FORMAT = 'os-release';

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

// Distribution ids, from ID or ID_LIKE, and the family whose advisories and packages they use.
const FAMILY_BY_ID: Readonly<Record<string, OsFamily>> = {
  debian: 'debian',
  ubuntu: 'debian',
  rhel: 'rhel',
  centos: 'rhel',
  rocky: 'rhel',
  almalinux: 'rhel',
  fedora: 'rhel',
  ol: 'rhel',
  sles: 'suse',
  'opensuse-leap': 'suse',
  'opensuse-tumbleweed': 'suse',
  // ID_LIKE values of SUSE products ("suse opensuse").
  suse: 'suse',
  opensuse: 'suse',
  arch: 'arch',
  alpine: 'alpine',
};

const ECOSYSTEM_BY_FAMILY: Readonly<Record<OsFamily, EcosystemId | null>> = {
  debian: 'deb',
  rhel: 'rpm',
  suse: 'rpm',
  arch: 'alpm',
  alpine: 'apk',
  unknown: null,
};

/** Reads a double-quoted value from `pos` (after the quote); returns [value, index after the quote]. */
function readDoubleQuoted(line: string, pos: number): [string, number] | null {
  let value = '';
  let i = pos;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '"') return [value, i + 1];
    // Inside double quotes a backslash escapes only $ ` " and \ (POSIX shell).
    if (c === '\\' && i + 1 < line.length && '$`"\\'.includes(line[i + 1]!)) {
      value += line[i + 1];
      i += 2;
    } else {
      value += c;
      i++;
    }
  }
  return null;
}

/** Reads a single-quoted value from `pos` (after the quote): no escapes (POSIX shell). */
function readSingleQuoted(line: string, pos: number): [string, number] | null {
  const close = line.indexOf("'", pos);
  return close < 0 ? null : [line.slice(pos, close), close + 1];
}

/** Reads a bare value from `pos` to the end: a backslash escapes the next character (POSIX shell). */
function readBare(line: string, pos: number): string | 'quote' | 'continuation' {
  let value = '';
  let i = pos;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '"' || c === "'") return 'quote';
    if (c === '\\') {
      if (i + 1 >= line.length) return 'continuation';
      value += line[i + 1];
      i += 2;
    } else {
      value += c;
      i++;
    }
  }
  return value;
}

function fail(line: number, detail: string, source: string | undefined): never {
  throw new InvalidInventoryError(FORMAT, line, detail, source);
}

/**
 * Reads the variables of an os-release(5) file: `KEY=value` lines, values bare or quoted with
 * `"` or `'` (shell escapes `\"` `\\` `\$` `` \` `` in double quotes, any `\x` in bare values,
 * none in single quotes), `#` comment lines and blank lines. No expansion; a later assignment
 * wins. Like systemd, a bare value runs to the end of the line, spaces included.
 *
 * Throws InvalidInventoryError with the 1-based line for a line that is not a comment, blank or
 * `KEY=value`: no `=`, a key that is not a shell name, an unterminated quote, quoted and bare
 * text run together (os-release does not allow concatenation), or a trailing backslash.
 *
 * @param source names the file in error messages.
 */
export function parseOsReleaseFields(text: string, source?: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const [index, raw] of text.split('\n').entries()) {
    const lineNumber = index + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const equals = line.indexOf('=');
    if (equals < 0) {
      fail(
        lineNumber,
        `expected KEY=value, a comment or a blank line, got ${JSON.stringify(line.slice(0, 40))}`,
        source,
      );
    }
    const key = line.slice(0, equals);
    if (!KEY.test(key)) fail(lineNumber, `${JSON.stringify(key)} is not a variable name`, source);

    const quote = line[equals + 1];
    if (quote === '"' || quote === "'") {
      const read = quote === '"' ? readDoubleQuoted(line, equals + 2) : readSingleQuoted(line, equals + 2);
      if (read === null) fail(lineNumber, `the value of ${key} has no closing ${quote}`, source);
      const [value, end] = read;
      const rest = line.slice(end);
      // Whitespace, then a shell comment, may follow the closing quote.
      if (rest !== '' && !/^\s+(#.*)?$/.test(rest)) {
        fail(
          lineNumber,
          `text after the closing quote of ${key}: ${JSON.stringify(rest.slice(0, 40))}`,
          source,
        );
      }
      fields.set(key, value);
      continue;
    }
    const value = readBare(line, equals + 1);
    if (value === 'quote') {
      fail(
        lineNumber,
        `the value of ${key} runs bare and quoted text together, which os-release does not allow`,
        source,
      );
    }
    if (value === 'continuation') {
      fail(lineNumber, `the value of ${key} ends in a backslash; values cannot span lines`, source);
    }
    fields.set(key, value);
  }
  return fields;
}

function familyOf(ids: readonly string[]): OsFamily {
  for (const id of ids) {
    const family = FAMILY_BY_ID[id];
    if (family !== undefined) return family;
  }
  return 'unknown';
}

function major(versionId: string): string {
  const dot = versionId.indexOf('.');
  return dot < 0 ? versionId : versionId.slice(0, dot);
}

/** The release as advisories name it, or null for rolling releases and unknown versions. */
function releaseOf(distro: string, family: OsFamily, versionId: string | null): string | null {
  if (versionId === null || versionId === '') return null;
  if (family === 'arch' || distro === 'opensuse-tumbleweed') return null;
  if (distro === 'debian') return major(versionId);
  if (distro === 'alpine') {
    // Alpine edge reports a pre-release such as 3.20.0_alpha20240329: rolling.
    if (versionId.includes('_')) return null;
    const parts = versionId.split('.');
    return parts.slice(0, 2).join('.');
  }
  if (family === 'rhel') return major(versionId);
  return versionId;
}

/** "12 (bookworm)" -> "bookworm": the parenthesised word of VERSION, as Debian 8 and older write it. */
function codenameFromVersion(version: string | undefined): string | null {
  const match = version === undefined ? null : /\(([A-Za-z][A-Za-z0-9-]*)\)\s*$/.exec(version);
  return match === null ? null : match[1]!.toLowerCase();
}

/**
 * A host's OS from its os-release(5) text (`/etc/os-release` or `/usr/lib/os-release`),
 * normalised so that advisories can be scoped by it: family from `ID` then `ID_LIKE`, the
 * release as advisories name it (Debian `12`, Ubuntu `22.04`, RHEL-likes `9`, Alpine `3.19`,
 * SUSE `15.5`; null when rolling or unknown), codename from `VERSION_CODENAME`, else
 * `UBUNTU_CODENAME`, else (Debian family) the parenthesised word of `VERSION`. A missing `ID`
 * is `linux` (os-release(5)) with family `unknown`.
 *
 * Throws InvalidInventoryError for a malformed line (see parseOsReleaseFields).
 */
export function parseOsRelease(text: string, source?: string): OsIdentity {
  const fields = parseOsReleaseFields(text, source);
  const id = fields.get('ID')?.trim().toLowerCase() || 'linux';
  const idLike = (fields.get('ID_LIKE') ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const family = familyOf([id, ...idLike]);
  const versionId = fields.get('VERSION_ID')?.trim() || null;
  const codename =
    fields.get('VERSION_CODENAME')?.trim() ||
    fields.get('UBUNTU_CODENAME')?.trim() ||
    (family === 'debian' ? codenameFromVersion(fields.get('VERSION')) : null) ||
    null;
  return {
    family,
    distro: id,
    version: releaseOf(id, family, versionId),
    versionId,
    codename,
    prettyName: fields.get('PRETTY_NAME') || fields.get('NAME') || 'Linux',
    ecosystem: ECOSYSTEM_BY_FAMILY[family],
  };
}
