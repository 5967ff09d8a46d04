import { InvalidVersionError } from '../../errors.js';

/**
 * An apk version that apk-tools' `apk_version_validate` accepts (and that is not empty), e.g.
 * `1.2.3_rc1-r0`.
 */
export type ApkVersion = string & { readonly __brand: 'ApkVersion' };

// Token types of apk-tools 2.x src/version.c, in its order: a token may only be followed by a
// token of the same or a later type, with the three exceptions in nextToken().
const TOKEN_INVALID = -1;
const TOKEN_DIGIT_OR_ZERO = 0;
const TOKEN_DIGIT = 1;
const TOKEN_LETTER = 2;
const TOKEN_SUFFIX = 3;
const TOKEN_SUFFIX_NO = 4;
const TOKEN_REVISION_NO = 5;
const TOKEN_END = 6;

// Pre-release suffixes get the values -4..-1 and sort before "no suffix"; the others 0..4.
const PRE_SUFFIXES = ['alpha', 'beta', 'pre', 'rc'] as const;
const POST_SUFFIXES = ['cvs', 'svn', 'git', 'hg', 'p'] as const;

// A run of up to 15 digits is exact as a double; longer runs are compared as text.
const MAX_SAFE_DIGITS = 15;

const CODE_0 = 48;
const CODE_9 = 57;
const CODE_A_LOWER = 97;
const CODE_Z_LOWER = 122;
const CODE_DOT = 46;
const CODE_UNDERSCORE = 95;
const CODE_DASH = 45;
const CODE_R = 114;

type FailReason = 'none' | 'character' | 'order' | 'dash' | 'suffix';

/** Where apk-tools' tokenizer stands in one version string, with the value of the last token read. */
class Cursor {
  text = '';
  pos = 0;
  /** Type of the next token. */
  type = TOKEN_DIGIT;
  /** Value of the last token, unless `bigStart` >= 0: then it is the digit run [bigStart, bigEnd). */
  value = 0;
  bigStart = -1;
  bigEnd = -1;
  failReason: FailReason = 'none';
  failPos = -1;
  failAfter = TOKEN_DIGIT;

  reset(text: string): this {
    this.text = text;
    this.pos = 0;
    this.type = TOKEN_DIGIT;
    this.value = 0;
    this.bigStart = -1;
    this.failReason = 'none';
    return this;
  }
}

// compare() is synchronous and not re-entrant, so two cursors serve every call without allocating.
const left = new Cursor();
const right = new Cursor();

function isDigit(code: number): boolean {
  return code >= CODE_0 && code <= CODE_9;
}

function isLower(code: number): boolean {
  return code >= CODE_A_LOWER && code <= CODE_Z_LOWER;
}

/** next_token(): the type of the token at `pos`, consuming the separator ('.', '_', '-r') if any. */
function nextToken(c: Cursor): void {
  const { text } = c;
  const start = c.pos;
  let n = TOKEN_INVALID;
  let reason: FailReason = 'character';
  // A NUL ends a C string, and with it the version.
  const code = start < text.length ? text.charCodeAt(start) : 0;
  if (code === 0) {
    n = TOKEN_END;
  } else if ((c.type === TOKEN_DIGIT || c.type === TOKEN_DIGIT_OR_ZERO) && isLower(code)) {
    n = TOKEN_LETTER;
  } else if (c.type === TOKEN_LETTER && isDigit(code)) {
    n = TOKEN_DIGIT;
  } else if (c.type === TOKEN_SUFFIX && isDigit(code)) {
    n = TOKEN_SUFFIX_NO;
  } else {
    if (code === CODE_DOT) {
      n = TOKEN_DIGIT_OR_ZERO;
    } else if (code === CODE_UNDERSCORE) {
      n = TOKEN_SUFFIX;
    } else if (code === CODE_DASH) {
      if (start + 1 < text.length && text.charCodeAt(start + 1) === CODE_R) {
        n = TOKEN_REVISION_NO;
        c.pos++;
      } else {
        reason = 'dash';
      }
    } else if (isLower(code) || isDigit(code)) {
      reason = 'order';
    }
    c.pos++;
  }
  // A token may not go back to an earlier type, except '.' after a digit, '_' after a suffix
  // number and a digit after a letter.
  if (
    n < c.type &&
    !(
      (n === TOKEN_DIGIT_OR_ZERO && c.type === TOKEN_DIGIT) ||
      (n === TOKEN_SUFFIX && c.type === TOKEN_SUFFIX_NO) ||
      (n === TOKEN_DIGIT && c.type === TOKEN_LETTER)
    )
  ) {
    if (n !== TOKEN_INVALID) reason = 'order';
    n = TOKEN_INVALID;
  }
  if (n === TOKEN_INVALID) {
    c.failReason = reason;
    c.failPos = start;
    c.failAfter = c.type;
  }
  c.type = n;
}

/** Reads the digit run at `pos` (possibly empty) into the cursor's value. */
function readDigits(c: Cursor): void {
  const { text } = c;
  const end = text.length;
  let i = c.pos;
  while (i < end && text.charCodeAt(i) === CODE_0) i++;
  const significant = i;
  while (i < end && isDigit(text.charCodeAt(i))) i++;
  if (i - significant > MAX_SAFE_DIGITS) {
    c.value = 0;
    c.bigStart = significant;
    c.bigEnd = i;
  } else {
    let v = 0;
    for (let j = significant; j < i; j++) v = v * 10 + (text.charCodeAt(j) - CODE_0);
    c.value = v;
  }
  c.pos = i;
}

/** Index into PRE_SUFFIXES (negative, counted from its end) or POST_SUFFIXES, or null; sets `length`. */
function matchSuffix(text: string, pos: number): number | null {
  for (let k = 0; k < PRE_SUFFIXES.length; k++) {
    if (text.startsWith(PRE_SUFFIXES[k]!, pos)) return k - PRE_SUFFIXES.length;
  }
  for (let k = 0; k < POST_SUFFIXES.length; k++) {
    if (text.startsWith(POST_SUFFIXES[k]!, pos)) return k;
  }
  return null;
}

function suffixLength(value: number): number {
  return (value < 0 ? PRE_SUFFIXES[value + PRE_SUFFIXES.length]! : POST_SUFFIXES[value]!).length;
}

/** get_token(): reads the token of type `type` at `pos` into the value, then finds the next type. */
function getToken(c: Cursor): void {
  const { text } = c;
  c.bigStart = -1;
  if (c.pos >= text.length) {
    c.type = TOKEN_END;
    c.value = 0;
    return;
  }
  let nextType = TOKEN_INVALID;
  const type = c.type;
  if (type === TOKEN_DIGIT_OR_ZERO && text.charCodeAt(c.pos) === CODE_0) {
    // Leading zeros after a '.' count as a negative number: 1.01 < 1.1 and 1.001 < 1.01.
    const start = c.pos;
    while (c.pos < text.length && text.charCodeAt(c.pos) === CODE_0) c.pos++;
    c.value = start - c.pos;
    nextType = TOKEN_DIGIT;
  } else if (
    type === TOKEN_DIGIT_OR_ZERO ||
    type === TOKEN_DIGIT ||
    type === TOKEN_SUFFIX_NO ||
    type === TOKEN_REVISION_NO
  ) {
    readDigits(c);
  } else if (type === TOKEN_LETTER) {
    c.value = text.charCodeAt(c.pos);
    c.pos++;
  } else if (type === TOKEN_SUFFIX) {
    const suffix = matchSuffix(text, c.pos);
    if (suffix === null) {
      c.failReason = 'suffix';
      c.failPos = c.pos;
      c.failAfter = TOKEN_SUFFIX;
      c.type = TOKEN_INVALID;
      c.value = -1;
      return;
    }
    c.value = suffix;
    c.pos += suffixLength(suffix);
  } else {
    c.type = TOKEN_INVALID;
    c.value = -1;
    return;
  }
  if (c.pos >= text.length) c.type = TOKEN_END;
  else if (nextType !== TOKEN_INVALID) c.type = nextType;
  else nextToken(c);
}

/** Orders the values of the last tokens read by `a` and `b`, exactly, whatever their length. */
function compareValues(a: Cursor, b: Cursor): number {
  if (a.bigStart < 0 && b.bigStart < 0) return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
  // A long run is at least 10^15, above every other value.
  if (b.bigStart < 0) return 1;
  if (a.bigStart < 0) return -1;
  const aLength = a.bigEnd - a.bigStart;
  const bLength = b.bigEnd - b.bigStart;
  if (aLength !== bLength) return aLength < bLength ? -1 : 1;
  for (let i = 0; i < aLength; i++) {
    const d = a.text.charCodeAt(a.bigStart + i) - b.text.charCodeAt(b.bigStart + i);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Whether the suffix at `pos` is a pre-release one or unknown (get_token() < 0 on a peek). */
function isPreOrUnknownSuffixAt(text: string, pos: number): boolean {
  if (pos >= text.length) return false;
  const suffix = matchSuffix(text, pos);
  return suffix === null || suffix < 0;
}

/** apk_version_compare_blob() over two reset cursors; leaves them where the comparison stopped. */
function compareCursors(a: Cursor, b: Cursor): number {
  let r = 0;
  while (a.type === b.type && a.type !== TOKEN_END && a.type !== TOKEN_INVALID && r === 0) {
    getToken(a);
    getToken(b);
    r = compareValues(a, b);
  }
  if (r !== 0) return r;
  if (a.type === b.type) return 0;
  // Equal so far and one goes on: the longer is newer unless it goes on with a pre-release suffix.
  if (a.type === TOKEN_SUFFIX && isPreOrUnknownSuffixAt(a.text, a.pos)) return -1;
  if (b.type === TOKEN_SUFFIX && isPreOrUnknownSuffixAt(b.text, b.pos)) return 1;
  if (a.type > b.type) return -1;
  if (b.type > a.type) return 1;
  return 0;
}

/** Reads the rest of the version; true when apk_version_validate() would accept it. */
function readsToEnd(c: Cursor): boolean {
  while (c.type !== TOKEN_END && c.type !== TOKEN_INVALID) getToken(c);
  // END before the end of the text means a NUL, which a C string cannot carry.
  return c.type === TOKEN_END && c.pos >= c.text.length;
}

/**
 * apk-tools 2.x's order over any two strings, as `apk version -t A B` prints it: `-1`, `0` or
 * `1`. Never throws: versions apk would reject still get the order apk-tools gives them. Digit
 * runs compare by value at any length.
 */
export function compareApkVersionsUnchecked(a: string, b: string): number {
  return compareCursors(left.reset(a), right.reset(b));
}

const TOKEN_NAMES: Record<number, string> = {
  [TOKEN_DIGIT_OR_ZERO]: 'a number',
  [TOKEN_DIGIT]: 'a number',
  [TOKEN_LETTER]: 'a letter',
  [TOKEN_SUFFIX]: 'a suffix',
  [TOKEN_SUFFIX_NO]: 'a suffix number',
  [TOKEN_REVISION_NO]: 'a revision',
};

function describeCharacter(text: string, pos: number): string {
  const code = text.codePointAt(pos) ?? 0;
  const hex = code.toString(16).toUpperCase().padStart(4, '0');
  return code >= 0x20 && code < 0x7f ? `'${String.fromCodePoint(code)}'` : `U+${hex}`;
}

function invalid(text: string, rule: string, detail: string): InvalidVersionError {
  return new InvalidVersionError('apk', text, rule, detail);
}

/**
 * Null when apk-tools' `apk_version_validate` accepts `text` (`apk version --check`), else the
 * error naming the rule: `empty`, `illegal-character`, `unknown-suffix`, `bad-revision` or
 * `token-order`. Stricter than apk-tools only for the empty string and for NUL. Never throws.
 */
export function checkApkVersion(text: string): InvalidVersionError | null {
  if (text.length === 0) return invalid(text, 'empty', 'the version is empty');
  const c = left.reset(text);
  if (readsToEnd(c)) return null;
  if (c.type === TOKEN_END) {
    return invalid(text, 'illegal-character', `NUL at offset ${c.pos}`);
  }
  const at = `at offset ${c.failPos}`;
  const after = TOKEN_NAMES[c.failAfter] ?? 'the start';
  switch (c.failReason) {
    case 'suffix':
      return invalid(
        text,
        'unknown-suffix',
        `'_' must be followed by one of ${[...PRE_SUFFIXES, ...POST_SUFFIXES].join(', ')} ${at}`,
      );
    case 'dash':
      return invalid(text, 'bad-revision', `'-' must start a revision '-r<number>' ${at}`);
    case 'order':
      return invalid(
        text,
        'token-order',
        `${describeCharacter(text, c.failPos)} cannot follow ${after} ${at}; apk versions are ` +
          `digits{.digits}[letter]{_suffix[digits]}[-r<digits>]`,
      );
    default:
      return invalid(
        text,
        'illegal-character',
        `${describeCharacter(text, c.failPos)} ${at} is not one of 0-9 a-z . _ -`,
      );
  }
}

/** The version, branded, when apk-tools accepts it (see checkApkVersion); otherwise null. */
export function parseApkVersion(text: string): ApkVersion | null {
  return text.length > 0 && readsToEnd(left.reset(text)) ? (text as ApkVersion) : null;
}

/**
 * Orders two valid apk versions as apk-tools 2.x does: negative, zero or positive. Throws
 * InvalidVersionError when either is one apk-tools rejects (see checkApkVersion).
 */
export function compareApkVersions(a: string, b: string): number {
  if (a.length === 0 || b.length === 0) throw checkApkVersion(a) ?? checkApkVersion(b)!;
  const r = compareCursors(left.reset(a), right.reset(b));
  if (!readsToEnd(left)) throw checkApkVersion(a)!;
  if (!readsToEnd(right)) throw checkApkVersion(b)!;
  return r;
}
