import { InvalidInventoryError } from '../../errors.js';
import type { InstalledPackage } from '../../types/inventory.js';
import { checkDebVersion } from './version.js';

const FORMAT = 'dpkg-status';

// Status: <want> <error flag> <state>, as dpkg's f_status() reads it (lib/dpkg/fields.c).
const WANTS = new Set(['unknown', 'install', 'hold', 'deinstall', 'purge']);
const FLAGS = new Set(['ok', 'reinstreq']);
const STATES = new Set([
  'not-installed',
  'config-files',
  'half-installed',
  'unpacked',
  'half-configured',
  'triggers-awaited',
  'triggers-pending',
  'installed',
]);
// Unpacked and configured. triggers-* only wait for another package's trigger to run and satisfy
// dependencies like `installed` does; the want word (hold, deinstall, purge) is a wish, not a state.
const KEPT_STATES = new Set(['installed', 'triggers-awaited', 'triggers-pending']);

// Fields we read must fit on one line; any other field may go on over continuation lines.
const ONE_LINE_FIELDS = new Set(['package', 'status', 'version', 'architecture', 'source']);

// dpkg's pkg_name_is_illegal() and dpkg_arch_name_is_illegal() (lib/dpkg/parsehelp.c, arch.c).
const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9+._-]*$/;
const ARCH_NAME = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
// deb822(5): printable US-ASCII but not colon, not starting with `#` or `-`.
const FIELD_NAME = /^[!"$-,.-9;-~][!-9;-~]*$/;
const SOURCE_VALUE = /^(\S+)(?:[ \t]+\((.*)\))?$/;

interface Field {
  value: string;
  line: number;
}

interface Stanza {
  firstLine: number;
  lastLine: number;
  fields: Map<string, Field>;
}

/**
 * The installed packages in a dpkg status file (`/var/lib/dpkg/status`), in file order.
 *
 * Keeps stanzas whose state is `installed` (or `triggers-pending`/`triggers-awaited`), whatever
 * the want word (`install`, `hold`, `deinstall`, …); skips `config-files`, `not-installed`, and
 * half-installed or unpacked ones. A Multi-Arch: same package installed for two architectures is
 * two entries. `version` is the Version field as written (epoch kept); `source` comes from
 * `Source: name` or `Source: name (version)`, and is the package itself when there is no Source.
 *
 * Throws InvalidInventoryError, with the 1-based line and `source` (a file name for messages),
 * when the text is corrupt or truncated: a line that is neither `Field: value` nor a continuation,
 * a repeated field, a stanza without Package, Status or (unless not-installed) Version, a bad
 * Status, package name, architecture or Source, a version dpkg would not accept (see
 * `checkDebVersion`), the same package and architecture twice, or a last line without its newline.
 */
export function parseDpkgStatus(text: string, source?: string): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  const seen = new Set<string>();
  for (const stanza of readStanzas(text, source)) {
    const pkg = toInstalledPackage(stanza, source);
    if (pkg === null) continue;
    const key = `${pkg.name}:${pkg.architecture ?? ''}`;
    if (seen.has(key)) {
      const line = stanza.fields.get('package')!.line;
      throw new InvalidInventoryError(FORMAT, line, `package ${key} appears twice`, source);
    }
    seen.add(key);
    packages.push(pkg);
  }
  return packages;
}

function* readStanzas(text: string, source: string | undefined): Generator<Stanza> {
  const lines = text.split('\n');
  // split() leaves one empty string after a final newline; anything else there was cut short.
  const last = lines.pop()!;
  if (last !== '') {
    const lineNo = lines.length + 1;
    throw new InvalidInventoryError(
      FORMAT,
      lineNo,
      'last line has no newline: the file is truncated',
      source,
    );
  }

  let stanza: Stanza | null = null;
  let current: { name: string; field: Field } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const lineNo = i + 1;
    if (line.trim() === '') {
      if (stanza !== null) yield stanza;
      stanza = null;
      current = null;
      continue;
    }
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) {
      if (current === null) {
        throw new InvalidInventoryError(
          FORMAT,
          lineNo,
          'continuation line without a field before it',
          source,
        );
      }
      if (ONE_LINE_FIELDS.has(current.name)) {
        const where = `field ${current.name} (line ${current.field.line})`;
        throw new InvalidInventoryError(FORMAT, lineNo, `${where} must fit on one line`, source);
      }
      if (stanza !== null) stanza.lastLine = lineNo;
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!FIELD_NAME.test(name)) {
      const shown = JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line);
      throw new InvalidInventoryError(FORMAT, lineNo, `expected "Field: value", got ${shown}`, source);
    }
    stanza ??= { firstLine: lineNo, lastLine: lineNo, fields: new Map() };
    stanza.lastLine = lineNo;
    // Field names are case-insensitive (deb822(5)).
    const key = name.toLowerCase();
    const previous = stanza.fields.get(key);
    if (previous !== undefined) {
      const detail = `field ${name} repeats the one on line ${previous.line}`;
      throw new InvalidInventoryError(FORMAT, lineNo, detail, source);
    }
    const field = { value: line.slice(colon + 1).trim(), line: lineNo };
    stanza.fields.set(key, field);
    current = { name: key, field };
  }
  if (stanza !== null) yield stanza;
}

function toInstalledPackage(stanza: Stanza, source: string | undefined): InstalledPackage | null {
  const { fields } = stanza;
  const fail = (line: number, detail: string): never => {
    throw new InvalidInventoryError(FORMAT, line, detail, source);
  };
  const where = `stanza on lines ${stanza.firstLine}-${stanza.lastLine}`;

  const packageField = fields.get('package') ?? fail(stanza.firstLine, `${where} has no Package field`);
  const name = packageField.value;
  if (!PACKAGE_NAME.test(name)) fail(packageField.line, `invalid package name ${JSON.stringify(name)}`);

  const statusField = fields.get('status') ?? fail(stanza.lastLine, `${where} (${name}) has no Status field`);
  const words = statusField.value.split(/[ \t]+/);
  const [want, flag, state] = words;
  if (words.length !== 3 || !WANTS.has(want!) || !FLAGS.has(flag!) || !STATES.has(state!)) {
    fail(statusField.line, `invalid Status ${JSON.stringify(statusField.value)} for ${name}`);
  }

  const versionField = fields.get('version');
  if (versionField === undefined) {
    if (state === 'not-installed') return null;
    return fail(stanza.lastLine, `${where} (${name}, ${state}) has no Version field`);
  }
  const version = versionField.value;
  const versionError = checkDebVersion(version);
  if (versionError !== null) fail(versionField.line, `${name}: ${versionError.message}`);

  const archField = fields.get('architecture');
  const architecture = archField === undefined ? null : archField.value;
  if (archField !== undefined && !ARCH_NAME.test(archField.value)) {
    fail(archField.line, `invalid Architecture ${JSON.stringify(archField.value)} for ${name}`);
  }

  let sourcePackage = { name, version };
  const sourceField = fields.get('source');
  if (sourceField !== undefined) {
    const match = SOURCE_VALUE.exec(sourceField.value);
    const sourceName = match?.[1];
    const sourceVersion = match?.[2] ?? version;
    if (sourceName === undefined || !PACKAGE_NAME.test(sourceName)) {
      fail(sourceField.line, `invalid Source ${JSON.stringify(sourceField.value)} for ${name}`);
    }
    const sourceVersionError = checkDebVersion(sourceVersion);
    if (sourceVersionError !== null) fail(sourceField.line, `${name}: Source ${sourceVersionError.message}`);
    sourcePackage = { name: sourceName!, version: sourceVersion.trim() };
  }

  if (!KEPT_STATES.has(state!)) return null;
  return { name, version, architecture, source: sourcePackage, ecosystem: 'deb' };
}
