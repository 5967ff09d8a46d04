import { InvalidVersionError } from '../../errors.js';

/** A SemVer 2.0.0 version split into its parts. Numbers are exact at any length. */
export interface SemVer {
  major: bigint;
  minor: bigint;
  patch: bigint;
  /** Pre-release identifiers, in order; empty for a release. */
  prerelease: string[];
  /** Build metadata identifiers; they play no part in precedence. */
  build: string[];
}

const CODE_0 = 48;
const CODE_9 = 57;
const CODE_DOT = 46;
const CODE_DASH = 45;
const CODE_PLUS = 43;

type Rule = 'empty' | 'leading-v' | 'core-format' | 'leading-zero' | 'empty-identifier' | 'illegal-character';

/** Where the parts of one version string lie, found by one scan; reused across calls. */
class Scan {
  text = '';
  majorEnd = 0;
  minorEnd = 0;
  patchEnd = 0;
  /** Start of the pre-release (after '-'), or -1. */
  preStart = -1;
  /** End of the pre-release: the '+' or the end of the text. */
  preEnd = -1;
  /** Start of the build metadata (after '+'), or -1. */
  buildStart = -1;
  rule: Rule = 'empty';
  failPos = 0;
  detail = '';
}

// compare() is synchronous and not re-entrant, so two scans serve every call without allocating.
const left = new Scan();
const right = new Scan();

function isDigit(code: number): boolean {
  return code >= CODE_0 && code <= CODE_9;
}

/** [0-9A-Za-z-], the identifier characters of the SemVer grammar. */
function isIdentifierCharacter(code: number): boolean {
  return isDigit(code) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === CODE_DASH;
}

function fail(s: Scan, rule: Rule, pos: number, detail: string): false {
  s.rule = rule;
  s.failPos = pos;
  s.detail = detail;
  return false;
}

function describeAt(text: string, pos: number): string {
  if (pos >= text.length) return 'the end';
  const code = text.codePointAt(pos) ?? 0;
  const shown =
    code >= 0x20 && code < 0x7f ? `'${String.fromCodePoint(code)}'` : `U+${code.toString(16).toUpperCase()}`;
  return `${shown} at offset ${pos}`;
}

/** Reads major, minor or patch at `pos`; returns its end, or -1 after recording the failure. */
function scanCoreNumber(s: Scan, pos: number, name: string): number {
  const { text } = s;
  let end = pos;
  while (end < text.length && isDigit(text.charCodeAt(end))) end++;
  if (end === pos) {
    const code = text.charCodeAt(pos);
    if (pos === 0 && (code === 118 || code === 86)) {
      fail(s, 'leading-v', 0, `a leading '${text[0]}' is not part of SemVer 2.0.0; strip it first`);
    } else if (pos < text.length && !isIdentifierCharacter(code) && code !== CODE_DOT && code !== CODE_PLUS) {
      fail(s, 'illegal-character', pos, `${describeAt(text, pos)} is not allowed in a version`);
    } else {
      fail(s, 'core-format', pos, `expected the ${name} version number, got ${describeAt(text, pos)}`);
    }
    return -1;
  }
  if (end - pos > 1 && text.charCodeAt(pos) === CODE_0) {
    fail(s, 'leading-zero', pos, `the ${name} version number ${text.slice(pos, end)} has a leading zero`);
    return -1;
  }
  return end;
}

/**
 * Reads dot-separated identifiers from `pos` to the end, or for a pre-release to a '+'; returns
 * where they end, or -1 after recording the failure.
 */
function scanIdentifiers(s: Scan, pos: number, isPrerelease: boolean): number {
  const { text } = s;
  const part = isPrerelease ? 'pre-release' : 'build';
  let start = pos;
  let i = pos;
  let allDigits = true;
  for (;;) {
    const code = i < text.length ? text.charCodeAt(i) : -1;
    if (code === CODE_DOT || code === -1 || (isPrerelease && code === CODE_PLUS)) {
      if (i === start) {
        fail(s, 'empty-identifier', i, `empty ${part} identifier at offset ${i}`);
        return -1;
      }
      if (isPrerelease && allDigits && i - start > 1 && text.charCodeAt(start) === CODE_0) {
        fail(
          s,
          'leading-zero',
          start,
          `the numeric pre-release identifier ${text.slice(start, i)} has a leading zero`,
        );
        return -1;
      }
      if (code !== CODE_DOT) return i;
      start = i + 1;
      allDigits = true;
    } else if (isIdentifierCharacter(code)) {
      if (!isDigit(code)) allDigits = false;
    } else {
      fail(
        s,
        'illegal-character',
        i,
        `${describeAt(text, i)} is not allowed in a ${part} identifier ([0-9A-Za-z-])`,
      );
      return -1;
    }
    i++;
  }
}

/** Scans `text` per the SemVer 2.0.0 grammar; true when valid, else the failure is on `s`. */
function scan(s: Scan, text: string): boolean {
  s.text = text;
  s.preStart = -1;
  s.buildStart = -1;
  if (text.length === 0) return fail(s, 'empty', 0, 'the version is empty');
  s.majorEnd = scanCoreNumber(s, 0, 'major');
  if (s.majorEnd < 0) return false;
  if (text.charCodeAt(s.majorEnd) !== CODE_DOT) {
    return fail(
      s,
      'core-format',
      s.majorEnd,
      `expected '.' after the major version, got ${describeAt(text, s.majorEnd)}`,
    );
  }
  s.minorEnd = scanCoreNumber(s, s.majorEnd + 1, 'minor');
  if (s.minorEnd < 0) return false;
  if (text.charCodeAt(s.minorEnd) !== CODE_DOT) {
    return fail(
      s,
      'core-format',
      s.minorEnd,
      `expected '.' after the minor version, got ${describeAt(text, s.minorEnd)}`,
    );
  }
  s.patchEnd = scanCoreNumber(s, s.minorEnd + 1, 'patch');
  if (s.patchEnd < 0) return false;
  let pos = s.patchEnd;
  s.preEnd = pos;
  if (pos === text.length) return true;
  let code = text.charCodeAt(pos);
  if (code === CODE_DASH) {
    s.preStart = pos + 1;
    pos = scanIdentifiers(s, s.preStart, true);
    if (pos < 0) return false;
    s.preEnd = pos;
    if (pos === text.length) return true;
    code = text.charCodeAt(pos);
  }
  if (code === CODE_PLUS) {
    s.buildStart = pos + 1;
    return scanIdentifiers(s, s.buildStart, false) >= 0;
  }
  if (code === CODE_DOT || isIdentifierCharacter(code)) {
    return fail(
      s,
      'core-format',
      pos,
      `expected '-', '+' or the end after the patch version, got ${describeAt(text, pos)}`,
    );
  }
  return fail(s, 'illegal-character', pos, `${describeAt(text, pos)} is not allowed in a version`);
}

/** Orders two digit runs without leading zeros by value. */
function compareNumbers(
  text: string,
  start: number,
  end: number,
  otherText: string,
  otherStart: number,
  otherEnd: number,
): number {
  const length = end - start;
  const otherLength = otherEnd - otherStart;
  if (length !== otherLength) return length < otherLength ? -1 : 1;
  for (let i = 0; i < length; i++) {
    const d = text.charCodeAt(start + i) - otherText.charCodeAt(otherStart + i);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

function identifierEnd(text: string, pos: number, end: number): number {
  let i = pos;
  while (i < end && text.charCodeAt(i) !== CODE_DOT) i++;
  return i;
}

function isNumeric(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isDigit(text.charCodeAt(i))) return false;
  return true;
}

/** SemVer 2.0.0 §11.4: identifier by identifier; numeric < alphanumeric; more fields win a tie. */
function comparePrereleases(a: Scan, b: Scan): number {
  if (a.preStart < 0 || b.preStart < 0) {
    if (a.preStart === b.preStart) return 0;
    // A pre-release version has lower precedence than the release (§11.3).
    return a.preStart < 0 ? 1 : -1;
  }
  let i = a.preStart;
  let j = b.preStart;
  for (;;) {
    if (i > a.preEnd || j > b.preEnd) {
      if (i > a.preEnd && j > b.preEnd) return 0;
      return i > a.preEnd ? -1 : 1;
    }
    const iEnd = identifierEnd(a.text, i, a.preEnd);
    const jEnd = identifierEnd(b.text, j, b.preEnd);
    const aNumeric = isNumeric(a.text, i, iEnd);
    const bNumeric = isNumeric(b.text, j, jEnd);
    let r: number;
    if (aNumeric && bNumeric) {
      r = compareNumbers(a.text, i, iEnd, b.text, j, jEnd);
    } else if (aNumeric || bNumeric) {
      r = aNumeric ? -1 : 1;
    } else {
      r = 0;
      const length = Math.min(iEnd - i, jEnd - j);
      for (let k = 0; k < length && r === 0; k++) r = a.text.charCodeAt(i + k) - b.text.charCodeAt(j + k);
      if (r === 0) r = iEnd - i - (jEnd - j);
    }
    if (r !== 0) return r < 0 ? -1 : 1;
    i = iEnd + 1;
    j = jEnd + 1;
  }
}

function compareScans(a: Scan, b: Scan): number {
  return (
    compareNumbers(a.text, 0, a.majorEnd, b.text, 0, b.majorEnd) ||
    compareNumbers(a.text, a.majorEnd + 1, a.minorEnd, b.text, b.majorEnd + 1, b.minorEnd) ||
    compareNumbers(a.text, a.minorEnd + 1, a.patchEnd, b.text, b.minorEnd + 1, b.patchEnd) ||
    comparePrereleases(a, b)
  );
}

function errorOf(s: Scan): InvalidVersionError {
  return new InvalidVersionError('semver', s.text, s.rule, s.detail);
}

/**
 * Null when `text` is a SemVer 2.0.0 version (semver.org), else the error naming the rule:
 * `empty`, `leading-v`, `core-format`, `leading-zero`, `empty-identifier` or
 * `illegal-character`. Strict: no leading `v`, no surrounding whitespace. Never throws.
 */
export function checkSemver(text: string): InvalidVersionError | null {
  return scan(left, text) ? null : errorOf(left);
}

/** The parts of a SemVer 2.0.0 version, or null when `text` is not one (see checkSemver). */
export function parseSemver(text: string): SemVer | null {
  if (!scan(left, text)) return null;
  const { majorEnd, minorEnd, patchEnd, preStart, preEnd, buildStart } = left;
  return {
    major: BigInt(text.slice(0, majorEnd)),
    minor: BigInt(text.slice(majorEnd + 1, minorEnd)),
    patch: BigInt(text.slice(minorEnd + 1, patchEnd)),
    prerelease: preStart < 0 ? [] : text.slice(preStart, preEnd).split('.'),
    build: buildStart < 0 ? [] : text.slice(buildStart).split('.'),
  };
}

/**
 * SemVer 2.0.0 precedence (semver.org §11): -1, 0 or 1. Build metadata is ignored, so
 * `1.0.0+a` and `1.0.0+b` compare equal. Throws InvalidVersionError when either is invalid.
 */
export function compareSemver(a: string, b: string): number {
  if (!scan(left, a)) throw errorOf(left);
  if (!scan(right, b)) throw errorOf(right);
  return compareScans(left, right);
}
