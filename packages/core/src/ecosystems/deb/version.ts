import { InvalidVersionError } from '../../errors.js';

/**
 * A dpkg version split as dpkg's `parseversion()` (lib/dpkg/parsehelp.c) splits it.
 * `upstream` and `revision` are slices of the input after leading and trailing blanks are
 * trimmed; `revision` is `''` for a native version (no `-`), which orders like `'0'`.
 */
export interface DebVersion {
  /** 0 when the version has none; an integer in 0..2147483647 (dpkg keeps it in an `int`). */
  epoch: number;
  /** Between the epoch colon and the last hyphen. Never empty, starts with a digit. */
  upstream: string;
  /** After the last hyphen, or `''` when there is no hyphen. */
  revision: string;
}

/** Short stable names of the dpkg version rules, used as `InvalidVersionError.rule`. */
export type DebVersionRule =
  | 'empty'
  | 'embedded-space'
  | 'epoch-empty'
  | 'epoch-not-numeric'
  | 'epoch-negative'
  | 'epoch-too-big'
  | 'nothing-after-colon'
  | 'revision-empty'
  | 'upstream-empty'
  | 'upstream-not-digit'
  | 'illegal-character';

const OK = 0;
const RULES: readonly DebVersionRule[] = [
  'empty', // placeholder for OK, never reported
  'empty',
  'embedded-space',
  'epoch-empty',
  'epoch-not-numeric',
  'epoch-negative',
  'epoch-too-big',
  'nothing-after-colon',
  'revision-empty',
  'upstream-empty',
  'upstream-not-digit',
  'illegal-character',
  'illegal-character',
];
const E_EMPTY = 1;
const E_EMBEDDED_SPACE = 2;
const E_EPOCH_EMPTY = 3;
const E_EPOCH_NOT_NUMERIC = 4;
const E_EPOCH_NEGATIVE = 5;
const E_EPOCH_TOO_BIG = 6;
const E_NOTHING_AFTER_COLON = 7;
const E_REVISION_EMPTY = 8;
const E_UPSTREAM_EMPTY = 9;
const E_UPSTREAM_NOT_DIGIT = 10;
const E_UPSTREAM_CHAR = 11;
const E_REVISION_CHAR = 12;

/** dpkg's messages, so that an error reads like `dpkg --compare-versions` would. */
const DETAILS: readonly string[] = [
  '',
  'version string is empty',
  'version string has embedded spaces',
  'epoch in version is empty',
  'epoch in version is not number',
  'epoch in version is negative',
  'epoch in version is too big (more than 2147483647)',
  'nothing after colon in version number',
  'revision number is empty',
  'version number is empty',
  'version number does not start with digit',
  'invalid character in version number',
  'invalid character in revision number',
];

const INT_MAX = 2147483647;

// Character classes for the ASCII range; anything above 127 is illegal (dpkg uses the C locale's
// c_isalnum). Bit 1: allowed in upstream (alnum and `.-+~:`); bit 2: allowed in revision (alnum
// and `.+~`); bit 4: c_isblank (space, tab), which dpkg trims and rejects inside a version.
const CLASS = new Uint8Array(128);
// verrevcmp's order(): digits and the end of the string (looked up as code 0) 0, letters their
// code, `~` -1 (before everything, even the end), any other character its code + 256.
const ORDER = new Int16Array(128);
for (let c = 0; c < 128; c++) {
  const isDigit = c >= 48 && c <= 57;
  const isAlpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  if (isDigit || isAlpha || c === 46 || c === 43 || c === 126) CLASS[c] = 3;
  if (c === 45 || c === 58) CLASS[c] = 1;
  if (c === 32 || c === 9) CLASS[c] = 4;
  ORDER[c] = isDigit || c === 0 ? 0 : isAlpha ? c : c === 126 ? -1 : c + 256;
}

// The result of the last scan(), kept in module scope so that compare() allocates nothing.
let sEpoch = 0;
let sUpStart = 0;
let sUpEnd = 0;
let sRevStart = 0;
let sEnd = 0;
let sBadAt = -1;

/**
 * Validates `s` as dpkg's parseversion() does and records where its parts are. Returns OK or the
 * code of the first rule broken, checking the rules in dpkg's order.
 */
function scan(s: string): number {
  const len = s.length;
  let start = 0;
  while (start < len && isBlank(s.charCodeAt(start))) start++;
  if (start === len) return E_EMPTY;

  // One pass over the non-blank run: first colon, last hyphen and colon, first illegal character.
  let firstColon = -1;
  let lastColon = -1;
  let lastHyphen = -1;
  let badAt = -1;
  let end = start;
  for (; end < len; end++) {
    const c = s.charCodeAt(end);
    const cls = c < 128 ? CLASS[c]! : 0;
    if (cls === 4) break;
    if (cls === 0) {
      if (badAt < 0) badAt = end;
    } else if (c === 58) {
      if (firstColon < 0) firstColon = end;
      lastColon = end;
    } else if (c === 45) {
      lastHyphen = end;
    }
  }
  for (let p = end; p < len; p++) {
    if (!isBlank(s.charCodeAt(p))) return E_EMBEDDED_SPACE;
  }

  let upStart = start;
  let epoch = 0;
  if (firstColon >= 0) {
    // strtol(): optional C-locale white space (blanks are already trimmed), a sign, then digits.
    let p = start;
    while (p < firstColon && isCSpace(s.charCodeAt(p))) p++;
    let isNegative = false;
    const sign = s.charCodeAt(p);
    if (p < firstColon && (sign === 43 || sign === 45)) {
      isNegative = sign === 45;
      p++;
    }
    const digitsStart = p;
    while (p < firstColon && isDigit(s.charCodeAt(p))) p++;
    if (p === digitsStart) return E_EPOCH_EMPTY;
    if (p !== firstColon) return E_EPOCH_NOT_NUMERIC;
    let q = digitsStart;
    while (q < p && s.charCodeAt(q) === 48) q++;
    if (isNegative && q < p) return E_EPOCH_NEGATIVE;
    if (p - q > 10) return E_EPOCH_TOO_BIG;
    for (; q < p; q++) epoch = epoch * 10 + (s.charCodeAt(q) - 48);
    if (epoch > INT_MAX) return E_EPOCH_TOO_BIG;
    // dpkg looks at the raw string here, so "1: " passes this check and fails the next one.
    if (firstColon + 1 === len) return E_NOTHING_AFTER_COLON;
    upStart = firstColon + 1;
    if (badAt >= 0 && badAt < upStart) {
      badAt = -1;
      for (let i = upStart; i < end; i++) {
        const c = s.charCodeAt(i);
        if (c >= 128 || CLASS[c] === 0) {
          badAt = i;
          break;
        }
      }
    }
  }

  let upEnd = end;
  let revStart = end;
  if (lastHyphen >= upStart) {
    if (lastHyphen === end - 1) return E_REVISION_EMPTY;
    upEnd = lastHyphen;
    revStart = lastHyphen + 1;
  }
  if (upStart >= upEnd) return E_UPSTREAM_EMPTY;
  if (!isDigit(s.charCodeAt(upStart))) return E_UPSTREAM_NOT_DIGIT;
  if (badAt >= 0 && badAt < upEnd) {
    sBadAt = badAt;
    return E_UPSTREAM_CHAR;
  }
  if (badAt >= 0 || lastColon >= revStart) {
    // Only alphanumerics and `.+~` are left for the revision: a colon here is illegal too.
    for (let i = revStart; i < end; i++) {
      const c = s.charCodeAt(i);
      if (c >= 128 || (CLASS[c]! & 2) === 0) {
        sBadAt = i;
        break;
      }
    }
    return E_REVISION_CHAR;
  }

  sEpoch = epoch;
  sUpStart = upStart;
  sUpEnd = upEnd;
  sRevStart = revStart;
  sEnd = end;
  return OK;
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/** C isspace() in the C locale: space, \t, \n, \v, \f, \r. */
function isCSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function toError(input: string, code: number): InvalidVersionError {
  let detail = DETAILS[code]!;
  if (code === E_UPSTREAM_CHAR || code === E_REVISION_CHAR) {
    detail += ` (${JSON.stringify(input.charAt(sBadAt))} at offset ${sBadAt})`;
  }
  return new InvalidVersionError('deb', input, RULES[code]!, detail);
}

/**
 * dpkg's verrevcmp() (lib/dpkg/version.c) over `a[ia..ea)` and `b[ib..eb)`: alternating runs of
 * non-digits, compared character by character with order(), and digits, compared as numbers of
 * any length (leading zeros skipped, then the longer run wins, then the first differing digit).
 */
function verrevcmp(a: string, ia: number, ea: number, b: string, ib: number, eb: number): number {
  while (ia < ea || ib < eb) {
    for (;;) {
      const ca = ia < ea ? a.charCodeAt(ia) : 0;
      const cb = ib < eb ? b.charCodeAt(ib) : 0;
      const isNonDigitA = ia < ea && !isDigit(ca);
      const isNonDigitB = ib < eb && !isDigit(cb);
      if (!isNonDigitA && !isNonDigitB) break;
      // A digit or the end orders as 0, so a side that is not in its non-digit run stops here.
      const oa = ORDER[ca]!;
      const ob = ORDER[cb]!;
      if (oa !== ob) return oa < ob ? -1 : 1;
      ia++;
      ib++;
    }
    while (ia < ea && a.charCodeAt(ia) === 48) ia++;
    while (ib < eb && b.charCodeAt(ib) === 48) ib++;
    let firstDiff = 0;
    while (ia < ea && ib < eb) {
      const ca = a.charCodeAt(ia);
      const cb = b.charCodeAt(ib);
      if (!isDigit(ca) || !isDigit(cb)) break;
      if (firstDiff === 0) firstDiff = ca - cb;
      ia++;
      ib++;
    }
    if (ia < ea && isDigit(a.charCodeAt(ia))) return 1;
    if (ib < eb && isDigit(b.charCodeAt(ib))) return -1;
    if (firstDiff !== 0) return firstDiff < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * Orders two dpkg versions exactly as `dpkg --compare-versions` does: epoch as a number, then
 * upstream, then revision with verrevcmp(). Returns -1, 0 or 1. Leading and trailing blanks are
 * ignored, as dpkg ignores them. Throws InvalidVersionError when either is invalid (see
 * {@link checkDebVersion}). Allocates nothing when both are valid.
 */
export function compareDebVersions(a: string, b: string): number {
  const order = compareFast(a, b);
  return order !== SLOW ? order : compareDebVersionsByScan(a, b);
}

/**
 * The same order as {@link compareDebVersions}, by the plain route: validate each string with
 * scan(), then compare. compareDebVersions takes it for whatever its fast path leaves (blanks,
 * long or signed epochs, anything invalid); exported so that tests can hold the two together.
 */
export function compareDebVersionsByScan(a: string, b: string): number {
  let code = scan(a);
  if (code !== OK) throw toError(a, code);
  const aEpoch = sEpoch;
  const aUpStart = sUpStart;
  const aUpEnd = sUpEnd;
  const aRevStart = sRevStart;
  const aEnd = sEnd;
  code = scan(b);
  if (code !== OK) throw toError(b, code);
  if (aEpoch !== sEpoch) return aEpoch < sEpoch ? -1 : 1;
  const byUpstream = verrevcmp(a, aUpStart, aUpEnd, b, sUpStart, sUpEnd);
  if (byUpstream !== 0) return byUpstream;
  return verrevcmp(a, aRevStart, aEnd, b, sRevStart, sEnd);
}

// --- The fast path: one pass over each string to check it, then compare -----------------------

/** compareFast()'s answer when it cannot decide: the input needs compareDebVersionsByScan(). */
const SLOW = 2;
// What the checking pass needs to know of a character: 0 allowed anywhere (alnum and `.+~`),
// 1 a hyphen, 2 a colon, 3 anything else (blanks too: the fast path leaves trimming to scan()).
const KIND = new Uint8Array(128);
for (let c = 0; c < 128; c++) KIND[c] = c === 45 ? 1 : c === 58 ? 2 : CLASS[c] === 3 ? 0 : 3;

// The parts of the string that checkFast() last accepted.
let fEpoch = 0;
let fUpStart = 0;
let fUpEnd = 0;

/**
 * True when `s` is a valid version with no blanks and an epoch, if any, of plain digits; sets
 * fEpoch, fUpStart and fUpEnd (the last hyphen, or the length). False for anything else, valid
 * or not: scan() decides those.
 */
function checkFast(s: string): boolean {
  const len = s.length;
  let lastHyphen = -1;
  let lastColon = -1;
  let i = 0;
  for (; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c > 127) return false;
    const kind = KIND[c]!;
    if (kind !== 0) {
      if (kind === 1) lastHyphen = i;
      else if (kind === 2) lastColon = i;
      else return false;
    }
  }
  if (!isDigit(s.charCodeAt(0))) return false;
  let upStart = 0;
  let epoch = 0;
  if (lastColon >= 0) {
    // The first colon must end a run of digits at the start: that is the epoch.
    i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (!isDigit(c)) break;
      epoch = epoch * 10 + (c - 48);
    }
    if (s.charCodeAt(i) !== 58 || i > 10 || epoch > INT_MAX) return false;
    upStart = i + 1;
    if (!isDigit(s.charCodeAt(upStart))) return false;
  }
  let upEnd = len;
  if (lastHyphen >= 0) {
    // A revision can be neither empty nor hold a colon.
    if (lastHyphen === len - 1 || lastColon > lastHyphen) return false;
    upEnd = lastHyphen;
  }
  fEpoch = epoch;
  fUpStart = upStart;
  fUpEnd = upEnd;
  return true;
}

/**
 * -1, 0 or 1 when both versions pass checkFast(); SLOW otherwise, valid or not. Reads each
 * character once to check it, then the common prefix of the two and what comes after it.
 */
function compareFast(a: string, b: string): number {
  if (!checkFast(a)) return SLOW;
  const epochA = fEpoch;
  const upA = fUpStart;
  const upEndA = fUpEnd;
  // Equal text is a valid version too; the engine compares strings natively.
  if (a === b) return 0;
  if (!checkFast(b)) return SLOW;
  if (epochA !== fEpoch) return epochA < fEpoch ? -1 : 1;
  const upB = fUpStart;
  const upEndB = fUpEnd;
  const byUpstream = compareAfterPrefix(a, upA, upEndA, b, upB, upEndB);
  if (byUpstream !== 0) return byUpstream;
  const la = a.length;
  const lb = b.length;
  return compareAfterPrefix(a, upEndA < la ? upEndA + 1 : la, la, b, upEndB < lb ? upEndB + 1 : lb, lb);
}

/**
 * verrevcmp() of two valid parts, skipping their common prefix first: the order is decided at
 * the first difference, within the digit run it falls in (so the comparison restarts at that run's
 * start) or the non-digit run (compared character by character, so it restarts right there).
 */
function compareAfterPrefix(a: string, ia: number, ea: number, b: string, ib: number, eb: number): number {
  const n = Math.min(ea - ia, eb - ib);
  let k = 0;
  while (k < n && a.charCodeAt(ia + k) === b.charCodeAt(ib + k)) k++;
  if (k === n && ea - ia === eb - ib) return 0;
  while (k > 0 && isDigit(a.charCodeAt(ia + k - 1))) k--;
  return verrevcmp(a, ia + k, ea, b, ib + k, eb);
}

/**
 * Null when `text` is a valid dpkg version, else the error naming the first rule it breaks, in
 * the order dpkg's parseversion() checks them. Stricter than `dpkg --compare-versions` in two
 * rules that dpkg only warns about there (and rejects in control files): 'upstream-not-digit'
 * and 'illegal-character'. Never throws.
 */
export function checkDebVersion(text: string): InvalidVersionError | null {
  const code = scan(text);
  return code === OK ? null : toError(text, code);
}

/** The parts of a valid dpkg version. Throws InvalidVersionError when `text` is invalid. */
export function parseDebVersion(text: string): DebVersion {
  const code = scan(text);
  if (code !== OK) throw toError(text, code);
  return {
    epoch: sEpoch,
    upstream: text.slice(sUpStart, sUpEnd),
    revision: text.slice(sRevStart, sEnd),
  };
}

/** Like {@link parseDebVersion}, but null instead of throwing. */
export function tryParseDebVersion(text: string): DebVersion | null {
  return scan(text) === OK ? parseDebVersion(text) : null;
}
