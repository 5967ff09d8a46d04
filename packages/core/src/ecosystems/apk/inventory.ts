import { InvalidInventoryError } from '../../errors.js';
import type { InstalledPackage } from '../../types/inventory.js';
import { checkApkVersion } from './version.js';

const FORMAT = 'apk-installed';

// apk-tools writes a record as C P V A S I T U L o, then optional m t c k D p i and the file
// database (r q s f F M R a Z g), then a blank line (apk_pkg_write_index_header,
// apk_db_fdb_write). A field from the second group shows that P, V, A and o are all there.
const FIELDS_AFTER_ORIGIN = new Set([
  'm',
  't',
  'c',
  'k',
  'D',
  'p',
  'i',
  'r',
  'q',
  's',
  'f',
  'F',
  'M',
  'R',
  'a',
  'Z',
  'g',
]);

interface OpenRecord {
  firstLine: number;
  name: string | null;
  version: string | null;
  architecture: string | null;
  origin: string | null;
  hasFieldAfterOrigin: boolean;
}

function isAsciiLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/**
 * Parses apk's database of installed packages (`/lib/apk/db/installed`): records separated by
 * blank lines, one `X:value` field a line with a one-letter key. Reads `P` (name), `V`
 * (version), `A` (architecture) and `o` (origin, the aport the package was built from, which
 * becomes `source` with the package's version); every other key is ignored.
 *
 * Throws InvalidInventoryError with the 1-based line when the text is truncated or corrupt: a
 * last line without its newline, a last record cut before the fields apk writes after `o`
 * (see FIELDS_AFTER_ORIGIN), a line that is not `X:value`, a record without `P` or `V` or with
 * two of either, or a version apk-tools rejects. An empty text is an empty database. A cut
 * exactly at a record boundary leaves a valid, shorter database and cannot be detected.
 *
 * @param source names the file in error messages.
 */
export function parseApkInstalled(text: string, source?: string): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  let record: OpenRecord | null = null;
  let lineNumber = 0;
  let start = 0;

  function fail(line: number, detail: string): never {
    throw new InvalidInventoryError(FORMAT, line, detail, source);
  }

  function close(open: OpenRecord): void {
    if (open.name === null) fail(open.firstLine, `the record starting here has no P: (package name)`);
    if (open.version === null) {
      fail(open.firstLine, `the record of ${open.name}, starting here, has no V: (version)`);
    }
    packages.push({
      name: open.name,
      version: open.version,
      architecture: open.architecture,
      source: open.origin === null ? null : { name: open.origin, version: open.version },
      ecosystem: 'apk',
    });
  }

  while (start < text.length) {
    lineNumber++;
    const end = text.indexOf('\n', start);
    if (end < 0) {
      fail(lineNumber, 'the last line has no newline: the file is truncated');
    }
    const line = text.slice(start, end);
    start = end + 1;

    if (line.length === 0) {
      if (record !== null) close(record);
      record = null;
      continue;
    }
    if (line.length < 2 || line.charCodeAt(1) !== 58 || !isAsciiLetter(line.charCodeAt(0))) {
      fail(
        lineNumber,
        `expected a field "X:value" or a blank line, got ${JSON.stringify(line.slice(0, 40))}`,
      );
    }
    record ??= {
      firstLine: lineNumber,
      name: null,
      version: null,
      architecture: null,
      origin: null,
      hasFieldAfterOrigin: false,
    };
    const key = line[0]!;
    const value = line.slice(2);
    if (FIELDS_AFTER_ORIGIN.has(key)) record.hasFieldAfterOrigin = true;
    switch (key) {
      case 'P':
        if (record.name !== null) {
          fail(
            lineNumber,
            `second P: in the record of ${record.name} (a blank line between records is missing)`,
          );
        }
        if (value.length === 0) fail(lineNumber, 'P: (package name) is empty');
        record.name = value;
        break;
      case 'V': {
        if (record.version !== null) {
          fail(lineNumber, `second V: in one record (a blank line between records is missing)`);
        }
        const error = checkApkVersion(value);
        if (error !== null) fail(lineNumber, error.message);
        record.version = value;
        break;
      }
      case 'A':
        record.architecture = value.length > 0 ? value : null;
        break;
      case 'o':
        record.origin = value.length > 0 ? value : null;
        break;
      default:
        break;
    }
  }
  if (record !== null) {
    // apk ends every record with a blank line. Copies often lose the last one, so an open last
    // record is kept when it reached the fields after o:; otherwise its A: or o: may be cut off.
    if (!record.hasFieldAfterOrigin) {
      fail(
        lineNumber,
        `the last record ends without a blank line before any field apk writes after o: ` +
          `(m:, t:, c:, D:, F:, R:, ...): the file is truncated`,
      );
    }
    close(record);
  }
  return packages;
}
