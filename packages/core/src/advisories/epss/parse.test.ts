import { describe, expect, it } from 'vitest';
import { readFixture } from '../__fixtures__/read-fixture.js';
import { parseEpss } from './parse.js';

describe('advisories/epss', () => {
  it('reads the comment, the header and every good row, storing model and date with each score', () => {
    const file = parseEpss(readFixture(import.meta.url, 'current.csv'), 'current.csv');

    expect(file.modelVersion).toBe('v2025.03.14');
    expect(file.scoreDate).toBe('2099-01-02');
    const stamp = { scoreDate: '2099-01-02', modelVersion: 'v2025.03.14' };
    expect(file.scores).toEqual([
      { cve: 'CVE-2099-0001', epss: 0.94123, percentile: 0.99912, ...stamp },
      { cve: 'CVE-2099-0002', epss: 0.00043, percentile: 0.08, ...stamp },
      { cve: 'CVE-2099-0004', epss: 0.1, percentile: null, ...stamp },
      { cve: 'CVE-2099-0006', epss: 0.000043, percentile: 1, ...stamp },
    ]);
    expect(file.skipped).toEqual([
      { location: 'current.csv:5', recordId: 'CVE-2099-0003', reason: 'epss must be a number from 0 to 1' },
      { location: 'current.csv:7', recordId: 'not-a-cve', reason: 'cve must be a CVE id' },
      { location: 'current.csv:8', recordId: 'CVE-2099-0005', reason: 'epss must be a number from 0 to 1' },
    ]);
  });

  it.each`
    name                   | text                                                  | percentile | scoreDate
    ${'no-comment.csv'}    | ${null}                                               | ${0.75}    | ${null}
    ${'no-percentile.csv'} | ${null}                                               | ${null}    | ${null}
    ${'no header'}         | ${'CVE-2099-0001,0.5,0.75\n'}                         | ${0.75}    | ${null}
    ${'CRLF and BOM'}      | ${'\uFEFFcve,epss\r\nCVE-2099-0001,0.5\r\n'}          | ${null}    | ${null}
    ${'date only'}         | ${'#score_date:2099-01-03\nCVE-2099-0001,0.5,0.75\n'} | ${0.75}    | ${'2099-01-03'}
  `('reads old layouts: $name', ({ name, text, percentile, scoreDate }) => {
    const file = parseEpss(text ?? readFixture(import.meta.url, name), name);

    expect(file.skipped).toEqual([]);
    expect(file.modelVersion).toBeNull();
    expect(file.scores).toEqual([
      { cve: 'CVE-2099-0001', epss: 0.5, percentile, scoreDate, modelVersion: null },
    ]);
  });

  it('reports a comment whose score_date is not a date', () => {
    expect(parseEpss('#model_version:v1,score_date:soon\n', 'x.csv').skipped).toEqual([
      { location: 'x.csv:1', recordId: null, reason: 'score_date "soon" is not a date' },
    ]);
  });

  it('reads 300k rows quickly', () => {
    const rows = Array.from(
      { length: 300_000 },
      (_, i) => `CVE-2099-${String(i).padStart(5, '0')},0.001,0.5`,
    );
    const text = `#model_version:v2025.03.14,score_date:2099-01-02T00:00:00+0000\ncve,epss,percentile\n${rows.join('\n')}\n`;

    const started = performance.now();
    const file = parseEpss(text, 'big.csv');

    expect(file.scores).toHaveLength(300_000);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
