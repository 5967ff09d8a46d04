import { describe, expect, it } from 'vitest';
import {
  cveOf,
  cveOfReference,
  DroppedParts,
  highestSeverity,
  isIsoDate,
  ratedSeverity,
  recordSeverity,
  severityFromWord,
  splitLines,
} from './common.js';
import { readCsv } from './csv.js';
import { cvssScore } from './cvss.js';

describe('advisories/common', () => {
  it.each`
    word                  | severity
    ${'critical'}         | ${'critical'}
    ${'Important'}        | ${'high'}
    ${'HIGH'}             | ${'high'}
    ${'high**'}           | ${'high'}
    ${'Moderate'}         | ${'medium'}
    ${'MODERATE'}         | ${'medium'}
    ${'medium*'}          | ${'medium'}
    ${' low '}            | ${'low'}
    ${'negligible'}       | ${'negligible'}
    ${'unimportant'}      | ${'negligible'}
    ${'not yet assigned'} | ${'unknown'}
    ${'untriaged'}        | ${'unknown'}
    ${'end-of-life'}      | ${'unknown'}
    ${'None'}             | ${'unknown'}
    ${'severe'}           | ${null}
    ${''}                 | ${null}
  `('severityFromWord($word) is $severity', ({ word, severity }) => {
    expect(severityFromWord(word)).toBe(severity);
  });

  it('treats only rating words as explicit, and falls back to CVSS then unknown', () => {
    const cvss = [
      cvssScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L')!,
      cvssScore('AV:N/AC:L/Au:N/C:P/I:P/A:P')!,
    ];

    expect(ratedSeverity('not yet assigned')).toBeNull();
    expect(ratedSeverity(null)).toBeNull();
    expect(recordSeverity('low', cvss)).toBe('low');
    expect(recordSeverity(null, cvss)).toBe('high');
    expect(recordSeverity(null, [])).toBe('unknown');
    expect(highestSeverity(['unknown', null, 'negligible', 'medium'])).toBe('medium');
    expect(highestSeverity([null])).toBeNull();
  });

  it.each`
    id                        | cve
    ${'CVE-2024-1234'}        | ${'CVE-2024-1234'}
    ${'CVE-2024-123456'}      | ${'CVE-2024-123456'}
    ${'UBUNTU-CVE-2024-1234'} | ${'CVE-2024-1234'}
    ${'DEBIAN-CVE-2024-1234'} | ${'CVE-2024-1234'}
    ${'CVE-2024-123'}         | ${null}
    ${'CVE-2023-XXXX'}        | ${null}
    ${'GHSA-aaaa-bbbb-cccc'}  | ${null}
    ${'DSA-5000-1'}           | ${null}
  `('cveOf($id) is $cve', ({ id, cve }) => {
    expect(cveOf(id)).toBe(cve);
  });

  it.each`
    url                                                               | cve
    ${'https://access.redhat.com/security/cve/CVE-2022-36369'}        | ${'CVE-2022-36369'}
    ${'https://www.redhat.com/security/data/cve/CVE-2025-22247.html'} | ${'CVE-2025-22247'}
    ${'https://nvd.nist.gov/vuln/detail/CVE-2024-0004'}               | ${'CVE-2024-0004'}
    ${'https://www.cve.org/CVERecord?id=CVE-2025-38094'}              | ${'CVE-2025-38094'}
    ${'https://ubuntu.com/security/CVE-2014-3618'}                    | ${'CVE-2014-3618'}
    ${'https://security-tracker.debian.org/tracker/CVE-2014-3616'}    | ${'CVE-2014-3616'}
    ${'https://ubuntu.com/security/notices/USN-2340-1'}               | ${null}
    ${'https://bugzilla.redhat.com/2170784'}                          | ${null}
    ${'https://example.com/about/CVE-2024-1234'}                      | ${null}
    ${'https://nvd.nist.gov/vuln/detail/CVE-2024-0004/extra'}         | ${null}
  `('cveOfReference($url) is $cve', ({ url, cve }) => {
    expect(cveOfReference(url)).toBe(cve);
  });

  it('reports dropped parts once per reason', () => {
    const dropped = new DroppedParts();
    dropped.add('A-1', 'dropped x');
    dropped.add('A-1', 'dropped x');
    dropped.add('A-2', 'dropped y');
    for (const id of ['B-1', 'B-2', 'B-3', 'B-4']) dropped.add(id, 'dropped z');

    expect(dropped.toSkipped('f')).toEqual([
      { location: 'f', recordId: 'A-1', reason: 'kept the record; dropped x (2 times)' },
      { location: 'f', recordId: 'A-2', reason: 'kept the record; dropped y' },
      {
        location: 'f',
        recordId: null,
        reason: 'kept the records; dropped z (4 times in 4 records: B-1, B-2, B-3, …)',
      },
    ]);
  });

  it('splits lines and checks dates', () => {
    expect(splitLines('a\r\nb\n\nc\n')).toEqual(['a', 'b', '', 'c']);
    expect(splitLines('')).toEqual([]);
    expect(isIsoDate('2024-02-29')).toBe(true);
    expect(isIsoDate('2023-02-29')).toBe(false);
    expect(isIsoDate('2023-2-01')).toBe(false);
  });

  it('reads CSV records with quotes, line breaks and blank lines', () => {
    expect(readCsv('a,"b ""c""",d\r\n\r\n"x\ny",,\nlast')).toEqual({
      records: [
        { line: 1, fields: ['a', 'b "c"', 'd'] },
        { line: 3, fields: ['x\ny', '', ''] },
        { line: 5, fields: ['last'] },
      ],
      error: null,
    });
    expect(readCsv('"open').error).toBe('line 1: a quoted field is not closed');
  });
});
