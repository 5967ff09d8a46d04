import { readFileSync } from 'node:fs';
import { PatchwardenError } from '@patchwarden/core';
import { type Static, type TSchema, Type } from 'typebox';
import { Value } from 'typebox/value';
import { parse as parseYaml } from 'yaml';

/** One configured advisory source, synced on its schedule; also manageable through the API. */
export const FeedConfigSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    kind: Type.Union(
      [
        Type.Literal('auto'),
        Type.Literal('osv'),
        Type.Literal('debian-tracker'),
        Type.Literal('debian-dsa-list'),
        Type.Literal('alpine-secdb'),
        Type.Literal('kev'),
        Type.Literal('epss'),
      ],
      { default: 'auto' },
    ),
    location: Type.String({ minLength: 1, description: 'an http(s) URL or a local file or directory' }),
    scheduleSeconds: Type.Union([Type.Integer({ minimum: 60 }), Type.Null()], { default: 86_400 }),
  },
  { additionalProperties: false },
);

/**
 * Every setting, with its default, environment variable (`env`) and meaning. Read once by
 * `loadConfig` from flags, then environment, then the YAML file, then defaults; frozen after.
 */
export const ConfigSchema = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', env: 'PATCHWARDEN_HOST', description: 'address to listen on' }),
    port: Type.Integer({
      minimum: 0,
      maximum: 65_535,
      default: 8080,
      env: 'PATCHWARDEN_PORT',
      description: 'TCP port to listen on (0 picks a free one)',
    }),
    dataDir: Type.String({
      default: 'patchwarden-data',
      env: 'PATCHWARDEN_DATA_DIR',
      description: 'directory of the SQLite database and the feed cache',
    }),
    databaseUrl: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: null,
      env: 'PATCHWARDEN_DATABASE_URL',
      description: 'postgres:// URL; unset means the embedded SQLite database under dataDir',
    }),
    logLevel: Type.Union(
      [
        Type.Literal('fatal'),
        Type.Literal('error'),
        Type.Literal('warn'),
        Type.Literal('info'),
        Type.Literal('debug'),
        Type.Literal('trace'),
        Type.Literal('silent'),
      ],
      { default: 'info', env: 'PATCHWARDEN_LOG_LEVEL', description: 'pino log level' },
    ),
    bootstrapToken: Type.Union([Type.String({ pattern: '^pwt_[A-Za-z0-9_-]{32,}$' }), Type.Null()], {
      default: null,
      env: 'PATCHWARDEN_BOOTSTRAP_TOKEN',
      description:
        "the first admin's API token on an empty database: pwt_ and at least 32 of [A-Za-z0-9_-]; unset prints a random one once",
    }),
    bodyLimitBytes: Type.Integer({
      minimum: 1024,
      default: 8 * 1024 * 1024,
      env: 'PATCHWARDEN_BODY_LIMIT_BYTES',
      description: 'largest request body, after gzip decompression',
    }),
    checkinIntervalSeconds: Type.Integer({
      minimum: 5,
      default: 300,
      env: 'PATCHWARDEN_CHECKIN_INTERVAL_SECONDS',
      description: 'how often agents are told to check in',
    }),
    tokenTtlDays: Type.Integer({
      minimum: 1,
      default: 90,
      env: 'PATCHWARDEN_TOKEN_TTL_DAYS',
      description: 'lifetime of an API token created without an explicit expiry',
    }),
    schedulerIntervalSeconds: Type.Number({
      minimum: 0.05,
      default: 30,
      env: 'PATCHWARDEN_SCHEDULER_INTERVAL_SECONDS',
      description: 'how often a replica looks for due feed syncs and timed-out jobs',
    }),
    feeds: Type.Array(FeedConfigSchema, {
      default: [],
      description: 'advisory sources created (or updated) at start; more can be added through the API',
    }),
  },
  { additionalProperties: false },
);

export type Config = Readonly<Static<typeof ConfigSchema>>;
export type FeedConfig = Static<typeof FeedConfigSchema>;

export interface ConfigSources {
  /** Settings given as flags, by setting name; they win over everything else. */
  flags?: Partial<Record<keyof Config, unknown>>;
  /** The environment to read `PATCHWARDEN_*` variables from. */
  env?: Record<string, string | undefined>;
  /** A YAML file with settings by name (camelCase), e.g. `port: 8080`. */
  file?: string;
}

/**
 * Reads the configuration: flags, then environment variables, then the YAML file, then defaults.
 * Every problem is collected and reported together (`INVALID_CONFIG`, 400); the result is frozen.
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const problems: string[] = [];
  const merged: Record<string, unknown> = {};
  if (sources.file !== undefined) {
    Object.assign(merged, readConfigFile(sources.file, problems));
  }
  const env = sources.env ?? {};
  for (const [name, schema] of Object.entries(ConfigSchema.properties)) {
    const variable = (schema as { env?: string }).env;
    const text = variable === undefined ? undefined : env[variable];
    if (variable !== undefined && text !== undefined && text !== '') {
      merged[name] = coerceEnv(text, schema as { type?: unknown; anyOf?: unknown });
    }
  }
  for (const [name, value] of Object.entries(sources.flags ?? {})) {
    if (value !== undefined) {
      merged[name] = value;
    }
  }
  const withDefaults = Value.Default(ConfigSchema, Value.Clone(merged)) as Record<string, unknown>;
  const settings = ConfigSchema.properties as Record<string, TSchema>;
  for (const name of Object.keys(withDefaults)) {
    const schema = settings[name];
    if (schema === undefined) {
      problems.push(`${name}: not a setting (known: ${Object.keys(settings).join(', ')})`);
      continue;
    }
    problems.push(...settingProblems(name, schema, withDefaults[name]));
  }
  if (problems.length > 0) {
    throw new PatchwardenError('INVALID_CONFIG', `invalid configuration:\n  ${problems.join('\n  ')}`, 400);
  }
  const config = withDefaults as Config;
  return deepFreeze(config);
}

function readConfigFile(file: string, problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PatchwardenError('CONFIG_NOT_FOUND', `cannot read the config file ${file}`, 400, {
      cause: err,
    });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new PatchwardenError(
      'INVALID_CONFIG',
      `${file} is not valid YAML: ${err instanceof Error ? err.message : String(err)}`,
      400,
    );
  }
  if (parsed === null || parsed === undefined) {
    return {};
  }
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`${file}: must be a mapping of setting names to values`);
    return {};
  }
  return parsed as Record<string, unknown>;
}

/** One line per failing path of one setting; a choice among words says which words. */
function settingProblems(name: string, schema: TSchema, value: unknown): string[] {
  const lines = new Map<string, string>();
  for (const error of Value.Errors(schema, value)) {
    const path = `${name}${error.instancePath.replaceAll('/', '.')}`;
    if (!lines.has(path)) {
      lines.set(path, `${path}: ${error.message}`);
    }
  }
  const choices = (schema as { anyOf?: Array<{ const?: unknown }> }).anyOf;
  if (lines.size > 0 && choices?.every((choice) => choice.const !== undefined)) {
    return [`${name}: must be one of ${choices.map((choice) => String(choice.const)).join(', ')}`];
  }
  return [...lines.values()];
}

/** Environment variables are text; numbers and `null` are converted where the setting expects them. */
function coerceEnv(text: string, schema: { type?: unknown; anyOf?: unknown }): unknown {
  const types = new Set<unknown>([schema.type]);
  if (Array.isArray(schema.anyOf)) {
    for (const member of schema.anyOf) {
      types.add((member as { type?: unknown }).type);
    }
  }
  if ((types.has('integer') || types.has('number')) && /^-?\d+(\.\d+)?$/.test(text)) {
    return Number(text);
  }
  return text;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) {
      deepFreeze(inner);
    }
    Object.freeze(value);
  }
  return value;
}

/** Lines documenting every setting, for `serve --help` and docs/configuration.md. */
export function describeSettings(): string[] {
  return Object.entries(ConfigSchema.properties).map(([name, schema]) => {
    const s = schema as { env?: string; default?: unknown; description?: string };
    return `${name} (${s.env ?? 'file only'}; default ${JSON.stringify(s.default)}): ${s.description ?? ''}`;
  });
}
