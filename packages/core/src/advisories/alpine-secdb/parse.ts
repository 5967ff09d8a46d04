import { parse as parseYaml } from 'yaml';
import type { Advisory, AdvisoryParseResult, AffectedPackage, SkippedRecord } from '../../types/advisory.js';
import { cveOf, DroppedParts, messageOf, sortedUnique, stripBom } from '../common.js';
import { readSecdb } from './schema.js';

/** `CVE-2019-1234`, `XSA-295`, `ZBX-1234`, `GHSA-abcd-…`: a prefix, a dash, no placeholders. */
const VULNERABILITY_ID = /^[A-Z][A-Z0-9]*(?:-[A-Za-z0-9._]+)+$/;

interface Builder {
  aliases: Set<string>;
  /** package name -> its entry in this release */
  packages: Map<string, AffectedPackage>;
}

/**
 * Parses one Alpine secdb document, JSON or YAML (the YAML is read with the failsafe schema, so
 * that version keys such as `1.10` or `0` stay strings). `distroversion` `v3.11` gives the scope
 * {alpine, 3.11}; `edge` a null release. For each package (an aport, i.e. origin name) and each
 * `secfixes` key other than `"0"`, every id listed becomes affected below that fixed version.
 *
 * One Advisory per vulnerability id (CVE-…, XSA-…, ZBX-…: non-CVE ids are kept) with one affected
 * entry per package, holding one range per fixed version listed for it. Ids written on one line
 * (`CVE-2018-8897 XSA-260`) name one vulnerability and become each other's aliases. Key `"0"`
 * means "never affected in this release" and gives no entry (the model has no "not affected").
 * Parenthesised comments (`CVE-2019-15167 (VRRP)`) are ignored and the `CVE_2019-2426` typo is
 * read as `CVE-2019-2426`; placeholders such as `CVE-????-?????` are reported in `skipped`.
 */
export function parseAlpineSecdb(text: string, location: string): AdvisoryParseResult {
  const body = stripBom(text);
  let document: unknown;
  try {
    document = body.trimStart().startsWith('{') ? JSON.parse(body) : parseYaml(body, { schema: 'failsafe' });
  } catch (error) {
    return {
      advisories: [],
      skipped: [{ location, recordId: null, reason: `not valid JSON or YAML: ${messageOf(error)}` }],
    };
  }
  const secdb = readSecdb(document);
  if (typeof secdb === 'string')
    return { advisories: [], skipped: [{ location, recordId: null, reason: secdb }] };
  const version = /^v(\d+\.\d+)$/.exec(secdb.distroversion);
  if (version === null && secdb.distroversion !== 'edge') {
    const reason = `distroversion "${secdb.distroversion}" is neither vX.Y nor edge`;
    return { advisories: [], skipped: [{ location, recordId: null, reason }] };
  }
  const release = version === null ? null : version[1]!;

  const skipped: SkippedRecord[] = [];
  const dropped = new DroppedParts();
  const builders = new Map<string, Builder>();
  for (const { index, pkg, problem } of secdb.packages) {
    if (pkg === null) {
      skipped.push({
        location: `${location}:packages[${index}]`,
        recordId: null,
        reason: `packages[${index}] ${problem}`,
      });
      continue;
    }
    for (const [fixed, lines] of pkg.secfixes) {
      if (fixed.trim() === '0') continue;
      for (const line of lines) {
        const ids = idsOf(line, (reason) => dropped.add(pkg.name, reason));
        for (const id of ids) {
          let builder = builders.get(id);
          if (builder === undefined) {
            builder = { aliases: new Set(), packages: new Map() };
            builders.set(id, builder);
          }
          for (const other of ids) if (other !== id) builder.aliases.add(other);
          let entry = builder.packages.get(pkg.name);
          if (entry === undefined) {
            entry = {
              ecosystem: 'apk',
              scope: { distro: 'alpine', release, stream: null },
              name: pkg.name,
              nameKind: 'source',
              ranges: [],
              versions: [],
              binaries: [],
              noFixReason: null,
              severity: null,
              urgency: null,
            };
            builder.packages.set(pkg.name, entry);
          }
          if (!entry.ranges.some((range) => range.fixed === fixed.trim())) {
            entry.ranges.push({ introduced: null, fixed: fixed.trim(), lastAffected: null, limit: null });
          }
        }
      }
    }
  }

  const advisories: Advisory[] = [];
  for (const [id, builder] of builders) {
    const aliases = [...builder.aliases];
    advisories.push({
      id,
      source: 'alpine-secdb',
      aliases,
      related: [],
      cves: sortedUnique([id, ...aliases].map(cveOf).filter((cve) => cve !== null)),
      summary: null,
      published: null,
      modified: null,
      withdrawn: null,
      severity: 'unknown',
      cvss: [],
      affected: [...builder.packages.values()],
      references: [],
    });
  }
  return { advisories, skipped: [...skipped, ...dropped.toSkipped(location)] };
}

/** The vulnerability ids of one secfixes line. */
function idsOf(line: string, note: (reason: string) => void): string[] {
  const ids: string[] = [];
  for (const token of line.replace(/\([^)]*\)/g, ' ').split(/\s+/)) {
    if (token === '') continue;
    const id = token.replace(/^CVE_(?=\d{4}-)/, 'CVE-');
    if (VULNERABILITY_ID.test(id)) ids.push(id);
    else note(`dropped "${token}", which is not a vulnerability id`);
  }
  return ids;
}
