import { InvalidAdvisoryError, isObject } from '../common.js';

/**
 * Debian codenames -> release as a host's os-release `VERSION_ID` gives it (the major number
 * from etch on; the old dotted numbers before). `sid` (unstable) has no number: it is a rolling
 * release and maps to a null release, handled apart from this table. Source: debian.org/releases.
 */
export const DEBIAN_RELEASES: Readonly<Record<string, string>> = Object.freeze({
  buzz: '1.1',
  rex: '1.2',
  bo: '1.3',
  hamm: '2.0',
  slink: '2.1',
  potato: '2.2',
  woody: '3.0',
  sarge: '3.1',
  etch: '4',
  lenny: '5',
  squeeze: '6',
  wheezy: '7',
  jessie: '8',
  stretch: '9',
  buster: '10',
  bullseye: '11',
  bookworm: '12',
  trixie: '13',
  forky: '14',
  duke: '15',
});

/** The rolling codenames: affected entries for them get `release: null`. */
const ROLLING: ReadonlySet<string> = new Set(['sid', 'unstable']);

/**
 * Resolves a codename through `releases` (overrides) and the built-in table: the release, null
 * for sid, or undefined when the codename is unknown.
 */
export function debianRelease(
  codename: string,
  releases: Readonly<Record<string, string>> | undefined,
): string | null | undefined {
  if (releases !== undefined && Object.hasOwn(releases, codename)) return releases[codename];
  if (ROLLING.has(codename)) return null;
  return Object.hasOwn(DEBIAN_RELEASES, codename) ? DEBIAN_RELEASES[codename] : undefined;
}

/**
 * Codename -> major version from the security tracker's `data/config.json` (its `distributions`
 * object) or from a `{codename: {"major-version": "12"}}` table such as vuln-list's
 * `static-distributions.json`. A distribution without `major-version` takes the built-in number
 * when `DEBIAN_RELEASES` knows it and is left out otherwise; sid is always left out (it is rolling).
 * Throws InvalidAdvisoryError when `text` is not such a document.
 */
export function debianReleasesFromConfig(text: string): Record<string, string> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new InvalidAdvisoryError('debian-tracker config', null, [
      `not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    ]);
  }
  if (!isObject(document)) {
    throw new InvalidAdvisoryError('debian-tracker config', null, ['the document must be a JSON object']);
  }
  const distributions = isObject(document.distributions) ? document.distributions : document;
  const releases: Record<string, string> = {};
  for (const [codename, entry] of Object.entries(distributions)) {
    if (ROLLING.has(codename) || !isObject(entry)) continue;
    const major = entry['major-version'];
    if (typeof major === 'string' && /^\d+(?:\.\d+)?$/.test(major)) {
      releases[codename] = major;
    } else if (typeof major === 'number' && Number.isInteger(major)) {
      releases[codename] = String(major);
    } else if (Object.hasOwn(DEBIAN_RELEASES, codename)) {
      releases[codename] = DEBIAN_RELEASES[codename]!;
    }
  }
  return releases;
}
