import { isObject } from '../common.js';

/**
 * The raw OSV record shapes (OSV schema 1.7, https://ossf.github.io/osv-schema/), as far as
 * Patchwarden reads them, and a validator that checks a parsed JSON value against them. Optional
 * arrays read as empty and optional strings as null. Only `parse.ts` uses these types.
 */

export type OsvEventKind = 'introduced' | 'fixed' | 'last_affected' | 'limit';

export interface OsvEvent {
  kind: OsvEventKind;
  version: string;
}

export interface OsvRange {
  type: string;
  events: OsvEvent[];
}

export interface OsvSeverity {
  type: string;
  score: string;
}

export interface OsvAffected {
  /** Null when the entry has no `package` (allowed for GIT-only entries). */
  package: { ecosystem: string; name: string } | null;
  ranges: OsvRange[];
  versions: string[];
  severity: OsvSeverity[];
  ecosystemSpecific: Record<string, unknown> | null;
  databaseSpecific: Record<string, unknown> | null;
}

export interface OsvRecord {
  id: string;
  modified: string | null;
  published: string | null;
  withdrawn: string | null;
  aliases: string[];
  upstream: string[];
  related: string[];
  summary: string | null;
  details: string | null;
  severity: OsvSeverity[];
  affected: OsvAffected[];
  references: string[];
  databaseSpecific: Record<string, unknown> | null;
}

const EVENT_KINDS: ReadonlySet<string> = new Set<OsvEventKind>([
  'introduced',
  'fixed',
  'last_affected',
  'limit',
]);

function isEventKind(key: string): key is OsvEventKind {
  return EVENT_KINDS.has(key);
}

/**
 * Checks `raw` against the OSV shapes and returns the typed record. Every problem is appended to
 * `issues` as `<field path> <problem>`; when `issues` grew, the returned record must not be used.
 */
export function readOsvRecord(raw: unknown, issues: string[]): OsvRecord {
  const r = new Reader(issues);
  if (!isObject(raw)) {
    issues.push('the record must be a JSON object');
    return emptyRecord();
  }
  const id = raw.id;
  if (typeof id !== 'string' || id.trim() === '') issues.push('id must be a non-empty string');
  return {
    id: typeof id === 'string' ? id : '',
    modified: r.optString(raw, 'modified', 'modified'),
    published: r.optString(raw, 'published', 'published'),
    withdrawn: r.optString(raw, 'withdrawn', 'withdrawn'),
    aliases: r.stringArray(raw, 'aliases', 'aliases'),
    upstream: r.stringArray(raw, 'upstream', 'upstream'),
    related: r.stringArray(raw, 'related', 'related'),
    summary: r.optString(raw, 'summary', 'summary'),
    details: r.optString(raw, 'details', 'details'),
    severity: r.severities(raw, 'severity'),
    affected: r.array(raw, 'affected', 'affected').map((item, i) => r.affected(item, `affected[${i}]`)),
    references: r.references(raw),
    databaseSpecific: r.optObject(raw, 'database_specific', 'database_specific'),
  };
}

function emptyRecord(): OsvRecord {
  return {
    id: '',
    modified: null,
    published: null,
    withdrawn: null,
    aliases: [],
    upstream: [],
    related: [],
    summary: null,
    details: null,
    severity: [],
    affected: [],
    references: [],
    databaseSpecific: null,
  };
}

class Reader {
  constructor(private readonly issues: string[]) {}

  optString(obj: Record<string, unknown>, key: string, path: string): string | null {
    const value = obj[key];
    if (value === undefined || value === null) return null;
    if (typeof value === 'string') return value;
    this.issues.push(`${path} must be a string`);
    return null;
  }

  optObject(obj: Record<string, unknown>, key: string, path: string): Record<string, unknown> | null {
    const value = obj[key];
    if (value === undefined || value === null) return null;
    if (isObject(value)) return value;
    this.issues.push(`${path} must be an object`);
    return null;
  }

  array(obj: Record<string, unknown>, key: string, path: string): unknown[] {
    const value = obj[key];
    if (value === undefined || value === null) return [];
    if (Array.isArray(value)) return value;
    this.issues.push(`${path} must be an array`);
    return [];
  }

  stringArray(obj: Record<string, unknown>, key: string, path: string): string[] {
    const strings: string[] = [];
    for (const [i, value] of this.array(obj, key, path).entries()) {
      if (typeof value === 'string') strings.push(value);
      else this.issues.push(`${path}[${i}] must be a string`);
    }
    return strings;
  }

  severities(obj: Record<string, unknown>, path: string): OsvSeverity[] {
    const severities: OsvSeverity[] = [];
    for (const [i, value] of this.array(obj, 'severity', path).entries()) {
      if (isObject(value) && typeof value.type === 'string' && typeof value.score === 'string') {
        severities.push({ type: value.type, score: value.score });
      } else {
        this.issues.push(`${path}[${i}] must be an object with string type and score`);
      }
    }
    return severities;
  }

  references(obj: Record<string, unknown>): string[] {
    const urls: string[] = [];
    for (const [i, value] of this.array(obj, 'references', 'references').entries()) {
      if (isObject(value) && typeof value.url === 'string') urls.push(value.url);
      else this.issues.push(`references[${i}] must be an object with a string url`);
    }
    return urls;
  }

  affected(value: unknown, path: string): OsvAffected {
    if (!isObject(value)) {
      this.issues.push(`${path} must be an object`);
      return {
        package: null,
        ranges: [],
        versions: [],
        severity: [],
        ecosystemSpecific: null,
        databaseSpecific: null,
      };
    }
    let pkg: OsvAffected['package'] = null;
    if (value.package !== undefined && value.package !== null) {
      const raw = value.package;
      if (isObject(raw) && typeof raw.ecosystem === 'string' && typeof raw.name === 'string') {
        pkg = { ecosystem: raw.ecosystem, name: raw.name };
      } else {
        this.issues.push(`${path}.package must be an object with string ecosystem and name`);
      }
    }
    return {
      package: pkg,
      ranges: this.array(value, 'ranges', `${path}.ranges`).map((range, i) =>
        this.range(range, `${path}.ranges[${i}]`),
      ),
      versions: this.stringArray(value, 'versions', `${path}.versions`),
      severity: this.severities(value, `${path}.severity`),
      ecosystemSpecific: this.optObject(value, 'ecosystem_specific', `${path}.ecosystem_specific`),
      databaseSpecific: this.optObject(value, 'database_specific', `${path}.database_specific`),
    };
  }

  range(value: unknown, path: string): OsvRange {
    if (!isObject(value) || typeof value.type !== 'string') {
      this.issues.push(`${path} must be an object with a string type`);
      return { type: '', events: [] };
    }
    const rawEvents = value.events;
    if (!Array.isArray(rawEvents) || rawEvents.length === 0) {
      this.issues.push(`${path}.events must be a non-empty array`);
      return { type: value.type, events: [] };
    }
    const events: OsvEvent[] = [];
    for (const [i, event] of rawEvents.entries()) {
      const keys = isObject(event) ? Object.keys(event) : [];
      const kind = keys[0];
      if (!isObject(event) || keys.length !== 1 || kind === undefined || !isEventKind(kind)) {
        this.issues.push(
          `${path}.events[${i}] must have exactly one of introduced, fixed, last_affected, limit`,
        );
        continue;
      }
      const version = event[kind];
      if (typeof version !== 'string' || version === '') {
        this.issues.push(`${path}.events[${i}].${kind} must be a non-empty string`);
        continue;
      }
      events.push({ kind, version });
    }
    return { type: value.type, events };
  }
}
