import { describe, expect, it } from 'vitest';
import { readFixture } from '../__fixtures__/read-fixture.js';
import { absentMessage, readSharedData, sharedDataPath } from '../__fixtures__/shared-data.js';
import { parseDebianAdvisoryList } from '../debian-tracker/list.js';
import { parseOsvDocument } from '../osv/parse.js';
import { parseKev } from './parse.js';

describe('advisories/kev', () => {
  it('reads the JSON feed, ignoring count, reporting broken and repeated entries', () => {
    const kev = parseKev(readFixture(import.meta.url, 'catalog.json'), 'catalog.json');

    expect(kev.catalogVersion).toBe('2099.01.02');
    expect(kev.entries).toEqual([
      {
        cve: 'CVE-2099-0001',
        vendorProject: 'Example',
        product: 'Example Server',
        name: 'Example Server Remote Code Execution Vulnerability',
        dateAdded: '2099-01-02',
        dueDate: '2099-01-23',
        knownRansomwareUse: true,
      },
      {
        cve: 'CVE-2099-0002',
        vendorProject: 'Example',
        product: 'Example Client',
        name: 'Example Client Use-After-Free',
        dateAdded: '2099-01-01',
        dueDate: '2099-01-22',
        knownRansomwareUse: false,
      },
    ]);
    expect(kev.skipped).toEqual([
      {
        location: 'catalog.json:vulnerabilities[2]',
        recordId: 'CVE-2099-0001',
        reason: 'the CVE is listed again; the first entry is kept',
      },
      {
        location: 'catalog.json:vulnerabilities[3]',
        recordId: 'CVE-2099-0003',
        reason: 'dateAdded must be a YYYY-MM-DD date; dueDate must be a YYYY-MM-DD date',
      },
      {
        location: 'catalog.json:vulnerabilities[4]',
        recordId: 'GHSA-not-a-cve',
        reason:
          'cveID must be a CVE id; vendorProject must be a string; product must be a string; vulnerabilityName must be a string; knownRansomwareCampaignUse must be a string; dateAdded must be a YYYY-MM-DD date; dueDate must be a YYYY-MM-DD date',
      },
      { location: 'catalog.json:vulnerabilities[5]', recordId: null, reason: 'the entry must be an object' },
    ]);
  });

  it('reads the CSV form (quotes, doubled quotes, line breaks in fields) with the same entries', () => {
    const kev = parseKev(readFixture(import.meta.url, 'catalog.csv'), 'catalog.csv');

    expect(kev.catalogVersion).toBeNull();
    expect(kev.entries.map((e) => [e.cve, e.name, e.knownRansomwareUse])).toEqual([
      ['CVE-2099-0001', 'Example "quoted" name', true],
      ['CVE-2099-0002', 'Example Client Use-After-Free', false],
    ]);
    expect(kev.skipped).toEqual([
      {
        location: 'catalog.csv:5',
        recordId: 'CVE-2099-0004',
        reason:
          'knownRansomwareCampaignUse must be a string; dateAdded must be a YYYY-MM-DD date; dueDate must be a YYYY-MM-DD date',
      },
    ]);
  });

  it('reports documents it cannot read', () => {
    expect(parseKev('{"vulnerabilities": 3}', 'k.json').skipped[0]?.reason).toBe(
      'the document must be an object with a vulnerabilities array',
    );
    expect(parseKev('{', 'k.json').skipped[0]?.reason).toMatch(/^not valid JSON: /);
    expect(parseKev('a,b\n1,2\n', 'k.csv').skipped[0]?.reason).toBe(
      'the CSV must start with a header naming cveID',
    );
    expect(parseKev('cveID\n"open', 'k.csv').skipped[0]?.reason).toBe(
      'not valid CSV: line 2: a quoted field is not closed',
    );
  });
});

const KEV_JSON = 'kev/known_exploited_vulnerabilities.json';
const KEV_CSV = 'kev/known_exploited_vulnerabilities.csv';

describe.skipIf(sharedDataPath(KEV_JSON) === null)(
  `advisories/kev: real catalogue${sharedDataPath(KEV_JSON) === null ? ` (${absentMessage(KEV_JSON)})` : ''}`,
  () => {
    const kev = sharedDataPath(KEV_JSON) === null ? null : parseKev(readSharedData(KEV_JSON), KEV_JSON);

    it('reads all 1404 entries, 293 with known ransomware use, and the CSV agrees', () => {
      const csv = parseKev(readSharedData(KEV_CSV), KEV_CSV);

      expect(kev?.catalogVersion).toBe('2025.08.25');
      expect(kev?.skipped).toEqual([]);
      expect(kev?.entries).toHaveLength(1404);
      expect(kev?.entries.filter((e) => e.knownRansomwareUse)).toHaveLength(293);
      expect(csv.skipped).toEqual([]);
      expect(csv.entries).toEqual(kev?.entries);
    });

    it('joins with the advisories as the README counts (AlmaLinux 32/2, DSA 119, DLA 60)', () => {
      const known = new Set(kev?.entries.map((e) => e.cve));
      const inKev = (cves: string[]) => new Set(cves.filter((cve) => known.has(cve))).size;
      const osv = (file: string) =>
        parseOsvDocument(readSharedData(file), file).advisories.flatMap((a) => a.cves);
      const list = (file: string, kind: 'DSA' | 'DLA') =>
        parseDebianAdvisoryList(readSharedData(file), file, kind).advisories.flatMap((a) => a.cves);

      expect(inKev(osv('osv/almalinux/almalinux9.ndjson'))).toBe(32);
      expect(inKev(osv('osv/almalinux/almalinux10.ndjson'))).toBe(2);
      expect(inKev(list('debian-tracker/DSA-list', 'DSA'))).toBe(119);
      expect(inKev(list('debian-tracker/DLA-list', 'DLA'))).toBe(60);
    });
  },
);
