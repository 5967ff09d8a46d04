import type { KevEntry, SkippedRecord } from '../../types/advisory.js';
import { isObject, messageOf, stripBom } from '../common.js';
import { readCsv } from '../csv.js';
import { readKevRow } from './schema.js';

/** The parsed KEV catalogue. */
export interface KevCatalog {
  /** `catalogVersion` of the JSON feed (`2025.08.25`), or null (the CSV has none). */
  catalogVersion: string | null;
  entries: KevEntry[];
  skipped: SkippedRecord[];
}

/**
 * Parses CISA's Known Exploited Vulnerabilities catalogue: the JSON feed
 * (`{title, catalogVersion, dateReleased, count, vulnerabilities[]}`) or the CSV with the same
 * column names. `count` is never trusted: the entries are what the array holds. An entry that
 * breaks the shape is reported in `skipped` (by `vulnerabilities[i]` or CSV line, with its CVE id)
 * and the rest go on; a CVE listed twice keeps its first entry and reports the second.
 * `knownRansomwareUse` is true for `Known` and false for `Unknown` (and anything else).
 */
export function parseKev(text: string, location: string): KevCatalog {
  const body = stripBom(text).trim();
  if (body.startsWith('{')) return parseJson(body, location);
  return parseCsv(body, location);
}

function parseJson(body: string, location: string): KevCatalog {
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch (error) {
    return fail(location, `not valid JSON: ${messageOf(error)}`);
  }
  if (!isObject(document) || !Array.isArray(document.vulnerabilities)) {
    return fail(location, 'the document must be an object with a vulnerabilities array');
  }
  const catalogVersion = typeof document.catalogVersion === 'string' ? document.catalogVersion : null;
  const rows = document.vulnerabilities.map((raw, i) => ({
    where: `${location}:vulnerabilities[${i}]`,
    raw,
  }));
  return { catalogVersion, ...collect(rows) };
}

function parseCsv(body: string, location: string): KevCatalog {
  const { records, error } = readCsv(body);
  if (error !== null) return fail(location, `not valid CSV: ${error}`);
  const [header, ...rows] = records;
  if (header === undefined || !header.fields.includes('cveID')) {
    return fail(location, 'the CSV must start with a header naming cveID');
  }
  const objects = rows.map(({ line, fields }) => ({
    where: `${location}:${line}`,
    raw: Object.fromEntries(header.fields.map((name, i) => [name, fields[i]])),
  }));
  return { catalogVersion: null, ...collect(objects) };
}

function collect(rows: Array<{ where: string; raw: unknown }>): Pick<KevCatalog, 'entries' | 'skipped'> {
  const entries: KevEntry[] = [];
  const skipped: SkippedRecord[] = [];
  const seen = new Set<string>();
  for (const { where, raw } of rows) {
    const row = readKevRow(raw);
    if (Array.isArray(row)) {
      const cve = isObject(raw) && typeof raw.cveID === 'string' ? raw.cveID : null;
      skipped.push({ location: where, recordId: cve, reason: row.join('; ') });
      continue;
    }
    if (seen.has(row.cveID)) {
      skipped.push({
        location: where,
        recordId: row.cveID,
        reason: 'the CVE is listed again; the first entry is kept',
      });
      continue;
    }
    seen.add(row.cveID);
    entries.push({
      cve: row.cveID,
      vendorProject: row.vendorProject,
      product: row.product,
      name: row.vulnerabilityName,
      dateAdded: row.dateAdded,
      dueDate: row.dueDate,
      knownRansomwareUse: row.knownRansomwareCampaignUse.toLowerCase() === 'known',
    });
  }
  return { entries, skipped };
}

function fail(location: string, reason: string): KevCatalog {
  return { catalogVersion: null, entries: [], skipped: [{ location, recordId: null, reason }] };
}
