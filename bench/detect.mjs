// `npm run bench -- detect [--hosts N] [--ranges N] [--naive-hosts N] [--seed S] [--quick R]` (after `npm run build`);
// with `--quick`, also `--quick-digest 0` (no digest) and `--quick-memo M` (M rounds with a memo).
//
// Detection throughput on a synthetic Debian 12 fleet built from real package sets
// (../shared/data/inventories/debian12-dpkg-status and this machine's /var/lib/dpkg/status, topped
// up with generated packages to ~1,500 per host), against real advisory records (DSA/DLA lists and
// AlmaLinux OSV when the parsers are exported) plus generated `debian:12` records on the same
// source names. Every host draws each package's version from a ladder of real-shaped older
// versions, so all inventories differ. Measures:
//  - index build time, retained heap and peak RSS;
//  - whole-fleet throughput (hosts/s) on all-distinct inventories: `distinctInventories` (primary:
//    one DetectionMemo across the fleet, as hosts share package versions) and
//    `distinctInventoriesNoMemo` (every host from scratch); then a fleet of identical inventories
//    (100 images), host by host with a memo and once per distinct package set as the store runs it;
//  - a naive baseline on a subset: every installed package against every range of the same name,
//    scanned linearly, in the same run, with its agreement with the index;
//  - re-evaluation of the whole fleet after one new advisory: only hosts holding a touched
//    (scope, name) are looked at, through a package -> hosts inverted index.
// Inventories are materialised per chunk of 50 hosts from JSON (fresh objects and strings, as from a
// store) outside the timed part, and moved out of the young generation (two minor GCs) before it,
// so that the timed part pays for detection's own allocations, not the loader's. Wall and process
// CPU time are both reported (the machine may be shared). Prints one JSON object.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { GCProfiler, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as core from '@patchwarden/core';

const dataDir = fileURLToPath(new URL('../../shared/data/', import.meta.url));
const CHUNK = 50;
const PACKAGES_PER_HOST = 1500;
const LADDER = 32;
const HOST_VARIANTS = 5;
const ADVISORY_SOURCE_SHARE = 0.3;
const OPEN_SHARE = 0.002;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

export async function run(args) {
  const options = parseOptions(args);
  const rng = mulberry32(options.seed);
  const deb = core.deb;
  const debian12 = {
    family: 'debian',
    distro: 'debian',
    version: '12',
    versionId: '12',
    codename: 'bookworm',
    prettyName: 'Debian GNU/Linux 12 (bookworm)',
    ecosystem: 'deb',
  };

  // --- package universe -------------------------------------------------------------------------
  const realSets = [];
  for (const path of [`${dataDir}inventories/debian12-dpkg-status`, '/var/lib/dpkg/status']) {
    if (existsSync(path))
      realSets.push({ path, packages: core.parseDpkgStatus(readFileSync(path, 'utf8'), path) });
  }
  const universe = [];
  const seen = new Set();
  for (const set of realSets) {
    for (const p of set.packages) {
      const key = `${p.name}:${p.architecture}`;
      if (seen.has(key)) continue;
      seen.add(key);
      universe.push({
        name: p.name,
        architecture: p.architecture,
        sourceName: p.source?.name ?? p.name,
        sourceVersion: p.source?.version ?? p.version,
        version: p.version,
        isReal: true,
      });
    }
  }
  const realCount = universe.length;
  const templates = realCount > 0 ? universe.slice() : builtInTemplates();
  // Generated packages (sources of 1–4 binaries) so that hosts reach ~1,500 packages.
  const syntheticTarget = Math.max(0, Math.round((PACKAGES_PER_HOST - realCount * 0.97) / 0.8));
  for (let source = 0; universe.length < realCount + syntheticTarget; source++) {
    const template = templates[Math.floor(rng() * templates.length)];
    const binaries = 1 + Math.floor(rng() * 4);
    for (let b = 0; b < binaries; b++) {
      universe.push({
        name: `gen${source}-bin${b}`,
        architecture: 'amd64',
        sourceName: `gen${source}-src`,
        sourceVersion: template.sourceVersion,
        version: template.sourceVersion,
        isReal: false,
      });
    }
  }

  // Version ladders per source: ladder[0] is today's version, each next one older.
  const ladders = new Map();
  for (const u of universe) {
    if (!ladders.has(u.sourceName)) ladders.set(u.sourceName, ladder(u.sourceVersion, rng, deb));
  }
  // Per package, the (binary, source) versions of its host variants, as shared prototypes.
  for (const u of universe) {
    const sourceLadder = ladders.get(u.sourceName);
    const binaryLadder = u.version === u.sourceVersion ? sourceLadder : ladder(u.version, rng, deb);
    u.variants = [];
    for (let v = 0; v < HOST_VARIANTS; v++) {
      u.variants.push({
        name: u.name,
        version: binaryLadder[v],
        architecture: u.architecture,
        source: { name: u.sourceName, version: sourceLadder[v] },
        ecosystem: 'deb',
      });
    }
  }

  // --- hosts: per host and package, 0 = absent, else variant + 1 ---------------------------------
  const hostCount = options.hosts;
  const hosts = new Array(hostCount);
  for (let h = 0; h < hostCount; h++) hosts[h] = randomHost(universe, rng);
  const distinctInventories = new Set(hosts.map(fingerprint)).size;
  const meanPackages =
    hosts.reduce((n, host) => n + host.reduce((m, x) => m + (x === 0 ? 0 : 1), 0), 0) / hostCount;

  // --- advisories --------------------------------------------------------------------------------
  const entries = [];
  const realAdvisories = { dsa: 0, dla: 0, almalinux: 0, ranges: 0, parsers: [] };
  if (typeof core.parseDebianAdvisoryList === 'function') {
    for (const kind of ['DSA', 'DLA']) {
      const path = `${dataDir}debian-tracker/${kind}-list`;
      if (!existsSync(path)) continue;
      const parsed = core.parseDebianAdvisoryList(readFileSync(path, 'utf8'), `${kind}-list`, kind);
      realAdvisories[kind.toLowerCase()] = parsed.advisories.length;
      for (const advisory of parsed.advisories)
        entries.push({ advisory, origin: { location: `${kind}-list:${advisory.id}`, timestamp: null } });
    }
    realAdvisories.parsers.push('parseDebianAdvisoryList');
  }
  if (typeof core.parseOsvDocument === 'function') {
    for (const file of ['almalinux9.ndjson', 'almalinux10.ndjson']) {
      const path = `${dataDir}osv/almalinux/${file}`;
      if (!existsSync(path)) continue;
      const parsed = core.parseOsvDocument(readFileSync(path, 'utf8'), file);
      realAdvisories.almalinux += parsed.advisories.length;
      for (const advisory of parsed.advisories)
        entries.push({ advisory, origin: { location: `${file}:${advisory.id}`, timestamp: null } });
    }
    realAdvisories.parsers.push('parseOsvDocument');
  }
  for (const { advisory } of entries)
    for (const a of advisory.affected) realAdvisories.ranges += a.ranges.length;
  const kev = new Map();
  if (
    typeof core.parseKev === 'function' &&
    existsSync(`${dataDir}kev/known_exploited_vulnerabilities.json`)
  ) {
    for (const entry of core.parseKev(
      readFileSync(`${dataDir}kev/known_exploited_vulnerabilities.json`, 'utf8'),
      'kev.json',
    ).entries) {
      kev.set(entry.cve, entry);
    }
  }
  const epss = new Map();
  const generated = generateAdvisories([...ladders.keys()], ladders, options.ranges, rng, kev, epss);
  for (const advisory of generated.advisories)
    entries.push({ advisory, origin: { location: `generated:${advisory.id}`, timestamp: null } });

  // --- index build -------------------------------------------------------------------------------
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const buildStart = performance.now();
  const index = core.buildAdvisoryIndex(entries);
  const buildMs = performance.now() - buildStart;
  const maxRssAfterBuild = process.resourceUsage().maxRSS * 1024;
  gc();
  const indexHeap = process.memoryUsage().heapUsed - heapBefore;

  const baseContext = {
    kev,
    epss,
    criticality: 'high',
    sla: core.DEFAULT_SLA_POLICY,
    now: new Date('2025-06-01T00:00:00Z'),
  };

  // --- whole-fleet detection ---------------------------------------------------------------------
  if (options.quick > 0) {
    // `--quick N`: only the fleet, N rounds without and N with a memo, the first of each with a digest
    // of every finding (to compare builds). `--quick-digest 0`: no digest (the first round is then a cold
    // pass as in the full run); `--quick-memo M`: M rounds with a memo instead of N.
    const rounds = [];
    for (let r = 0; r < options.quick; r++) {
      const digest = r === 0 && options.quickDigest !== 0 ? createHash('sha256') : null;
      const once = fleetRun(index, hosts, universe, debian12, baseContext, false, digest);
      rounds.push({ ...summary(once, hostCount), ...(digest ? { digest: digest.digest('hex') } : {}) });
    }
    // Heap in use after the no-memo rounds (the index with its lookups and per-place results; no memo
    // holds anything): compare two builds' figures.
    gc();
    const heapAfterFleetMiB = round(process.memoryUsage().heapUsed / 2 ** 20, 1);
    const memoRounds = [];
    for (let r = 0; r < (options.quickMemo >= 0 ? options.quickMemo : options.quick); r++) {
      const digest = r === 0 && options.quickDigest !== 0 ? createHash('sha256') : null;
      const context = { ...baseContext, memo: core.createDetectionMemo() };
      const once = fleetRun(index, hosts, universe, debian12, context, false, digest);
      memoRounds.push({ ...summary(once, hostCount), ...(digest ? { digest: digest.digest('hex') } : {}) });
    }
    const result = {
      bench: 'detect',
      quick: true,
      seed: options.seed,
      hosts: hostCount,
      indexHeapMiB: round(indexHeap / 2 ** 20, 1),
      heapAfterFleetMiB,
      noMemo: rounds,
      withMemo: memoRounds,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return result;
  }
  const primary = fleetRun(index, hosts, universe, debian12, baseContext);
  // Three rounds, each with a fresh memo; the median round is reported (the machine may be shared).
  const withMemo = medianRun(() =>
    fleetRun(index, hosts, universe, debian12, { ...baseContext, memo: core.createDetectionMemo() }),
  );
  const images = Array.from({ length: 100 }, () => randomHost(universe, rng));
  const sharedHosts = Array.from({ length: hostCount }, (_, h) => images[h % images.length]);
  const shared = medianRun(() =>
    fleetRun(index, sharedHosts, universe, debian12, { ...baseContext, memo: core.createDetectionMemo() }),
  );
  // As the store runs it: detection once per distinct package set (and criticality), hosts share the result.
  const perSet = (() => {
    const sets = JSON.parse(JSON.stringify(images.map((host) => materialise(host, universe))));
    const context = { ...baseContext, memo: core.createDetectionMemo() };
    const t0 = performance.now();
    const results = new Map();
    const byHost = new Array(hostCount);
    for (let h = 0; h < hostCount; h++) {
      const key = `${h % images.length}:${criticalityOf(h)}`;
      let found = results.get(key);
      if (found === undefined) {
        found = core.detectPackages(index, debian12, sets[h % images.length], {
          ...context,
          criticality: criticalityOf(h),
        });
        results.set(key, found);
      }
      byHost[h] = found;
    }
    const ms = performance.now() - t0;
    return { hostsPerSec: round(hostCount / (ms / 1000), 0), detectionsRun: results.size, ms: round(ms, 1) };
  })();

  // --- naive baseline ----------------------------------------------------------------------------
  const naiveHosts = hosts.slice(0, options.naiveHosts);
  const naive = naiveRun(entries, naiveHosts, universe, debian12, deb);
  const indexedSubset = fleetRun(index, naiveHosts, universe, debian12, baseContext, true);
  let disagreements = 0;
  for (let h = 0; h < naiveHosts.length; h++) {
    const a = naive.results[h];
    const b = indexedSubset.results[h];
    if (a.length !== b.length || a.some((x, i) => x !== b[i])) {
      disagreements++;
      if (disagreements < 3) {
        const sa = new Set(a);
        const sb = new Set(b);
        process.stderr.write(
          `naive only: ${a.filter((x) => !sb.has(x)).join(' | ')}\nindexed only: ${b.filter((x) => !sa.has(x)).join(' | ')}\n`,
        );
      }
    }
  }

  // --- re-evaluation after one new advisory ------------------------------------------------------
  // The inverted index a store keeps: per installed package (universe entry) and version, its hosts.
  const hostsByVariant = universe.map(() => Array.from({ length: HOST_VARIANTS }, () => []));
  for (let h = 0; h < hostCount; h++) {
    const host = hosts[h];
    for (let u = 0; u < host.length; u++) if (host[u] !== 0) hostsByVariant[u][host[u] - 1].push(h);
  }
  const universeByRef = new Map();
  for (let u = 0; u < universe.length; u++) {
    for (const ref of core.packageRefsOf(debian12, universe[u].variants[0])) {
      const key = core.packageKey(ref);
      const list = universeByRef.get(key) ?? [];
      if (!list.includes(u)) list.push(u);
      universeByRef.set(key, list);
    }
  }
  const holders = new Map();
  for (let u = 0; u < universe.length; u++) {
    const count = hostsByVariant[u].reduce((n, list) => n + list.length, 0);
    holders.set(universe[u].sourceName, (holders.get(universe[u].sourceName) ?? 0) + count);
  }
  const bySpread = [...holders].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const reevaluation = {};
  // A server is warm when a feed change arrives: the first round (a third source) is not reported.
  for (const [label, [sourceName]] of [
    ['warmUp', bySpread[1]],
    ['widestSource', bySpread[0]],
    ['medianSource', bySpread[Math.floor(bySpread.length / 2)]],
  ]) {
    // Fixed by the latest update: every host one or more updates behind is affected.
    const advisory = benchAdvisory(`BENCH-${label}`, sourceName, ladders.get(sourceName)[0]);
    const start = performance.now();
    const touched = core.updateAdvisoryIndex(index, { upsert: [{ advisory, origin: null }] });
    const updateMs = performance.now() - start;
    let evaluateMs = 0;
    // Evaluate each distinct installed (package, version) under the touched names once, then write
    // the finding of every host holding an affected one, with that host's own risk score.
    const context = { ...baseContext, memo: core.createDetectionMemo() };
    let groupsEvaluated = 0;
    let hostsConsidered = 0;
    const writes = [];
    const hostsChanged = new Set();
    for (const ref of touched) {
      for (const u of universeByRef.get(core.packageKey(ref)) ?? []) {
        for (let v = 0; v < HOST_VARIANTS; v++) {
          const holdersOfVersion = hostsByVariant[u][v];
          if (holdersOfVersion.length === 0) continue;
          hostsConsidered += holdersOfVersion.length;
          groupsEvaluated++;
          const t0 = performance.now();
          const [finding] = core.detectPackages(index, debian12, [universe[u].variants[v]], context);
          evaluateMs += performance.now() - t0;
          if (finding === undefined || !finding.advisories.includes(advisory.id)) continue;
          // One finding per criticality (the risk score is the only per-host field here), then one
          // (host, finding) row per holder, as a store write batch.
          const byCriticality = {};
          for (const h of holdersOfVersion) {
            const criticality = criticalityOf(h);
            byCriticality[criticality] ??= {
              ...finding,
              riskScore: core.riskScore({ ...finding, criticality }),
            };
            writes.push(h, byCriticality[criticality]);
            hostsChanged.add(h);
          }
        }
      }
    }
    const ms = performance.now() - start;

    // The same change handled host by host (every holder of a touched name re-evaluated), for comparison.
    core.updateAdvisoryIndex(index, { remove: [core.recordKey(advisory, null)] });
    core.updateAdvisoryIndex(index, { upsert: [{ advisory, origin: null }] });
    const perHostStart = performance.now();
    let perHostEvaluations = 0;
    for (const ref of touched) {
      for (const u of universeByRef.get(core.packageKey(ref)) ?? []) {
        for (let v = 0; v < HOST_VARIANTS; v++) {
          for (const h of hostsByVariant[u][v]) {
            perHostEvaluations++;
            core.detectPackages(index, debian12, [universe[u].variants[v]], {
              ...baseContext,
              criticality: criticalityOf(h),
            });
          }
        }
      }
    }
    const perHostMs = performance.now() - perHostStart;
    core.updateAdvisoryIndex(index, { remove: [core.recordKey(advisory, null)] });
    reevaluation[label] = {
      source: sourceName,
      binaries: new Set(touched.flatMap((ref) => universeByRef.get(core.packageKey(ref)) ?? [])).size,
      ms: round(ms, 2),
      indexUpdateMs: round(updateMs, 2),
      distinctVersionsMs: round(evaluateMs, 2),
      hostsHoldingTouchedNames: new Set(
        touched.flatMap((ref) =>
          (universeByRef.get(core.packageKey(ref)) ?? []).flatMap((u) => hostsByVariant[u].flat()),
        ),
      ).size,
      packageInstancesConsidered: hostsConsidered,
      distinctVersionsEvaluated: groupsEvaluated,
      hostsChanged: hostsChanged.size,
      findingsWritten: writes.length / 2,
      perHostReevaluationMs: round(perHostMs, 1),
      perHostEvaluations,
    };
  }

  delete reevaluation.warmUp;
  const result = {
    bench: 'detect',
    seed: options.seed,
    node: process.version,
    fleet: {
      hosts: hostCount,
      distinctInventories,
      meanPackagesPerHost: round(meanPackages, 1),
      universePackages: universe.length,
      realPackages: realCount,
      realPackageSets: realSets.map((s) => s.path),
      versionsPerPackage: HOST_VARIANTS,
    },
    advisories: {
      records: entries.length,
      real: realAdvisories,
      generated: {
        records: generated.advisories.length,
        ranges: generated.ranges,
        listedVersions: generated.listed,
        scope: 'debian:12',
      },
      totalRanges: index.stats.intervals,
      kevEntries: kev.size,
      epssScores: epss.size,
    },
    index: {
      buildMs: round(buildMs, 0),
      retainedHeapMiB: round(indexHeap / 2 ** 20, 1),
      peakRssMiBAfterBuild: round(maxRssAfterBuild / 2 ** 20, 1),
      stats: index.stats,
      goal: { buildMs: 5000, memoryMiB: 1024 },
    },
    detection: {
      distinctInventories: summary(withMemo, hostCount),
      distinctInventoriesNoMemo: summary(primary, hostCount),
      identicalInventories: {
        images: images.length,
        ...summary(shared, hostCount),
        oncePerDistinctPackageSet: perSet,
      },
      goalHostsPerSec: 2000,
    },
    naiveBaseline: {
      hosts: naiveHosts.length,
      hostsPerSec: round(naiveHosts.length / (naive.ms / 1000), 1),
      indexedHostsPerSec: round(naiveHosts.length / (indexedSubset.ms / 1000), 1),
      ratio: round(naive.ms / indexedSubset.ms, 1),
      rangesScanned: naive.rangesScanned,
      hostsWhereResultsDiffer: disagreements,
      note: 'naive returns matched advisory ids only (no finding assembly); indexed figure is full detectFindings on the same hosts',
    },
    reevaluation: { ...reevaluation, goalMs: 50 },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return result;
}

function fleetRun(index, hosts, universe, os, context, keepResults = false, digest = null) {
  let ms = 0;
  let cpuMs = 0;
  let gcMs = 0;
  let findings = 0;
  let evidence = 0;
  const stats = core.emptyDetectionStats();
  const results = [];
  for (let start = 0; start < hosts.length; start += CHUNK) {
    // Fresh objects and strings per chunk, as when inventories are read from a store.
    const inventories = JSON.parse(
      JSON.stringify(
        hosts.slice(start, start + CHUNK).map((host) => ({ os, packages: materialise(host, universe) })),
      ),
    );
    // Promote the new inventories out of the young generation now, so that detection's own
    // collections do not pay for copying what the bench just allocated.
    gc({ type: 'minor' });
    gc({ type: 'minor' });
    // Main-thread GC pauses inside the timed part (the collections detection's allocations cause).
    const gcProfiler = new GCProfiler();
    gcProfiler.start();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    // The digest is updated host by host, its time taken out of the figures: holding a chunk's
    // findings until after it would keep them alive through collections, which changes how V8
    // allocates them (allocation-site pretenuring) and so the figures of the rounds after it.
    let digestMs = 0;
    let digestCpuMs = 0;
    for (let k = 0; k < inventories.length; k++) {
      const inventory = inventories[k];
      const hostContext = { ...context, criticality: criticalityOf(start + k) };
      const found = core.detectPackages(index, inventory.os, inventory.packages, hostContext, stats);
      findings += found.length;
      for (const f of found) evidence += f.evidence.length;
      if (keepResults)
        results.push(found.map((f) => `${f.package}:${[...f.advisories].sort().join(',')}`).sort());
      if (digest !== null) {
        const d0 = performance.now();
        const dc0 = process.cpuUsage();
        digest.update(JSON.stringify(found));
        digestMs += performance.now() - d0;
        const dc = process.cpuUsage(dc0);
        digestCpuMs += (dc.user + dc.system) / 1000;
      }
    }
    ms += performance.now() - t0 - digestMs;
    const cpu = process.cpuUsage(cpu0);
    cpuMs += (cpu.user + cpu.system) / 1000 - digestCpuMs;
    for (const { cost } of gcProfiler.stop().statistics) gcMs += cost / 1000;
  }
  return { ms, cpuMs, gcMs, findings, evidence, stats, results };
}

/** Host criticality of the synthetic fleet: mostly medium, some high, few critical or low. */
function criticalityOf(host) {
  const r = host % 20;
  return r === 0 ? 'critical' : r < 4 ? 'high' : r < 6 ? 'low' : 'medium';
}

function benchAdvisory(id, sourceName, fixed) {
  return {
    id,
    source: 'osv',
    aliases: [],
    related: [],
    cves: [],
    summary: null,
    published: null,
    modified: null,
    withdrawn: null,
    severity: 'high',
    cvss: [],
    affected: [
      {
        ecosystem: 'deb',
        scope: { distro: 'debian', release: '12', stream: null },
        name: sourceName,
        nameKind: 'source',
        ranges: [{ introduced: null, fixed, lastAffected: null, limit: null }],
        versions: [],
        binaries: [],
        noFixReason: null,
        severity: null,
        urgency: null,
      },
    ],
    references: [],
  };
}

function medianRun(once) {
  const runs = [once(), once(), once()].sort((a, b) => a.ms - b.ms);
  return { ...runs[1], roundsMs: runs.map((r) => round(r.ms, 0)) };
}

function summary(run, hosts) {
  return {
    ...(run.roundsMs ? { roundsMs: run.roundsMs } : {}),
    hostsPerSec: round(hosts / (run.ms / 1000), 0),
    hostsPerCpuSec: round(hosts / (run.cpuMs / 1000), 0),
    msPerHost: round(run.ms / hosts, 3),
    gcPauseMsPerHost: round(run.gcMs / hosts, 3),
    findingsPerHost: round(run.findings / hosts, 1),
    evidencePerHost: round(run.evidence / hosts, 1),
    hitsPerHost: round(run.stats.hits / hosts, 1),
    comparisonsPerHost: round(run.stats.comparisons / hosts, 1),
    memoHitsPerHost: round(run.stats.memoHits / hosts, 1),
  };
}

/** The baseline: advisories grouped by package name only; every range of that name evaluated in full. */
function naiveRun(entries, hosts, universe, os, deb) {
  const byName = new Map();
  for (const { advisory } of entries) {
    if (advisory.withdrawn !== null) continue;
    for (const affected of advisory.affected) {
      const list = byName.get(affected.name) ?? [];
      list.push({ advisory, affected });
      byName.set(affected.name, list);
    }
  }
  const inventories = JSON.parse(JSON.stringify(hosts.map((host) => materialise(host, universe))));
  let rangesScanned = 0;
  const results = [];
  const isValid = (v) => deb.checkVersion(v) === null;
  const t0 = performance.now();
  for (const packages of inventories) {
    const found = [];
    for (const p of packages) {
      const ids = new Set();
      for (const [name, kind, version] of [
        [p.source?.name ?? p.name, 'source', p.source?.version ?? p.version],
        [p.name, 'binary', p.version],
      ]) {
        for (const { advisory, affected } of byName.get(name) ?? []) {
          rangesScanned += affected.ranges.length;
          const scope = affected.scope;
          if (
            affected.ecosystem !== 'deb' ||
            scope === null ||
            scope.distro !== os.distro ||
            scope.release !== os.version ||
            scope.stream !== null
          )
            continue;
          if (affected.nameKind !== kind) continue;
          let hit = false;
          for (const r of affected.ranges) {
            const introduced = r.introduced === '0' ? null : r.introduced;
            if (![introduced, r.fixed, r.lastAffected, r.limit].every((v) => v === null || isValid(v)))
              continue;
            if (
              (introduced === null || deb.compare(version, introduced) >= 0) &&
              (r.fixed === null || deb.compare(version, r.fixed) < 0) &&
              (r.lastAffected === null || deb.compare(version, r.lastAffected) <= 0) &&
              (r.limit === null || deb.compare(version, r.limit) < 0)
            ) {
              hit = true;
              break;
            }
          }
          if (!hit) hit = affected.versions.some((v) => isValid(v) && deb.compare(v, version) === 0);
          if (hit) ids.add(advisory.id);
        }
      }
      if (ids.size > 0) found.push(`${p.name}:${[...ids].sort().join(',')}`);
    }
    results.push(found.sort());
  }
  return { ms: performance.now() - t0, results, rangesScanned };
}

function materialise(host, universe) {
  const packages = [];
  for (let u = 0; u < host.length; u++) if (host[u] !== 0) packages.push(universe[u].variants[host[u] - 1]);
  return packages;
}

function randomHost(universe, rng) {
  const host = new Uint8Array(universe.length);
  for (let u = 0; u < universe.length; u++) {
    if (rng() >= (universe[u].isReal ? 0.97 : 0.8)) continue;
    // Most packages are current; a lagging host is one to four updates behind.
    host[u] = rng() < 0.8 ? 1 : 2 + Math.floor(rng() * (HOST_VARIANTS - 1));
  }
  return host;
}

function fingerprint(host) {
  let h = 2166136261;
  for (let i = 0; i < host.length; i++) h = Math.imul(h ^ host[i], 16777619);
  return `${h >>> 0}:${host.length}:${host.reduce((a, b) => a + b, 0)}`;
}

/** Older and older versions of `version`: decrement a digit run of the revision or upstream, else append `~0`. */
function ladder(version, rng, deb) {
  const out = [version];
  let current = version;
  for (let i = 1; i < LADDER; i++) {
    let next = null;
    for (let attempt = 0; attempt < 4 && next === null; attempt++) {
      const runs = [...current.matchAll(/\d+/g)].filter((m) => m.index > current.indexOf(':'));
      const pick = runs[runs.length - 1 - Math.floor(rng() * Math.min(3, runs.length))];
      if (pick === undefined || Number(pick[0]) === 0) continue;
      const value = Number(pick[0]) - 1 - Math.floor(rng() * 2);
      if (value < 0) continue;
      const candidate =
        current.slice(0, pick.index) + String(value) + current.slice(pick.index + pick[0].length);
      if (deb.checkVersion(candidate) === null && deb.compare(candidate, current) < 0) next = candidate;
    }
    current = next ?? `${current}~0`;
    out.push(current);
  }
  return out;
}

const SEVERITIES = [
  'critical',
  'high',
  'high',
  'medium',
  'medium',
  'medium',
  'low',
  'low',
  'negligible',
  'unknown',
];

/**
 * ~`target` debian:12 ranges over the sources, Zipf-spread (a few sources get thousands, like linux).
 * Fixed versions mostly older than every host (history), some within the hosts' lag, few open.
 */
function generateAdvisories(sources, ladders, target, rng, kev, epss) {
  // Three in ten source names carry advisories; most installed packages have none.
  const order = sources.filter(() => rng() < ADVISORY_SOURCE_SHARE);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const weights = order.map((_, i) => 1 / (i + 1) ** 0.85);
  const total = weights.reduce((a, b) => a + b, 0);
  const kevCves = [...kev.keys()].sort();
  const advisories = [];
  let ranges = 0;
  let listed = 0;
  let serial = 0;
  for (let s = 0; s < order.length && ranges < target; s++) {
    const count = Math.max(1, Math.round((weights[s] / total) * target));
    const steps = ladders.get(order[s]);
    for (let i = 0; i < count; i++) {
      serial++;
      const roll = rng();
      const affected = {
        ecosystem: 'deb',
        scope: { distro: 'debian', release: '12', stream: null },
        name: order[s],
        nameKind: 'source',
        ranges: [],
        versions: [],
        binaries: [],
        noFixReason: null,
        severity: rng() < 0.5 ? SEVERITIES[Math.floor(rng() * SEVERITIES.length)] : null,
        urgency: rng() < 0.5 ? 'medium' : null,
      };
      if (roll < OPEN_SHARE) {
        affected.ranges.push({ introduced: null, fixed: null, lastAffected: null, limit: null });
        if (rng() < 0.5) affected.noFixReason = 'no-dsa';
      } else if (roll < OPEN_SHARE + 0.005) {
        const at = 1 + Math.floor(rng() * (HOST_VARIANTS - 1));
        affected.versions.push(steps[at], steps[at + 1], steps[LADDER - 1]);
        affected.ranges.push({
          introduced: steps[LADDER - 1],
          fixed: steps[at - 1],
          lastAffected: null,
          limit: null,
        });
        listed += 3;
      } else if (roll < OPEN_SHARE + 0.015) {
        const low = 6 + Math.floor(rng() * (LADDER - 7));
        affected.ranges.push({
          introduced: steps[low],
          fixed: steps[low - 1 - Math.floor(rng() * 3)],
          lastAffected: null,
          limit: null,
        });
      } else {
        // 1.5% fixed by one of the last updates (lagging hosts are affected), the rest long ago.
        const at =
          rng() < 0.015
            ? Math.floor(rng() * HOST_VARIANTS)
            : HOST_VARIANTS + Math.floor(rng() * (LADDER - HOST_VARIANTS));
        affected.ranges.push({ introduced: null, fixed: steps[at], lastAffected: null, limit: null });
      }
      ranges += affected.ranges.length;
      const cve =
        rng() < 0.002 && kevCves.length > 0
          ? kevCves.splice(Math.floor(rng() * kevCves.length), 1)[0]
          : `CVE-20${10 + Math.floor(rng() * 15)}-${100000 + serial}`;
      if (rng() < 0.3)
        epss.set(cve, { cve, epss: rng() ** 4, percentile: rng(), scoreDate: null, modelVersion: null });
      const score = 1 + rng() * 9;
      advisories.push({
        id: `DEBIAN-${cve}`,
        source: 'osv',
        aliases: [cve],
        related: [],
        cves: [cve],
        summary: null,
        published: null,
        modified: null,
        withdrawn: rng() < 0.002 ? '2024-01-01T00:00:00Z' : null,
        severity: 'unknown',
        cvss:
          rng() < 0.5
            ? [
                {
                  version: '3.1',
                  vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
                  baseScore: Math.round(score * 10) / 10,
                  severity: 'high',
                },
              ]
            : [],
        affected: [affected],
        references: [],
      });
    }
  }
  return { advisories, ranges, listed };
}

function builtInTemplates() {
  return ['3.0.11-1~deb12u2', '1:2.38.1-5+deb12u3', '5.2.15-2', '252.36-1~deb12u1', '2.36-9+deb12u10'].map(
    (v, i) => ({
      name: `builtin${i}`,
      architecture: 'amd64',
      sourceName: `builtin${i}`,
      sourceVersion: v,
      version: v,
      isReal: false,
    }),
  );
}

function parseOptions(args) {
  const options = {
    hosts: 10_000,
    ranges: 100_000,
    naiveHosts: 200,
    seed: 42,
    quick: 0,
    quickDigest: 1,
    quickMemo: -1,
  };
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase());
    if (!(key in options)) throw new Error(`unknown option ${args[i]}`);
    options[key] = Number(args[i + 1]);
  }
  return options;
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function round(value, digits) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
