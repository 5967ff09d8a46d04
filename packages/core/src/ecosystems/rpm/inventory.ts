import { InvalidInventoryError } from '../../errors.js';
import type { InstalledPackage } from '../../types/inventory.js';

const FORMAT = 'rpm-qa';

/**
 * The `--queryformat` whose output `parseRpmQa` reads, written as rpm expects it on its command
 * line (rpm turns the `\t` and `\n` escapes into a tab and a newline):
 * `rpm -qa --queryformat "$RPM_QA_QUERY_FORMAT"`.
 */
export const RPM_QA_QUERY_FORMAT =
  '%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n';

const FIELDS = ['NAME', 'EPOCHNUM', 'VERSION', 'RELEASE', 'ARCH', 'SOURCERPM'] as const;

/** What rpm prints for a tag the header does not have. */
const NONE = '(none)';

/** `rpm -qa` prints EPOCHNUM as an unsigned decimal (0 when the package has no epoch). */
const EPOCHNUM = /^(?:0|[1-9][0-9]{0,9})$/;

/**
 * Parses the output of `rpm -qa --queryformat` with `RPM_QA_QUERY_FORMAT`: one package per line,
 * six tab-separated fields. The version is `EPOCH:VERSION-RELEASE`, without `EPOCH:` when it is 0;
 * the source is the name and version read from the SOURCERPM file name (`openssl-3.0.7-27.el9.src.rpm`
 * gives `openssl` and `3.0.7-27.el9`, the binary's epoch prefixed when not 0), or null when rpm
 * prints `(none)`. `gpg-pubkey` pseudo-packages (imported signing keys) are skipped. Lines keep
 * rpm's order. Empty text is an empty database.
 *
 * Throws InvalidInventoryError with the 1-based line number for a line without six fields, an
 * empty NAME, VERSION, RELEASE or ARCH, an EPOCHNUM that is not a number, a SOURCERPM that is not
 * `NAME-VERSION-RELEASE.src.rpm` (or `.nosrc.rpm`), and a last line without its newline (the
 * output was cut short).
 */
export function parseRpmQa(text: string, source?: string): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  let start = 0;
  let line = 0;
  while (start < text.length) {
    line++;
    const end = text.indexOf('\n', start);
    if (end < 0) {
      throw new InvalidInventoryError(
        FORMAT,
        line,
        'last line has no newline: the output is truncated',
        source,
      );
    }
    const fields = text.slice(start, end).split('\t');
    start = end + 1;
    const fail = (detail: string): never => {
      throw new InvalidInventoryError(FORMAT, line, detail, source);
    };

    if (fields.length !== FIELDS.length) {
      fail(`expected ${FIELDS.length} tab-separated fields (${FIELDS.join(' ')}), found ${fields.length}`);
    }
    const [name, epoch, version, release, arch, sourceRpm] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if (name === '') fail('NAME is empty');
    if (!EPOCHNUM.test(epoch)) fail(`EPOCHNUM ${JSON.stringify(epoch)} is not a number`);
    if (name === 'gpg-pubkey' && sourceRpm === NONE) continue;
    if (version === '') fail('VERSION is empty');
    if (release === '') fail('RELEASE is empty');
    if (arch === '') fail('ARCH is empty');

    const epochPrefix = epoch === '0' ? '' : `${epoch}:`;
    packages.push({
      name,
      version: `${epochPrefix}${version}-${release}`,
      architecture: arch === NONE ? null : arch,
      source: sourceRpm === NONE ? null : parseSourceRpm(sourceRpm, epochPrefix, fail),
      ecosystem: 'rpm',
    });
  }
  return packages;
}

/** `NAME-VERSION-RELEASE.src.rpm` or `.nosrc.rpm` (NoSource packages), split from the right. */
function parseSourceRpm(
  fileName: string,
  epochPrefix: string,
  fail: (detail: string) => never,
): { name: string; version: string } {
  const suffix = fileName.endsWith('.src.rpm') ? 8 : fileName.endsWith('.nosrc.rpm') ? 10 : -1;
  const nvr = suffix < 0 ? '' : fileName.slice(0, -suffix);
  const releaseDash = nvr.lastIndexOf('-');
  const versionDash = releaseDash > 0 ? nvr.lastIndexOf('-', releaseDash - 1) : -1;
  if (versionDash <= 0 || releaseDash === versionDash + 1 || releaseDash === nvr.length - 1) {
    return fail(`SOURCERPM ${JSON.stringify(fileName)} is not NAME-VERSION-RELEASE.src.rpm`);
  }
  return { name: nvr.slice(0, versionDash), version: `${epochPrefix}${nvr.slice(versionDash + 1)}` };
}
