import {
  type Advisory,
  type AffectedPackage,
  type AffectedRange,
  type FeedOrigin,
  type Finding,
  type FindingEvidence,
  getEcosystem,
  type InstalledPackage,
  type OsIdentity,
} from '@patchwarden/core';

/** An advisory record that names the package in the host's scope and does not apply, with the reason. */
export interface NotApplying {
  advisoryId: string;
  feed: FeedOrigin | null;
  reason: string;
}

/** The reasoning for one installed package: the findings with their evidence, and what was ruled out. */
export interface PackageExplanation {
  installed: InstalledPackage;
  findings: Finding[];
  notApplying: NotApplying[];
  /** Records that name the package for other distributions or releases, by scope (`debian:11` → 3). */
  otherScopes: Record<string, number>;
}

/**
 * Explains every installed package whose binary or source name is `name`. Applying records come from the
 * findings (the matcher's evidence); records that name the package in the host's scope and were not
 * reported are re-checked here to say why (installed at or past the fixed version, before `introduced`,
 * withdrawn).
 */
export function explainPackages(
  name: string,
  packages: InstalledPackage[],
  findings: Finding[],
  advisories: Array<{ advisory: Advisory; origin: FeedOrigin | null }>,
  os: OsIdentity,
): PackageExplanation[] {
  const selected = packages.filter((p) => p.name === name || p.source?.name === name);
  return selected.map((installed) => {
    const own = findings.filter(
      (f) =>
        f.package === installed.name &&
        f.installedVersion === installed.version &&
        f.architecture === installed.architecture,
    );
    const applying = new Set(own.flatMap((f) => f.advisories));
    const notApplying: NotApplying[] = [];
    const otherScopes: Record<string, number> = {};
    for (const { advisory, origin } of advisories) {
      if (applying.has(advisory.id)) continue;
      const entries = advisory.affected.filter((a) => namesPackage(a, installed));
      if (entries.length === 0) continue;
      const inScope = entries.filter((a) => isHostScope(a, os));
      if (inScope.length === 0) {
        for (const key of new Set(entries.map(scopeLabel))) otherScopes[key] = (otherScopes[key] ?? 0) + 1;
        continue;
      }
      notApplying.push({
        advisoryId: advisory.id,
        feed: origin,
        reason: whyNot(advisory, inScope, installed),
      });
    }
    notApplying.sort((a, b) => (a.advisoryId < b.advisoryId ? -1 : a.advisoryId > b.advisoryId ? 1 : 0));
    return { installed, findings: own, notApplying, otherScopes };
  });
}

function namesPackage(entry: AffectedPackage, installed: InstalledPackage): boolean {
  if (entry.ecosystem !== installed.ecosystem) return false;
  if (entry.nameKind === 'binary') return entry.name === installed.name;
  return entry.name === (installed.source?.name ?? installed.name) || entry.binaries.includes(installed.name);
}

function isHostScope(entry: AffectedPackage, os: OsIdentity): boolean {
  if (entry.scope === null) return true;
  return (
    entry.scope.distro === os.distro && entry.scope.release === os.version && entry.scope.stream === null
  );
}

function scopeLabel(entry: AffectedPackage): string {
  if (entry.scope === null) return entry.ecosystem;
  const { distro, release, stream } = entry.scope;
  return [distro, release ?? 'rolling', stream].filter((part) => part !== null).join(':');
}

/** The first reason found, per affected entry in scope: the version compared against each bound. */
function whyNot(advisory: Advisory, entries: AffectedPackage[], installed: InstalledPackage): string {
  if (advisory.withdrawn) return `withdrawn ${advisory.withdrawn}: never reported`;
  const reasons: string[] = [];
  for (const entry of entries) {
    if (entry.binaries.length > 0 && !entry.binaries.includes(installed.name)) {
      reasons.push(
        `the record names only the binaries ${entry.binaries.join(', ')} of ${entry.name}: not affected`,
      );
      continue;
    }
    const version =
      entry.nameKind === 'source' && installed.source ? installed.source.version : installed.version;
    const ecosystem = getEcosystem(entry.ecosystem);
    if (!ecosystem) {
      reasons.push(`unknown ecosystem ${entry.ecosystem}`);
      continue;
    }
    try {
      if (entry.ranges.length === 0 && entry.versions.length > 0) {
        reasons.push(
          `installed ${version} is not among the ${entry.versions.length} listed affected versions: not affected`,
        );
      }
      for (const range of entry.ranges)
        reasons.push(rangeReason(range, version, ecosystem.compare, ecosystem.id));
    } catch (err) {
      reasons.push(`cannot compare ${version}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return reasons.length > 0
    ? [...new Set(reasons)].join('; ')
    : 'no affected range or version for this package';
}

function rangeReason(
  range: AffectedRange,
  version: string,
  compare: (a: string, b: string) => number,
  id: string,
): string {
  if (range.introduced !== null && compare(version, range.introduced) < 0) {
    return `installed ${version} < introduced ${range.introduced} (${id}): not affected`;
  }
  if (range.fixed !== null && compare(version, range.fixed) >= 0) {
    return `installed ${version} >= fixed ${range.fixed} (${id}): not affected`;
  }
  if (range.lastAffected !== null && compare(version, range.lastAffected) > 0) {
    return `installed ${version} > last affected ${range.lastAffected} (${id}): not affected`;
  }
  if (range.limit !== null && compare(version, range.limit) >= 0) {
    return `installed ${version} >= limit ${range.limit} (${id}): not affected`;
  }
  return `installed ${version} is inside ${describeRange(range)} (${id}) but the matcher did not report it`;
}

/** `[0, 2.36-9+deb12u3)`-style text for a range: `[` inclusive, `)` exclusive, `…` open. */
export function describeRange(range: AffectedRange | null): string {
  if (range === null) return 'the listed affected versions';
  const from = range.introduced ?? '0';
  if (range.fixed !== null) return `[${from}, ${range.fixed})`;
  if (range.lastAffected !== null) return `[${from}, ${range.lastAffected}]`;
  if (range.limit !== null) return `[${from}, ${range.limit})`;
  return `[${from}, …) (no fix)`;
}

/** The `--explain` text: per package, every evidence line, then the records ruled out and why. */
export function formatExplanation(name: string, explanations: PackageExplanation[], os: OsIdentity): string {
  if (explanations.length === 0) return `${name}: not installed (no binary or source package of that name)\n`;
  const out: string[] = [];
  for (const { installed, findings, notApplying, otherScopes } of explanations) {
    const arch = installed.architecture ? ` ${installed.architecture}` : '';
    const source = installed.source ? `, source ${installed.source.name} ${installed.source.version}` : '';
    out.push(`${installed.name} ${installed.version}${arch}${source} on ${os.prettyName}`);
    if (findings.length === 0) out.push('  no advisory applies');
    for (const finding of findings) {
      const fix = finding.fixedVersion ? `upgrade to ${finding.fixedVersion}` : finding.fixState;
      const kev = finding.isKev
        ? `, in CISA KEV${finding.kevDueDate ? ` (due ${finding.kevDueDate})` : ''}`
        : '';
      out.push(
        `  finding: ${finding.severity}, risk ${finding.riskScore.toFixed(1)}${kev}, due ${finding.dueDate ?? 'no deadline'}: ${fix}`,
      );
      for (const evidence of finding.evidence) out.push(...evidenceLines(evidence));
    }
    if (notApplying.length > 0) {
      out.push('  does not apply:');
      for (const item of notApplying)
        out.push(`    ${item.advisoryId}: ${item.reason}${feedText(item.feed, ' [', ']')}`);
    }
    const scopes = Object.entries(otherScopes);
    if (scopes.length > 0) {
      out.push(
        `  not for this host (${os.distro} ${os.version ?? 'rolling'}): ${scopes.map(([scope, n]) => `${n} record${n === 1 ? '' : 's'} for ${scope}`).join(', ')}`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

function evidenceLines(evidence: FindingEvidence): string[] {
  return [
    `  applies: ${evidence.advisoryId}`,
    `    feed:       ${feedText(evidence.feed, '', '') || 'unknown'}`,
    `    scope:      ${evidence.scope}, ${evidence.matchedBy} package ${evidence.matchedName}`,
    `    range:      ${describeRange(evidence.range)}`,
    `    comparison: ${evidence.comparison}`,
    `    fixed:      ${evidence.fixedVersion ?? 'none'} (${evidence.fixState})`,
  ];
}

function feedText(feed: FeedOrigin | null, before: string, after: string): string {
  if (!feed) return '';
  return `${before}${feed.location}${feed.timestamp ? ` (${feed.timestamp})` : ''}${after}`;
}
