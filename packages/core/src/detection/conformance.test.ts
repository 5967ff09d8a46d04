import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDebianAdvisoryList } from '../advisories/debian-tracker/list.js';
import { parseDebianTrackerJson } from '../advisories/debian-tracker/parse.js';
import { parseKev } from '../advisories/kev/parse.js';
import { parseOsvDocument } from '../advisories/osv/parse.js';
import { deb, parseDpkgStatus } from '../ecosystems/deb/index.js';
import { rpm } from '../ecosystems/rpm/index.js';
import type { Advisory, KevEntry } from '../types/advisory.js';
import type { InstalledPackage } from '../types/inventory.js';
import { context, inventory, os, pkg } from './__fixtures__/builders.js';
import { buildAdvisoryIndex } from './advisory-index.js';
import { detect, detectFindings } from './detect.js';

/** Real data under ../shared/data from the repository root (never copied into the repository). */
const DATA_DIR = fileURLToPath(new URL('../../../../../shared/data/', import.meta.url));
const read = (relative: string) => readFileSync(DATA_DIR + relative, 'utf8');
const missing = (files: string[]) => files.filter((file) => !existsSync(DATA_DIR + file));
const skipMessage = (files: string[]) =>
  `shared data ${missing(files).join(', ')} absent (expected at ../shared/data from the repository root): skipping`;

const ALMA = ['osv/almalinux/almalinux9.ndjson', 'kev/known_exploited_vulnerabilities.json'];
const almaMissing = missing(ALMA).length > 0;

describe.skipIf(almaMissing)(
  `detection on AlmaLinux 9 OSV records${almaMissing ? ` (${skipMessage(ALMA)})` : ''}`,
  () => {
    const parsed = almaMissing
      ? { advisories: [] as Advisory[] }
      : parseOsvDocument(read(ALMA[0]!), 'almalinux9.ndjson');
    const kev = new Map<string, KevEntry>(
      almaMissing ? [] : parseKev(read(ALMA[1]!), 'kev.json').entries.map((entry) => [entry.cve, entry]),
    );
    const index = buildAdvisoryIndex(
      parsed.advisories.map((advisory) => ({
        advisory,
        origin: { location: `almalinux9.ndjson:${advisory.id}`, timestamp: null },
      })),
    );
    const alma9 = os('almalinux', '9');
    /** Every AlmaLinux:<release> fixed version per binary name, as the records give them. */
    const fixedVersions = (release: string) => {
      const byName = new Map<string, string[]>();
      for (const advisory of parsed.advisories) {
        for (const affected of advisory.affected) {
          if (affected.scope?.distro !== 'almalinux' || affected.scope.release !== release) continue;
          for (const range of affected.ranges) {
            if (range.fixed !== null)
              byName.set(affected.name, [...(byName.get(affected.name) ?? []), range.fixed]);
          }
        }
      }
      return byName;
    };
    const fixedByName = fixedVersions('9');
    const host = (pick: (fixed: string[]) => string, byName = fixedByName) =>
      [...byName].map(([name, fixed]) =>
        pkg(name, pick([...fixed].sort(rpm.compare)), { ecosystem: 'rpm', architecture: 'x86_64' }),
      );

    it('indexes every AlmaLinux:8, :9 and :10 entry of the file', () => {
      expect(parsed.advisories).toHaveLength(1783);
      expect(index.stats).toMatchObject({
        records: 1783,
        withdrawn: 0,
        invalidVersions: 0,
        unknownEcosystem: 0,
      });
      expect(index.stats.affectedEntries).toBe(23051 + 745 + 216);
    });

    it('finds nothing on a host at the highest fixed version of every package (epochs included)', () => {
      const { findings, stats } = detect(
        index,
        inventory(
          alma9,
          host((fixed) => fixed.at(-1)!),
        ),
        context({ kev }),
      );

      expect(stats.hits).toBe(fixedByName.size);
      expect(findings).toEqual([]);
    });

    it('agrees with the record-by-record definition on a host at the lowest fixed versions', () => {
      const packages = host((fixed) => fixed[0]!);

      const findings = detectFindings(index, inventory(alma9, packages), context({ kev }));

      const expected = new Map<string, Set<string>>();
      const installedByName = new Map(packages.map((p) => [p.name, p.version]));
      for (const advisory of parsed.advisories) {
        for (const affected of advisory.affected) {
          const installed = installedByName.get(affected.name);
          if (
            installed === undefined ||
            affected.scope?.distro !== 'almalinux' ||
            affected.scope.release !== '9'
          )
            continue;
          if (affected.ranges.some((r) => r.fixed !== null && rpm.compare(installed, r.fixed) < 0)) {
            expected.set(affected.name, (expected.get(affected.name) ?? new Set()).add(advisory.id));
          }
        }
      }
      expect(new Map(findings.map((f) => [f.package, new Set(f.advisories)]))).toEqual(expected);
      expect(
        findings.every((f) => f.evidence.every((e) => e.scope === 'almalinux:9' && e.matchedBy === 'binary')),
      ).toBe(true);
      expect(findings.filter((f) => f.isKev).length).toBeGreaterThan(0);
      for (const finding of findings.filter((f) => f.isKev)) {
        expect(finding.kevDueDate).toBe(finding.cves.flatMap((cve) => kev.get(cve)?.dueDate ?? []).sort()[0]);
      }
    });

    it.each`
      installed                   | isAffectedByAlsa20225099
      ${'1:2.06-28.el9'}          | ${false}
      ${'2.06-28.el9'}            | ${true}
      ${'1:2.06-27.el9_0.6'}      | ${true}
      ${'1:2.06-27.el9_0.7.alma'} | ${false}
    `(
      'grub2-tools $installed: ALSA-2022:5099 (fixed 1:2.06-27.el9_0.7.alma) applies: $isAffectedByAlsa20225099',
      ({ installed, isAffectedByAlsa20225099 }) => {
        const findings = detectFindings(
          index,
          inventory(alma9, [pkg('grub2-tools', installed, { ecosystem: 'rpm' })]),
          context(),
        );

        expect(findings[0]?.advisories.includes('ALSA-2022:5099') ?? false).toBe(isAffectedByAlsa20225099);
        expect(findings[0]?.fixedVersion).toBe('1:2.06-114.el9_7.1.alma.1');
      },
    );

    it('judges a host only by the entries of its own release (the file mixes AlmaLinux:8, :9 and :10)', () => {
      const el8Packages = host((fixed) => fixed[0]!, fixedVersions('8'));

      const on8 = detectFindings(index, inventory(os('almalinux', '8'), el8Packages), context());
      const on9 = detectFindings(index, inventory(alma9, el8Packages), context());
      const on10 = detectFindings(index, inventory(os('almalinux', '10'), el8Packages), context());

      expect(on8.length).toBeGreaterThan(0);
      expect(on8.every((f) => f.evidence.every((e) => e.scope === 'almalinux:8'))).toBe(true);
      expect(on9.length).toBeGreaterThan(0);
      expect(on9.every((f) => f.evidence.every((e) => e.scope === 'almalinux:9'))).toBe(true);
      expect(on10.every((f) => f.evidence.every((e) => e.scope === 'almalinux:10'))).toBe(true);
    });
  },
);

const DEBIAN = [
  'inventories/debian12-dpkg-status',
  'debian-tracker/DSA-list',
  'debian-tracker/tracker-json-sample.json',
];
const debianMissing = missing(DEBIAN).length > 0;

describe.skipIf(debianMissing)(
  `detection on Debian data${debianMissing ? ` (${skipMessage(DEBIAN)})` : ''}`,
  () => {
    const packages: InstalledPackage[] = debianMissing
      ? []
      : parseDpkgStatus(read(DEBIAN[0]!), 'debian12-dpkg-status');
    const dsa = debianMissing ? [] : parseDebianAdvisoryList(read(DEBIAN[1]!), 'DSA-list', 'DSA').advisories;
    const index = buildAdvisoryIndex(dsa.map((advisory) => ({ advisory, origin: null })));

    it('judges the bookworm machine by no pre-bookworm DSA line (scope is exact)', () => {
      const { findings, stats } = detect(index, inventory(os('debian', '12'), packages), context());

      expect(findings).toEqual([]);
      expect(stats.hits).toBe(0);
    });

    it('joins the bookworm package set to bullseye DSA lines by source name, comparing source versions', () => {
      const { findings, stats } = detect(index, inventory(os('debian', '11'), packages), context());

      expect(stats.hits).toBeGreaterThan(50);
      expect(stats.invalidVersions).toBe(0);
      for (const finding of findings) {
        const installed = packages.find(
          (p) =>
            p.name === finding.package &&
            p.version === finding.installedVersion &&
            p.architecture === finding.architecture,
        )!;
        const sourceVersion = installed.source?.version ?? installed.version;
        for (const evidence of finding.evidence) {
          expect(evidence.scope).toBe('debian:11');
          expect(evidence.matchedName).toBe(installed.source?.name ?? installed.name);
          if (evidence.fixedVersion !== null)
            expect(deb.compare(sourceVersion, evidence.fixedVersion)).toBeLessThan(0);
        }
      }
    });

    it('applies the tracker JSON per release (apparmor sample)', () => {
      const tracker = parseDebianTrackerJson(read(DEBIAN[2]!), 'tracker-json-sample.json').advisories;
      const trackerIndex = buildAdvisoryIndex(tracker.map((advisory) => ({ advisory, origin: null })));
      const apparmor = (version: string) => [
        pkg('libapparmor1', version, { sourceName: 'apparmor', sourceVersion: version }),
      ];
      let checked = 0;

      for (const advisory of tracker) {
        for (const entry of advisory.affected) {
          const release = entry.scope?.release ?? null;
          if (release === null) continue;
          const fixed = entry.ranges[0]?.fixed ?? null;
          const ids = (version: string) =>
            detectFindings(
              trackerIndex,
              inventory(os('debian', release), apparmor(version)),
              context(),
            ).flatMap((f) => f.advisories);
          if (fixed === null) {
            expect(ids('9.9-1')).toContain(advisory.id);
          } else {
            expect(ids(`${fixed}~`)).toContain(advisory.id);
            expect(ids(fixed)).not.toContain(advisory.id);
          }
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(5);
    });
  },
);
