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
    // The non-digit run: a digit or the end orders as 0 and every other character does not, so
    // equal orders other than 0 mean the same character, and two zeros end the run on both sides.
    for (;;) {
      const oa = ia < ea ? ORDER[a.charCodeAt(ia)]! : 0;
      const ob = ib < eb ? ORDER[b.charCodeAt(ib)]! : 0;
      if (oa !== ob) return oa < ob ? -1 : 1;
      if (oa === 0) break;
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
  const order = compareFast(a, 0, a.length, b, 0, b.length);
  return order !== SLOW ? order : compareDebVersionsByScan(a, b);
}

/**
 * {@link compareDebVersions} of `a.slice(aStart, aEnd)` and `b.slice(bStart, bEnd)`, without
 * making those strings: for a caller holding many versions in one string, such as the lines of
 * `patchwarden vercmp --batch`. The same order and the same errors (an InvalidVersionError names
 * the slice, offsets counted from its start). Throws RangeError unless
 * `0 <= aStart <= aEnd <= a.length` and the same for b.
 */
export function compareDebVersionRanges(
  a: string,
  aStart: number,
  aEnd: number,
  b: string,
  bStart: number,
  bEnd: number,
): number {
  // Negated, so that NaN fails too.
  if (
    !(aStart >= 0 && aStart <= aEnd && aEnd <= a.length && bStart >= 0 && bStart <= bEnd && bEnd <= b.length)
  ) {
    throw new RangeError(
      `compareDebVersionRanges: bad range [${aStart}, ${aEnd}) of ${a.length} or [${bStart}, ${bEnd}) of ${b.length}`,
    );
  }
  const order = compareFast(a, aStart, aEnd, b, bStart, bEnd);
  return order !== SLOW ? order : compareDebVersionsByScan(a.slice(aStart, aEnd), b.slice(bStart, bEnd));
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

// --- The fast path: one pass over both strings, then compare from where they part -------------

/** compareFast()'s answer when it cannot decide: the input needs compareDebVersionsByScan(). */
const SLOW = 2;
// What the checking pass needs to know of a UTF-16 code unit: 0 allowed anywhere (alphanumerics
// and `.+~`), 1 a hyphen, 2 a colon, 3 anything else (blanks too: the fast path leaves trimming to
// scan()). All 65536 of them, so that the pass needs no range check.
const KIND = new Uint8Array(65536).fill(3);
for (let c = 0; c < 128; c++) KIND[c] = c === 45 ? 1 : c === 58 ? 2 : CLASS[c] === 3 ? 0 : 3;
// Where the pass last saw each kind in `a` and in `b`, indexed by kind (slot 0 is scratch): a store
// at an index instead of a branch on the kind keeps the loop free of unpredictable branches.
const LAST_A = new Int32Array(4);
const LAST_B = new Int32Array(4);

// The epoch that epochEnd() last read.
let fEpoch = 0;

/**
 * -1, 0 or 1 when both `a[as..ae)` and `b[bs..be)` are valid versions with no blanks and an epoch,
 * if any, of at most 10 plain digits; SLOW for anything else, valid or not: scan() decides those.
 * Reads each character once to check it and find the common prefix, then compares from the
 * first difference, where the order is decided.
 */
function compareFast(a: string, as: number, ae: number, b: string, bs: number, be: number): number {
  const la = ae - as;
  const lb = be - bs;
  const n = Math.min(la, lb);
  LAST_A[1] = -1;
  LAST_A[2] = -1;
  LAST_A[3] = -1;
  LAST_B[1] = -1;
  LAST_B[2] = -1;
  LAST_B[3] = -1;
  // k, the length of the common prefix, grows while k === i and the characters agree: arithmetic
  // rather than a branch that would be mispredicted where the strings part.
  let k = 0;
  let i = 0;
  for (; i < n; i++) {
    const ca = a.charCodeAt(as + i);
    const cb = b.charCodeAt(bs + i);
    LAST_A[KIND[ca]!] = i;
    LAST_B[KIND[cb]!] = i;
    k += (((ca ^ cb) | (k ^ i)) - 1) >>> 31;
  }
  for (let j = i; j < la; j++) LAST_A[KIND[a.charCodeAt(as + j)]!] = j;
  for (let j = i; j < lb; j++) LAST_B[KIND[b.charCodeAt(bs + j)]!] = j;
  if (n === 0 || LAST_A[3]! >= 0 || LAST_B[3]! >= 0) return SLOW;
  if (!isDigit(a.charCodeAt(as)) || !isDigit(b.charCodeAt(bs))) return SLOW;

  // The upstream ends and the revision starts at the last hyphen. A revision can be neither empty
  // nor hold a colon.
  const hyphenA = LAST_A[1]!;
  const hyphenB = LAST_B[1]!;
  const colonA = LAST_A[2]!;
  const colonB = LAST_B[2]!;
  let upEndA = la;
  let revA = la;
  if (hyphenA >= 0) {
    if (hyphenA === la - 1 || colonA > hyphenA) return SLOW;
    upEndA = hyphenA;
    revA = hyphenA + 1;
  }
  let upEndB = lb;
  let revB = lb;
  if (hyphenB >= 0) {
    if (hyphenB === lb - 1 || colonB > hyphenB) return SLOW;
    upEndB = hyphenB;
    revB = hyphenB + 1;
  }
  let upA = 0;
  let upB = 0;
  if (colonA >= 0 || colonB >= 0) {
    let epochA = 0;
    let epochB = 0;
    if (colonA >= 0) {
      upA = epochEnd(a, as, la);
      if (upA < 0) return SLOW;
      epochA = fEpoch;
    }
    if (colonB >= 0) {
      upB = epochEnd(b, bs, lb);
      if (upB < 0) return SLOW;
      epochB = fEpoch;
    }
    if (epochA !== epochB) return epochA < epochB ? -1 : 1;
  }

  // The strings agree on their first k characters, and so do two parts that start at the same
  // place, up to the first end. (An epoch written two ways, `1:` and `01:` or `0:` and none, makes
  // the upstreams start at different places; hyphens at different places, the revisions.) Each
  // part is compared by one call, with no branch of its own: a path that no input took before
  // the JIT compiled this function would throw the compiled code away when first taken.
  const isSameStart = upA === upB && k >= upA;
  if (!isSameStart || upEndA !== upEndB || k < upEndA) {
    const common = isSameStart ? Math.min(k, upEndA, upEndB) - upA : 0;
    const order = compareFrom(a, as + upA, as + upEndA, b, bs + upB, bs + upEndB, common);
    if (order !== 0) return order;
  }
  const common = revA === revB && k >= revA ? k - revA : 0;
  return compareFrom(a, as + revA, ae, b, bs + revB, be, common);
}

/**
 * Where the upstream of `s[start..start+len)` starts when its epoch (before the first colon) is a
 * run of 1 to 10 digits up to INT_MAX and a digit follows the colon, setting fEpoch; else -1.
 */
function epochEnd(s: string, start: number, len: number): number {
  let epoch = 0;
  let p = 0;
  for (; p < len; p++) {
    const c = s.charCodeAt(start + p);
    if (!isDigit(c)) break;
    epoch = epoch * 10 + (c - 48);
  }
  if (p === 0 || p > 10 || epoch > INT_MAX || s.charCodeAt(start + p) !== 58) return -1;
  if (p + 1 >= len || !isDigit(s.charCodeAt(start + p + 1))) return -1;
  fEpoch = epoch;
  return p + 1;
}

/**
 * verrevcmp() of two valid parts, `a[ia..ea)` and `b[ib..eb)`, that agree on their first k
 * characters at least. Where they first differ, the order is decided within the digit run that
 * holds that place (so the comparison can start at that run's start) or the non-digit run
 * (compared character by character, so it can start right there). When k is exactly where they
 * differ, the usual cases are decided here without verrevcmp(); it takes the rest, from one call.
 */
function compareFrom(
  a: string,
  ia: number,
  ea: number,
  b: string,
  ib: number,
  eb: number,
  k: number,
): number {
  // The characters at k, or 0 at the end: a valid part holds no NUL.
  const x = k < ea - ia ? a.charCodeAt(ia + k) : 0;
  const y = k < eb - ib ? b.charCodeAt(ib + k) : 0;
  if (x === y && k === ea - ia && k === eb - ib) return 0;
  let run = k;
  let isRunNonZero = false;
  while (run > 0) {
    const c = a.charCodeAt(ia + run - 1);
    if (!isDigit(c)) break;
    if (c !== 48) isRunNonZero = true;
    run--;
  }
  if (x !== y) {
    const isDigitX = isDigit(x);
    const isDigitY = isDigit(y);
    // Both runs of digits, if any, ended with the same digits: two different non-digits (or a
    // non-digit and the end) decide.
    if (!isDigitX && !isDigitY) return ORDER[x]! < ORDER[y]! ? -1 : 1;
    // Both go on with digits and no leading zeros are left to skip: the longer run is the larger
    // number, and at equal lengths the first different digit, here, decides.
    if (isDigitX && isDigitY && (isRunNonZero || (run === k && x !== 48 && y !== 48))) {
      let endX = ia + k + 1;
      while (endX < ea && isDigit(a.charCodeAt(endX))) endX++;
      let endY = ib + k + 1;
      while (endY < eb && isDigit(b.charCodeAt(endY))) endY++;
      if (endX - ia !== endY - ib) return endX - ia > endY - ib ? 1 : -1;
      return x < y ? -1 : 1;
    }
  }
  return verrevcmp(a, ia + run, ea, b, ib + run, eb);
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
