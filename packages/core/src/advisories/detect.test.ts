import { describe, expect, it } from 'vitest';
import { absentMessage, readSharedData, sharedDataPath } from './__fixtures__/shared-data.js';
import { detectFeedKind } from './detect.js';

describe('advisories/detect', () => {
  it.each`
    name                            | text                                                                                       | kind
    ${'epss_scores-2099-01-02.csv'} | ${'#model_version:v2025.03.14,score_date:2099-01-02T00:00:00+0000\ncve,epss,percentile\n'} | ${'epss'}
    ${'scores.csv'}                 | ${'cve,epss\nCVE-2099-0001,0.5\n'}                                                         | ${'epss'}
    ${'epss_scores-2021-04-14.csv'} | ${'CVE-2099-0001,0.5\n'}                                                                   | ${'epss'}
    ${'scores.csv'}                 | ${'CVE-2099-0001,0.5\n'}                                                                   | ${null}
    ${'kev.csv'}                    | ${'cveID,vendorProject,product,vulnerabilityName\n'}                                       | ${'kev'}
    ${'kev.json'}                   | ${'{"title": "x", "catalogVersion": "2099.01.02", "vulnerabilities": []}'}                 | ${'kev'}
    ${'list'}                       | ${'[29 Mar 2023] DSA-5380-1 xorg-server - security update\n\t{CVE-2023-1393}\n'}           | ${'debian-dsa-list'}
    ${'list'}                       | ${'[01 Apr 2023] DLA-3380-1 firmware-nonfree - security update\n'}                         | ${'debian-dla-list'}
    ${'main.json'}                  | ${'{"apkurl": "x", "archs": [], "distroversion": "v3.19", "packages": []}'}                | ${'alpine-secdb'}
    ${'main.json'}                  | ${'{"packages": [{"pkg": {"name": "a", "secfixes": {}}}], "distroversion": "v3.19"}'}      | ${'alpine-secdb'}
    ${'main.yaml'}                  | ${'---\ndistroversion: v3.11\nreponame: main\npackages:\n  - pkg:\n'}                      | ${'alpine-secdb'}
    ${'json'}                       | ${'{"apparmor": {"CVE-2014-1424": {"releases": {}}}}'}                                     | ${'debian-tracker'}
    ${'json'}                       | ${'{\n  "389-ds-base": {\n    "TEMP-0000000-1A2B3C": {\n'}                                 | ${'debian-tracker'}
    ${'DSA-3029-1.json'}            | ${'{\n  "id": "DSA-3029-1",\n  "modified": "2014-09-20T08:18:07Z"\n}'}                     | ${'osv'}
    ${'all.ndjson'}                 | ${'{"id":"ALSA-2022:1","summary":"x","affected":[]}\n{"id":"ALSA-2022:2"}\n'}              | ${'osv'}
    ${'query.json'}                 | ${'{"vulns": []}'}                                                                         | ${'osv'}
    ${'x.json'}                     | ${'[{"id": "A-1", "published": "2024-01-01T00:00:00Z"}]'}                                  | ${'osv'}
    ${'x.json'}                     | ${'{"document": {"category": "csaf_vex"}}'}                                                | ${null}
    ${'CVE-list'}                   | ${'CVE-2023-0001 (description)\n\t- pkg <unfixed>\n'}                                      | ${null}
    ${'empty'}                      | ${''}                                                                                      | ${null}
  `('$name: $kind', ({ name, text, kind }) => {
    expect(detectFeedKind(text, name)).toBe(kind);
  });

  const files = [
    ['osv/almalinux/almalinux9.ndjson', 'osv'],
    ['osv/ubuntu/UBUNTU-CVE-2025-38094.json', 'osv'],
    ['osv/debian/DSA-3029-1.json', 'osv'],
    ['osv/trimmed-fixtures/DLA-3623-1.json', 'osv'],
    ['debian-tracker/tracker-json-sample.json', 'debian-tracker'],
    ['debian-tracker/DSA-list', 'debian-dsa-list'],
    ['debian-tracker/DLA-list', 'debian-dla-list'],
    ['alpine-secdb/v3.10-main.yaml', 'alpine-secdb'],
    ['alpine-secdb/v3.11-community.yaml', 'alpine-secdb'],
    ['alpine-secdb/vuln-list-update-fixture/312-main.json', 'alpine-secdb'],
    ['alpine-secdb/vuln-list-update-fixture/312-community.json', 'alpine-secdb'],
    ['alpine-secdb/vuln-list-update-fixture/edge-main.json', 'alpine-secdb'],
    ['kev/known_exploited_vulnerabilities.json', 'kev'],
    ['kev/known_exploited_vulnerabilities.csv', 'kev'],
    ['kev/known_exploited_vulnerabilities_schema.json', null],
    ['osv/schema/osv-schema.json', null],
    ['csaf/redhat/rhsa-2021_5186.json', null],
    ['inventories/debian12-dpkg-status', null],
    ['debian-tracker/config.json', null],
    ['osv/vulnfeeds-parts/alpine/CVE-2015-9251.alpine.json', null],
  ] as const;
  describe.skipIf(sharedDataPath(files[0][0]) === null)(
    `real files${sharedDataPath(files[0][0]) === null ? ` (${absentMessage(files[0][0])})` : ''}`,
    () => {
      it.each(files)('%s is %s', (file, kind) => {
        expect(detectFeedKind(readSharedData(file), file)).toBe(kind);
      });
    },
  );
});
