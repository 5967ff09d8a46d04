/** Ids in natural order: digit runs by value, so `CVE-2024-999` < `CVE-2024-1000`, `DSA-999-1` < `DSA-5000-1`. */
export function compareIds(a: string, b: string): number {
  const ka = naturalKey(a);
  const kb = naturalKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * A string whose plain (code unit) order is the natural order of `id`: each digit run becomes its
 * significant length as one character, then its digits without leading zeros. Ties between runs
 * that differ only in leading zeros keep the original as a last resort.
 */
export function naturalKey(id: string): string {
  let key = '';
  let hasLeadingZeros = false;
  let i = 0;
  while (i < id.length) {
    const code = id.charCodeAt(i);
    if (code < 48 || code > 57) {
      key += id[i];
      i++;
      continue;
    }
    let end = i;
    while (end < id.length && isDigit(id.charCodeAt(end))) end++;
    let start = i;
    while (start < end - 1 && id.charCodeAt(start) === 48) start++;
    if (start !== i) hasLeadingZeros = true;
    // '0' keeps the run where digits sort against other characters; then the run's length, then its digits.
    key += `0${String.fromCharCode(0x30 + end - start)}${id.slice(start, end)}`;
    i = end;
  }
  return hasLeadingZeros ? `${key}\u0000${id}` : key;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}
