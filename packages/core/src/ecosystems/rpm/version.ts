import { InvalidVersionError } from '../../errors.js';

/** An rpm `[epoch:]version[-release]` string split into its parts. */
export interface RpmEvr {
  /** 0 when the string has none; an integer in 0..4294967295 (rpm keeps it in a uint32 tag). */
  epoch: number;
  /** Between the epoch colon and the hyphen. Never empty. */
  version: string;
  /** After the hyphen, or null when there is none (an unversioned-release EVR, as in dependencies). */
  release: string | null;
}

/** Short stable names of the rpm version rules, used as `InvalidVersionError.rule`. */
export type RpmVersionRule =
  | 'empty'
  | 'illegal-character'
  | 'double-separator'
  | 'epoch-empty'
  | 'epoch-not-numeric'
  | 'epoch-too-big'
  | 'version-empty'
  | 'release-empty'
  | 'double-dot';

const OK = 0;
const E_EMPTY = 1;
const E_ILLEGAL_CHAR = 2;
const E_DOUBLE_COLON = 3;
const E_DOUBLE_DASH = 4;
const E_EPOCH_EMPTY = 5;
const E_EPOCH_NOT_NUMERIC = 6;
const E_EPOCH_TOO_BIG = 7;
const E_VERSION_EMPTY = 8;
const E_RELEASE_EMPTY = 9;
const E_DOUBLE_DOT = 10;

const RULES: readonly RpmVersionRule[] = [
  'empty', // OK, never reported
  'empty',
  'illegal-character',
  'double-separator',
  'double-separator',
  'epoch-empty',
  'epoch-not-numeric',
  'epoch-too-big',
  'version-empty',
  'release-empty',
  'double-dot',
];

/** Mostly rpmbuild's own messages (build/parseReqs.c, build/parsePreamble.c, rpmCharCheck). */
const DETAILS: readonly string[] = [
  '',
  'version string is empty',
  '', // built from the character, see describe()
  "Invalid version (double separator ':')",
  "Invalid version (double separator '-')",
  'epoch before the colon is empty',
  'Invalid version (epoch must be unsigned integer)',
  'Epoch field must be an unsigned number (at most 4294967295)',
  'version between the epoch and the release is empty',
  'release after the hyphen is empty',
  'Illegal sequence ".."',
];

const EPOCH_MAX = '4294967295';

// ASCII classes. rpm's risalnum/risdigit/risalpha (rpmio/rpmstring.h) are locale-independent and
// ASCII-only, so every code unit >= 128 is a separator for rpmvercmp and illegal for rpmbuild.
const DIGIT = 1;
const ALPHA = 2;
/** Allowed inside a Version or Release tag besides alnum: rpmbuild's ALLOWED_CHARS_VERREL. */
const VERREL = 4;
const CLASS = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) CLASS[c] = DIGIT;
for (let c = 0x41; c <= 0x5a; c++) CLASS[c] = ALPHA;
for (let c = 0x61; c <= 0x7a; c++) CLASS[c] = ALPHA;
for (const ch of '._+%{}~^') CLASS[ch.charCodeAt(0)] = VERREL;

const COLON = 0x3a;
const DASH = 0x2d;
const DOT = 0x2e;
const TILDE = 0x7e;
const CARET = 0x5e;
const ZERO = 0x30;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isAlpha(c: number): boolean {
  return c < 128 && CLASS[c] === ALPHA;
}

/** rpmvercmp's separator: anything but an ASCII letter or digit, `~` or `^`. */
function isSeparator(c: number): boolean {
  if (c >= 128) return true;
  return (CLASS[c]! & (DIGIT | ALPHA)) === 0 && c !== TILDE && c !== CARET;
}

/**
 * rpm 4.18's rpmvercmp (rpmio/rpmvercmp.c) on `a[aStart, aEnd)` and `b[bStart, bEnd)`, step by
 * step: skip separators; `~` sorts before anything, even the end; `^` sorts after the end but
 * before anything else; then compare one all-digit or all-letter segment of each side, where a
 * numeric segment beats a letter one, numbers compare without leading zeros by length and then
 * digit by digit (no overflow for any length), letters compare as strcmp does.
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
  while (one < aEnd || two < bEnd) {
    while (one < aEnd && isSeparator(a.charCodeAt(one))) one++;
    while (two < bEnd && isSeparator(b.charCodeAt(two))) two++;
    const c1 = one < aEnd ? a.charCodeAt(one) : 0;
    const c2 = two < bEnd ? b.charCodeAt(two) : 0;

    if (c1 === TILDE || c2 === TILDE) {
      if (c1 !== TILDE) return 1;
      if (c2 !== TILDE) return -1;
      one++;
      two++;
      continue;
    }

    // '^' is like '~', except that the side which has ended (the base version) is older.
    if (c1 === CARET || c2 === CARET) {
      if (one >= aEnd) return -1;
      if (two >= bEnd) return 1;
      if (c1 !== CARET) return 1;
      if (c2 !== CARET) return -1;
      one++;
      two++;
      continue;
    }

    if (one >= aEnd || two >= bEnd) break;

    let end1 = one;
    let end2 = two;
    const isNumeric = isDigit(c1);
    if (isNumeric) {
      while (end1 < aEnd && isDigit(a.charCodeAt(end1))) end1++;
      while (end2 < bEnd && isDigit(b.charCodeAt(end2))) end2++;
    } else {
      while (end1 < aEnd && isAlpha(a.charCodeAt(end1))) end1++;
      while (end2 < bEnd && isAlpha(b.charCodeAt(end2))) end2++;
    }

    // Segments of different types: the numeric one is newer (rpm bugzilla #50977).
    if (two === end2) return isNumeric ? 1 : -1;

    if (isNumeric) {
      while (one < end1 && a.charCodeAt(one) === ZERO) one++;
      while (two < end2 && b.charCodeAt(two) === ZERO) two++;
      const len1 = end1 - one;
      const len2 = end2 - two;
      if (len1 > len2) return 1;
      if (len2 > len1) return -1;
    }

    // strcmp of the two segments
    while (one < end1 && two < end2) {
      const d = a.charCodeAt(one) - b.charCodeAt(two);
      if (d !== 0) return d < 0 ? -1 : 1;
      one++;
      two++;
    }
    if (one < end1) return 1;
    if (two < end2) return -1;
  }

  if (one >= aEnd && two >= bEnd) return 0;
  return one >= aEnd ? -1 : 1;
}

/**
 * rpm's segment comparison `rpmvercmp(a, b)` (rpm 4.18, rpmio/rpmvercmp.c) of two version or
 * release strings: -1, 0 or 1. It accepts any string, as rpm does; only use it on one part of an
 * EVR (use `rpm.compare` for whole `[epoch:]version[-release]` strings). A NUL character is an
 * ordinary separator here, where C would stop at it.
 */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  return vercmpRange(a, 0, a.length, b, 0, b.length);
}

// Where the last scan found the epoch colon and the release hyphen (-1: none), and the offending
// character. Module state so that compare() allocates nothing; every scan overwrites all three.
let scanColon = -1;
let scanDash = -1;
let scanBad = -1;

/**
 * Checks `text` as an `[epoch:]version[-release]` string that rpm could carry for a package or a
 * versioned dependency: rpmbuild's dependency rules (build/parseReqs.c: one `:` and one `-` at
 * most, an unsigned integer epoch, only ASCII letters, digits and `._+%{}~^` besides them, no
 * `..`) plus its tag rules (Epoch at most 4294967295, Version and Release not empty).
 * Returns an error code and leaves the separator positions in scanColon/scanDash.
 */
function scanEvr(text: string): number {
  const n = text.length;
  scanColon = -1;
  scanDash = -1;
  scanBad = -1;
  if (n === 0) return E_EMPTY;
  let dot = false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === COLON) {
      if (scanColon >= 0) return E_DOUBLE_COLON;
      scanColon = i;
    } else if (c === DASH) {
      if (scanDash >= 0) return E_DOUBLE_DASH;
      scanDash = i;
    } else if (c >= 128 || CLASS[c] === 0) {
      scanBad = i;
      return E_ILLEGAL_CHAR;
    } else if (c === DOT && i > 0 && text.charCodeAt(i - 1) === DOT) {
      dot = true;
    }
  }
  const versionStart = scanColon + 1;
  if (scanColon >= 0) {
    if (scanColon === 0) return E_EPOCH_EMPTY;
    for (let i = 0; i < scanColon; i++) if (!isDigit(text.charCodeAt(i))) return E_EPOCH_NOT_NUMERIC;
    let first = 0;
    while (first < scanColon - 1 && text.charCodeAt(first) === ZERO) first++;
    const len = scanColon - first;
    if (len > EPOCH_MAX.length) return E_EPOCH_TOO_BIG;
    if (len === EPOCH_MAX.length && text.slice(first, scanColon) > EPOCH_MAX) return E_EPOCH_TOO_BIG;
  }
  const versionEnd = scanDash >= 0 ? scanDash : n;
  if (versionEnd <= versionStart) return E_VERSION_EMPTY;
  if (scanDash >= 0 && scanDash === n - 1) return E_RELEASE_EMPTY;
  if (dot) return E_DOUBLE_DOT;
  return OK;
}

function describe(text: string, code: number): InvalidVersionError {
  let detail = DETAILS[code]!;
  if (code === E_ILLEGAL_CHAR) {
    const c = text.charCodeAt(scanBad);
    const shown =
      c >= 0x20 && c < 0x7f ? `'${text[scanBad]}'` : `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
    detail = `Illegal char ${shown} at offset ${scanBad} (only ASCII letters, digits and ._+%{}~^ besides one ':' and one '-')`;
  }
  return new InvalidVersionError('rpm', text, RULES[code]!, detail);
}

/** Null when `text` is a valid rpm EVR; otherwise the error naming the rule it breaks. Never throws. */
export function checkRpmVersion(text: string): InvalidVersionError | null {
  const code = scanEvr(text);
  return code === OK ? null : describe(text, code);
}

/**
 * Splits `[epoch:]version[-release]` (epoch 0 when absent, release null when absent).
 * Throws InvalidVersionError when `text` is not a valid rpm EVR (see `checkRpmVersion`).
 */
export function parseRpmEvr(text: string): RpmEvr {
  const code = scanEvr(text);
  if (code !== OK) throw describe(text, code);
  return splitScanned(text);
}

/** Like `parseRpmEvr`, but null instead of throwing. */
export function tryParseRpmEvr(text: string): RpmEvr | null {
  return scanEvr(text) === OK ? splitScanned(text) : null;
}

function splitScanned(text: string): RpmEvr {
  const colon = scanColon;
  const dash = scanDash;
  return {
    epoch: colon < 0 ? 0 : Number(text.slice(0, colon)),
    version: text.slice(colon + 1, dash < 0 ? text.length : dash),
    release: dash < 0 ? null : text.slice(dash + 1),
  };
}

/**
 * python3-rpm's `rpm.labelCompare((e1, v1, r1), (e2, v2, r2))` (python/header-py.c): epochs
 * (missing = "0"), then versions, then releases, each with rpmvercmp; a missing release is older
 * than any release, even an empty one. `*Colon`/`*Dash` are the separator offsets or -1; an
 * epoch colon at offset 0 (empty epoch) means epoch "0", as in rpm's parseEVR.
 */
function labelCompare(
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
  const aVersionEnd = aDash < 0 ? a.length : aDash;
  const bVersionEnd = bDash < 0 ? b.length : bDash;
  rc = vercmpRange(a, aColon + 1, aVersionEnd, b, bColon + 1, bVersionEnd);
  if (rc !== 0) return rc;
  if (aDash < 0) return bDash < 0 ? 0 : -1;
  if (bDash < 0) return 1;
  return vercmpRange(a, aDash + 1, a.length, b, bDash + 1, b.length);
}

/**
 * Orders two rpm EVR strings as `rpm.labelCompare` orders their (epoch, version, release)
 * tuples: -1, 0 or 1. Throws InvalidVersionError when either is not a valid rpm EVR.
 */
export function compareRpmVersions(a: string, b: string): number {
  let code = scanEvr(a);
  if (code !== OK) throw describe(a, code);
  const aColon = scanColon;
  const aDash = scanDash;
  code = scanEvr(b);
  if (code !== OK) throw describe(b, code);
  return labelCompare(a, aColon, aDash, b, scanColon, scanDash);
}

/**
 * The lenient comparison: splits each string as rpm's own parser does (lib/rpmver.c parseEVR:
 * an epoch only when leading digits are followed by `:`, an empty one meaning 0; the release
 * after the last `-`), then orders the tuples as `rpm.labelCompare`. Accepts any string, like
 * rpm; on valid EVRs it equals `compareRpmVersions`.
 */
export function compareRpmVersionsLenient(a: string, b: string): number {
  if (a === b) return 0;
  return labelCompare(a, epochColon(a), a.lastIndexOf('-'), b, epochColon(b), b.lastIndexOf('-'));
}

/** parseEVR's epoch terminator: the `:` right after the leading digits, or -1. */
function epochColon(text: string): number {
  let i = 0;
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  return i < text.length && text.charCodeAt(i) === COLON ? i : -1;
}
