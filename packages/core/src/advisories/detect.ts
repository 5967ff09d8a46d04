import { stripBom } from './common.js';

/** The feed formats Patchwarden parses. */
export type FeedKind =
  | 'osv'
  | 'debian-tracker'
  | 'debian-dsa-list'
  | 'debian-dla-list'
  | 'alpine-secdb'
  | 'kev'
  | 'epss';

/** How much of the text the sniffing looks at: every marker sits near the start. */
const HEAD_LENGTH = 8192;

/**
 * Tells which feed `text` is, from its first few kilobytes and, where the content leaves it
 * open, its file `name` (a path or URL; only the base name is looked at). Null when it is none
 * of them (e.g. the tracker's `data/CVE/list`, CSAF, OVAL). Cheap: never parses the whole text.
 *
 * - KEV: JSON with a `catalogVersion` string and a `vulnerabilities` array, or CSV whose header
 *   starts `cveID,vendorProject`.
 * - EPSS: a `#model_version:`/`#score_date:` comment, or a header starting `cve,epss`, or
 *   (very old files) a name containing `epss` and a first line that is a `CVE-…,<score>` row.
 * - DSA/DLA lists: the first line is `[DD Mon YYYY] DSA-…` / `DLA-…`.
 * - Alpine secdb: `distroversion` and `packages`, or `pkg` and `secfixes`; JSON or YAML.
 * - Debian tracker JSON: `{"<package>": {"CVE-…"|"TEMP-…": {` at the start.
 * - OSV: a JSON object, array or NDJSON line with an `"id"` and one of `"modified"`,
 *   `"affected"`, `"schema_version"`, `"published"` (or the `{"vulns": [...]}` answer of osv.dev).
 */
export function detectFeedKind(text: string, name: string): FeedKind | null {
  const head = stripBom(text.slice(0, HEAD_LENGTH)).trimStart();
  const base = name.split(/[\\/]/).pop()?.toLowerCase() ?? '';
  const firstLine = head.split('\n', 1)[0]?.trim() ?? '';

  if (/^#\s*(?:model_version|score_date):/.test(firstLine) || /^cve,epss(?:,|$)/i.test(firstLine))
    return 'epss';
  if (/^cveID,vendorProject,/.test(firstLine)) return 'kev';
  const listHeader = /^\[\d{1,2} [A-Za-z]{3} \d{4}\] (DSA|DLA)-\d+/.exec(firstLine);
  if (listHeader !== null) return listHeader[1] === 'DSA' ? 'debian-dsa-list' : 'debian-dla-list';

  if (head.startsWith('{') || head.startsWith('[')) {
    if (/"catalogVersion"\s*:\s*"/.test(head) && /"vulnerabilities"\s*:\s*\[/.test(head)) return 'kev';
    const hasSecfixes = /"secfixes"\s*:/.test(head);
    if (
      (/"distroversion"\s*:/.test(head) && /"packages"\s*:/.test(head)) ||
      (hasSecfixes && /"pkg"\s*:/.test(head))
    ) {
      return 'alpine-secdb';
    }
    if (/^\{\s*"[^"]+"\s*:\s*\{\s*"(?:CVE-\d{4}-\d+|TEMP-[0-9A-Fa-f-]+)"\s*:\s*\{/.test(head))
      return 'debian-tracker';
    if (/^\{\s*"vulns"\s*:\s*\[/.test(head)) return 'osv';
    if (/"id"\s*:\s*"/.test(head) && /"(?:modified|affected|schema_version|published)"\s*:/.test(head))
      return 'osv';
    return null;
  }
  if (/^distroversion:\s*\S/m.test(head) && /^(?:packages|\s+secfixes):/m.test(head)) return 'alpine-secdb';
  // Very old EPSS files have neither the comment nor a header: only the name tells.
  if (base.includes('epss') && /^CVE-\d{4}-\d+,\d/.test(firstLine)) return 'epss';
  return null;
}
