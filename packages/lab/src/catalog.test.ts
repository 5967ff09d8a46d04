import {
  buildAdvisoryIndex,
  DEFAULT_SLA_POLICY,
  detect,
  type EcosystemId,
  osvEcosystem,
  parseOsRelease,
  parseOsvDocument,
  scopeOf,
} from '@patchwarden/core';
import { describe, expect, it } from 'vitest';
import {
  debSpecs,
  LAB_ADVISORIES,
  LAB_MANAGERS,
  LAB_OS,
  LAB_PACKAGES,
  type LabManager,
  labOsvRecords,
  type PatchLevel,
  pacmanSpecs,
  patchLevelOf,
  rpmDefinitions,
  versionsForLevel,
} from './catalog.js';

const ECOSYSTEM: Record<LabManager, EcosystemId> = { apt: 'deb', dnf: 'rpm', zypper: 'rpm', pacman: 'alpm' };

function parsedFeed() {
  return parseOsvDocument(JSON.stringify(labOsvRecords('2026-11-20T00:00:00Z')), 'lab-feed');
}

function findingsFor(manager: LabManager, level: PatchLevel) {
  const os = parseOsRelease(LAB_OS[manager].osRelease, `${manager}/etc/os-release`);
  const index = buildAdvisoryIndex(parsedFeed().advisories.map((advisory) => ({ advisory, origin: null })));
  const packages = versionsForLevel(level).map((v) => ({
    ...v,
    architecture: null,
    source: null,
    ecosystem: ECOSYSTEM[manager],
  }));
  const { findings } = detect(
    index,
    { os, packages },
    {
      kev: new Map(),
      epss: new Map(),
      criticality: 'medium',
      sla: DEFAULT_SLA_POLICY,
      now: new Date('2026-11-22T00:00:00Z'),
    },
  );
  return findings.flatMap((f) => f.advisories).sort();
}

describe('lab catalog', () => {
  it('gives every manager the same versions, one broken and reboot-marking kernels', () => {
    const deb = debSpecs();
    const rpm = rpmDefinitions();
    const pacman = pacmanSpecs();
    const count = LAB_PACKAGES.reduce((n, p) => n + p.versions.length, 0);

    expect(deb.map((s) => `${s.name} ${s.version}`)).toEqual(pacman.map((s) => `${s.name} ${s.version}`));
    expect(rpm.map((d) => `${d.name} ${d.version}-${d.release}`)).toEqual(
      deb.map((s) => `${s.name} ${s.version}`),
    );
    expect(deb).toHaveLength(count);
    expect(deb.filter((s) => s.failingScript !== null).map((s) => `${s.name} ${s.version}`)).toEqual([
      'pw-broken 1.1-1',
    ]);
    expect(rpm.filter((d) => d.failingScript === 'pre').map((d) => d.name)).toEqual(['pw-broken']);
    expect(pacman.filter((s) => s.failingScriptlet).map((s) => s.name)).toEqual(['pw-broken']);
    expect([...new Set(deb.filter((s) => s.requiresReboot).map((s) => s.name))]).toEqual(['pw-kernel']);
  });

  it('takes turns over the patch levels and never installs the broken version', () => {
    expect([0, 1, 2, 3, 4].map(patchLevelOf)).toEqual([
      'outdated',
      'partial',
      'current',
      'outdated',
      'partial',
    ]);
    for (const level of ['outdated', 'partial', 'current'] as const) {
      expect(versionsForLevel(level).find((v) => v.name === 'pw-broken')?.version).toBe('1.0-1');
      expect(versionsForLevel(level)).toHaveLength(LAB_PACKAGES.length);
    }
    const openssl = (level: PatchLevel) =>
      versionsForLevel(level).find((v) => v.name === 'pw-openssl')?.version;
    expect([openssl('outdated'), openssl('current')]).toEqual(['1.0-1', '1.1-1']);
  });

  it('publishes OSV records that core parses in full, one affected entry per scoped OS', () => {
    const parsed = parsedFeed();

    expect(parsed.skipped).toEqual([]);
    expect(parsed.advisories.map((a) => a.id)).toEqual(LAB_ADVISORIES.map((a) => a.id));
    const first = parsed.advisories[0];
    expect(first?.severity).toBe('critical');
    expect(
      first?.affected.map((a) => `${a.ecosystem} ${a.scope?.distro} ${a.scope?.release} ${a.name}`),
    ).toEqual([
      'deb debian 12 pw-openssl',
      'rpm almalinux 9 pw-openssl',
      'rpm opensuse-leap 15.5 pw-openssl',
    ]);
  });

  it.each(LAB_MANAGERS.filter((m) => LAB_OS[m].osvEcosystem !== null))(
    '%s roots present an os-release that core scopes exactly as the feed’s ecosystem string',
    (manager) => {
      const os = parseOsRelease(LAB_OS[manager].osRelease);
      const ecosystem = osvEcosystem(LAB_OS[manager].osvEcosystem ?? '');

      expect(os.ecosystem).toBe(ECOSYSTEM[manager]);
      expect(ecosystem?.ecosystem).toBe(ECOSYSTEM[manager]);
      expect(scopeOf(os)).toEqual(ecosystem?.scope);
    },
  );

  it('leaves pacman roots unscoped by OSV: Arch has no OSV ecosystem', () => {
    const os = parseOsRelease(LAB_OS.pacman.osRelease);
    expect([os.distro, os.version, os.ecosystem]).toEqual(['arch', null, 'alpm']);
    expect(LAB_OS.pacman.osvEcosystem).toBe(null);
  });

  it.each(['apt', 'dnf', 'zypper'] as const)(
    '%s: each patch level gets the advisories of its old versions',
    (manager) => {
      expect(findingsFor(manager, 'outdated')).toEqual(LAB_ADVISORIES.map((a) => a.id).sort());
      expect(findingsFor(manager, 'partial')).toEqual([
        'PWLAB-2026-0003',
        'PWLAB-2026-0005',
        'PWLAB-2026-0006',
      ]);
      // The only fix a current host lacks is the one whose package fails to install.
      expect(findingsFor(manager, 'current')).toEqual(['PWLAB-2026-0006']);
    },
  );
});
