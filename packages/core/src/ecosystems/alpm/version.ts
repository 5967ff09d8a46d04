import { InvalidVersionError } from '../../errors.js';

/** A pacman `[epoch:]pkgver[-pkgrel]` version split as libalpm's parseEVR splits it. */
export interface AlpmVersion {
  /** The digits before the colon as written, `'0'` when there is no epoch (or it is empty). */
  epoch: string;
  /** pkgver: between the epoch colon and the hyphen. Never empty. */
  version: string;
  /** pkgrel after the hyphen (`1`, `2.1`), or null when absent (as in dependency versions). */
  release: string | null;
}

/** Short stable names of the alpm version rules, used as `InvalidVersionError.rule`. */
export type AlpmVersionRule =
  | 'empty'
  | 'epoch-not-numeric'
  | 'version-empty'
  | 'illegal-character'
  | 'release-empty'
  | 'release-not-numeric';

const OK = 0;
const E_EMPTY = 1;
const E_EPOCH_NOT_NUMERIC = 2;
const E_VERSION_EMPTY = 3;
const E_ILLEGAL_CHAR = 4;
const E_NON_ASCII = 5;
const E_RELEASE_EMPTY = 6;
const E_RELEASE_NOT_NUMERIC = 7;

const RULES: readonly AlpmVersionRule[] = [
  'empty', // OK, never reported
  'empty',
  'epoch-not-numeric',
  'version-empty',
  'illegal-character',
  'illegal-character',
  'release-empty',
  'release-not-numeric',
];

/** makepkg's messages (scripts/libmakepkg/lint_pkgbuild/{epoch,pkgver,pkgrel}.sh). */
const DETAILS: readonly string[] = [
  '',
  'version string is empty',
  'epoch must be an integer',
  'pkgver is not allowed to be empty',
  'pkgver is not allowed to contain colons, forward slashes, hyphens or whitespace',
  'pkgver may only contain ascii characters',
  'pkgrel is not allowed to be empty',
  "pkgrel must be of the form 'integer[.integer]'",
];

const COLON = 0x3a;
const DASH = 0x2d;
const DOT = 0x2e;
const SLASH = 0x2f;
const ZERO = 0x30;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** C-locale isalpha: libalpm uses <ctype.h> and vercmp never calls setlocale. */
function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isAlnum(c: number): boolean {
  return isDigit(c) || isAlpha(c);
}

/** Bytes that UTF-16 code unit `c` takes in UTF-8 (each half of a surrogate pair: 2 of the 4). */
function utf8Length(c: number): number {
  return c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
}

/** [[:space:]] in the C locale: space, \t, \n, \v, \f, \r. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/**
 * pacman's own rpmvercmp (lib/libalpm/version.c, pacman 6.0), an older fork of rpm's: no `~` or
 * `^` handling; if the runs of separators before two segments differ in length (in bytes), the
 * side with fewer separators is older; and at the end a leftover letter segment never beats nothing
 * (`1.0a` < `1.0`), while a leftover number or separator does (`1.0.1` > `1.0`).
 */
function vercmpRange(
  a: string,
  aStart: number,
  aEnd: number,
  b: string,
  bStart: number,
  bEnd: number,
): number {
  let one = aStart;
  let two = bStart;
  let ptr1 = aStart;
  let ptr2 = bStart;
  while (one < aEnd && two < bEnd) {
    // libalpm measures the separator runs in bytes: count UTF-8 bytes, not UTF-16 code units.
    let gap1 = 0;
    let gap2 = 0;
    for (let c = a.charCodeAt(one); one < aEnd && !isAlnum(c); c = a.charCodeAt(++one)) gap1 += utf8Length(c);
    for (let c = b.charCodeAt(two); two < bEnd && !isAlnum(c); c = b.charCodeAt(++two)) gap2 += utf8Length(c);

    if (one >= aEnd || two >= bEnd) break;

    if (gap1 !== gap2) return gap1 < gap2 ? -1 : 1;

    ptr1 = one;
    ptr2 = two;
    const isNumeric = isDigit(a.charCodeAt(ptr1));
    if (isNumeric) {
      while (ptr1 < aEnd && isDigit(a.charCodeAt(ptr1))) ptr1++;
      while (ptr2 < bEnd && isDigit(b.charCodeAt(ptr2))) ptr2++;
    } else {
      while (ptr1 < aEnd && isAlpha(a.charCodeAt(ptr1))) ptr1++;
      while (ptr2 < bEnd && isAlpha(b.charCodeAt(ptr2))) ptr2++;
    }

    // Segments of different types: the numeric one is newer.
    if (two === ptr2) return isNumeric ? 1 : -1;

    if (isNumeric) {
      while (one < ptr1 && a.charCodeAt(one) === ZERO) one++;
      while (two < ptr2 && b.charCodeAt(two) === ZERO) two++;
      const len1 = ptr1 - one;
      const len2 = ptr2 - two;
      if (len1 > len2) return 1;
      if (len2 > len1) return -1;
    }

    // strcmp of the two segments
    while (one < ptr1 && two < ptr2) {
      const d = a.charCodeAt(one) - b.charCodeAt(two);
      if (d !== 0) return d < 0 ? -1 : 1;
      one++;
      two++;
    }
    if (one < ptr1) return 1;
    if (two < ptr2) return -1;
  }

  if (one >= aEnd && two >= bEnd) return 0;

  // The final showdown: a remaining alpha string never beats an empty string.
  const c1 = one < aEnd ? a.charCodeAt(one) : 0;
  const c2 = two < bEnd ? b.charCodeAt(two) : 0;
  return (one >= aEnd && !isAlpha(c2)) || isAlpha(c1) ? -1 : 1;
}

/**
 * pacman's segment comparison `rpmvercmp(a, b)` (lib/libalpm/version.c) of two pkgver or pkgrel
 * strings: -1, 0 or 1. Accepts any string, as libalpm does, taking it as the UTF-8 bytes vercmp
 * would receive (a NUL is an ordinary separator here, where C would stop at it).
 */
export function alpmRpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  return vercmpRange(a, 0, a.length, b, 0, b.length);
}

// Where the last scan found the epoch colon and the release hyphen (-1: none). Module state so
// that compare() allocates nothing; every scan overwrites both.
let scanColon = -1;
let scanDash = -1;

/**
 * makepkg's check of a full version (scripts/libmakepkg/lint_pkgbuild/fullpkgver.sh, used for
 * versioned depends, provides, conflicts): the part before the first `:` must be digits (it may be
 * empty); after it, a `-` that is not its first character splits off pkgrel at the last `-`, which
 * must be `integer[.integer]`; pkgver must be non-empty ASCII without whitespace, `/`, `:` or `-`.
 */
function scanFullVersion(text: string): number {
  const n = text.length;
  scanColon = -1;
  scanDash = -1;
  if (n === 0) return E_EMPTY;
  let versionStart = 0;
  const colon = text.indexOf(':');
  if (colon >= 0) {
    for (let i = 0; i < colon; i++) if (!isDigit(text.charCodeAt(i))) return E_EPOCH_NOT_NUMERIC;
    scanColon = colon;
    versionStart = colon + 1;
  }
  let versionEnd = n;
  const dash = text.lastIndexOf('-');
  if (dash > versionStart) {
    scanDash = dash;
    versionEnd = dash;
    const code = checkPkgrel(text, dash + 1, n);
    if (code !== OK) return code;
  }
  if (versionEnd === versionStart) return E_VERSION_EMPTY;
  for (let i = versionStart; i < versionEnd; i++) {
    const c = text.charCodeAt(i);
    if (c === COLON || c === DASH || c === SLASH || isSpace(c)) return E_ILLEGAL_CHAR;
  }
  for (let i = versionStart; i < versionEnd; i++) if (text.charCodeAt(i) >= 128) return E_NON_ASCII;
  // bash strings cannot hold NUL, so no PKGBUILD can produce one.
  for (let i = versionStart; i < versionEnd; i++) if (text.charCodeAt(i) === 0) return E_ILLEGAL_CHAR;
  return OK;
}

/** pkgrel: `+([0-9])?(.+([0-9]))`. */
function checkPkgrel(text: string, start: number, end: number): number {
  if (start === end) return E_RELEASE_EMPTY;
  let i = start;
  while (i < end && isDigit(text.charCodeAt(i))) i++;
  if (i === start) return E_RELEASE_NOT_NUMERIC;
  if (i === end) return OK;
  if (text.charCodeAt(i) !== DOT) return E_RELEASE_NOT_NUMERIC;
  const fraction = ++i;
  while (i < end && isDigit(text.charCodeAt(i))) i++;
  return i === end && i > fraction ? OK : E_RELEASE_NOT_NUMERIC;
}

function describe(text: string, code: number): InvalidVersionError {
  return new InvalidVersionError('alpm', text, RULES[code]!, DETAILS[code]!);
}

/** Null when `text` is a valid pacman version; otherwise the error naming the rule. Never throws. */
export function checkAlpmVersion(text: string): InvalidVersionError | null {
  const code = scanFullVersion(text);
  return code === OK ? null : describe(text, code);
}

/** Splits `[epoch:]pkgver[-pkgrel]`; throws InvalidVersionError when `text` is not valid. */
export function parseAlpmVersion(text: string): AlpmVersion {
  const code = scanFullVersion(text);
  if (code !== OK) throw describe(text, code);
  return splitScanned(text);
}

/** Like `parseAlpmVersion`, but null instead of throwing. */
export function tryParseAlpmVersion(text: string): AlpmVersion | null {
  return scanFullVersion(text) === OK ? splitScanned(text) : null;
}

function splitScanned(text: string): AlpmVersion {
  const colon = scanColon;
  const dash = scanDash;
  return {
    epoch: colon <= 0 ? '0' : text.slice(0, colon),
    version: text.slice(colon + 1, dash < 0 ? text.length : dash),
    release: dash < 0 ? null : text.slice(dash + 1),
  };
}

/**
 * alpm_pkg_vercmp's comparison of split versions: epochs (missing or empty = "0"), then pkgvers,
 * then pkgrels only when both sides have one. `*Colon`/`*Dash` are separator offsets or -1.
 */
function compareSplit(
  a: string,
  aColon: number,
  aDash: number,
  b: string,
  bColon: number,
  bDash: number,
): number {
  let rc =
    aColon <= 0
      ? bColon <= 0
        ? 0
        : vercmpRange('0', 0, 1, b, 0, bColon)
      : bColon <= 0
        ? vercmpRange(a, 0, aColon, '0', 0, 1)
        : vercmpRange(a, 0, aColon, b, 0, bColon);
  if (rc !== 0) return rc;
  rc = vercmpRange(a, aColon + 1, aDash < 0 ? a.length : aDash, b, bColon + 1, bDash < 0 ? b.length : bDash);
  if (rc !== 0 || aDash < 0 || bDash < 0) return rc;
  return vercmpRange(a, aDash + 1, a.length, b, bDash + 1, b.length);
}

/**
 * Orders two pacman versions exactly as `vercmp` / alpm_pkg_vercmp: -1, 0 or 1. Throws
 * InvalidVersionError when either is not a valid version (see `checkAlpmVersion`).
 */
export function compareAlpmVersions(a: string, b: string): number {
  let code = scanFullVersion(a);
  if (code !== OK) throw describe(a, code);
  const aColon = scanColon;
  const aDash = scanDash;
  code = scanFullVersion(b);
  if (code !== OK) throw describe(b, code);
  return compareSplit(a, aColon, aDash, b, scanColon, scanDash);
}

/**
 * alpm_pkg_vercmp on any strings, as lax as `vercmp` itself: parseEVR takes an epoch only when
 * leading digits are followed by `:`, and the release after the last `-`.
 */
export function compareAlpmVersionsLenient(a: string, b: string): number {
  if (a === b) return 0;
  return compareSplit(a, epochColon(a), a.lastIndexOf('-'), b, epochColon(b), b.lastIndexOf('-'));
}

function epochColon(text: string): number {
  let i = 0;
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  return i < text.length && text.charCodeAt(i) === COLON ? i : -1;
}
