import { InvalidInventoryError } from '../../errors.js';
import type { InstalledPackage } from '../../types/inventory.js';

const DESC_FORMAT = 'pacman-desc';
const DB_FORMAT = 'pacman-local-db';

/** The sections read; each must hold exactly one value line when present. */
const SINGLE_VALUED = new Set(['NAME', 'VERSION', 'BASE', 'ARCH']);

/** Files of a local db entry dir other than `desc`, and the db's version stamp: not packages. */
const NOT_PACKAGES = new Set(['files', 'mtree', 'install', 'changelog', 'ALPM_DB_VERSION']);

/**
 * Parses one `local/<name>-<version>/desc` file of pacman's local database (libalpm
 * be_local.c): sections `%KEY%` on a line of their own, followed by value lines up to a blank
 * line. Reads `%NAME%`, `%VERSION%` (the full `[epoch:]pkgver-pkgrel`), `%BASE%` (the source:
 * pkgbase with the package's version; null when the section is absent, as in files written by
 * pacman before 4.1) and `%ARCH%` (null when absent). Other sections are skipped unread.
 *
 * Throws InvalidInventoryError with the 1-based line number for a value line outside a section,
 * no value or a second value in NAME, VERSION, BASE or ARCH, a repeated section, a missing NAME
 * or VERSION, an empty file, and text whose last line has no newline (a truncated file).
 */
export function parsePacmanDesc(text: string, source?: string): InstalledPackage {
  return readPackage(text, source).pkg;
}

function readPackage(text: string, source: string | undefined): { pkg: InstalledPackage; nameLine: number } {
  const fields = readDesc(text, source);
  const name = fields.get('NAME');
  const version = fields.get('VERSION');
  const lastLine = countLines(text);
  if (name === undefined) throw new InvalidInventoryError(DESC_FORMAT, lastLine, 'no %NAME% section', source);
  if (version === undefined)
    throw new InvalidInventoryError(DESC_FORMAT, lastLine, 'no %VERSION% section', source);
  const base = fields.get('BASE');
  const arch = fields.get('ARCH');
  const pkg: InstalledPackage = {
    name: name.value,
    version: version.value,
    architecture: arch === undefined ? null : arch.value,
    source: base === undefined ? null : { name: base.value, version: version.value },
    ecosystem: 'alpm',
  };
  return { pkg, nameLine: name.line };
}

interface DescField {
  value: string;
  /** 1-based line of the `%KEY%` header. */
  line: number;
}

/** The single-valued sections of a desc file, checking the whole file's structure. */
function readDesc(text: string, source: string | undefined): Map<string, DescField> {
  const fields = new Map<string, DescField>();
  const seen = new Set<string>();
  const fail = (line: number, detail: string): never => {
    throw new InvalidInventoryError(DESC_FORMAT, line, detail, source);
  };
  if (text === '') fail(1, 'file is empty');

  let key: string | null = null;
  let keyLine = 0;
  let values = 0;
  let start = 0;
  let line = 0;
  while (start < text.length) {
    line++;
    const end = text.indexOf('\n', start);
    if (end < 0) fail(line, 'last line has no newline: the file is truncated');
    const content = text.slice(start, end);
    start = end + 1;

    if (key === null) {
      if (content === '') continue;
      if (content.length < 3 || !content.startsWith('%') || !content.endsWith('%')) {
        fail(line, `expected a %SECTION% header, found ${JSON.stringify(content)}`);
      }
      key = content.slice(1, -1);
      if (seen.has(key)) fail(line, `section %${key}% appears twice`);
      seen.add(key);
      keyLine = line;
      values = 0;
    } else if (content === '') {
      // Only the sections we read must have a value: libalpm writes e.g. an empty %DESC% as is.
      if (values === 0 && SINGLE_VALUED.has(key)) fail(keyLine, `section %${key}% has no value`);
      key = null;
    } else {
      values++;
      if (SINGLE_VALUED.has(key)) {
        if (values > 1) fail(line, `section %${key}% has more than one value`);
        fields.set(key, { value: content, line: keyLine });
      }
    }
  }
  // pacman ends the last section with a blank line; files trimmed of it are accepted.
  if (key !== null && values === 0 && SINGLE_VALUED.has(key)) fail(keyLine, `section %${key}% has no value`);
  return fields;
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Parses the files of a pacman local database directory (`/var/lib/pacman/local`), given as
 * paths and contents: each `<name>-<version>/desc` is one package, whose directory name must be
 * `%NAME%-%VERSION%` as libalpm names it. `ALPM_DB_VERSION` and the other per-package files
 * (`files`, `mtree`, `install`, `changelog`) are not packages and are skipped. Paths may be
 * relative or absolute, with `/` separators. The result is sorted by name.
 *
 * Throws InvalidInventoryError (with the entry's path as source) for a desc file that
 * `parsePacmanDesc` rejects, a directory name that disagrees with its desc, a desc file not in a
 * directory, a file of unknown kind, and two entries for the same package name.
 */
export function parsePacmanLocalDb(entries: Array<{ path: string; text: string }>): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  const byName = new Map<string, string>();
  for (const { path, text } of entries) {
    const parts = path.split('/').filter((p) => p !== '');
    const file = parts.at(-1) ?? '';
    if (NOT_PACKAGES.has(file)) continue;
    if (file !== 'desc')
      throw new InvalidInventoryError(DB_FORMAT, 1, `unexpected file ${JSON.stringify(file)}`, path);
    const dir = parts.at(-2);
    if (dir === undefined)
      throw new InvalidInventoryError(DB_FORMAT, 1, 'desc file is not in a package directory', path);

    const { pkg, nameLine } = readPackage(text, path);
    if (dir !== `${pkg.name}-${pkg.version}`) {
      throw new InvalidInventoryError(
        DB_FORMAT,
        nameLine,
        `directory ${JSON.stringify(dir)} does not match %NAME%-%VERSION% ${JSON.stringify(`${pkg.name}-${pkg.version}`)}`,
        path,
      );
    }
    const other = byName.get(pkg.name);
    if (other !== undefined) {
      throw new InvalidInventoryError(
        DB_FORMAT,
        1,
        `package ${pkg.name} is also installed as ${other}`,
        path,
      );
    }
    byName.set(pkg.name, path);
    packages.push(pkg);
  }
  return packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
