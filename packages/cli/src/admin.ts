import type { ParseArgsConfig } from 'node:util';
import { type ParsedArgs, parseCommandArgs } from './args.js';
import { type ApiClient, createApiClient, formatTable, SERVER_OPTIONS } from './client.js';
import { EXIT, UsageError } from './errors.js';
import { type Io, write } from './io.js';

// The plumbing the admin commands (hosts, findings, feeds, jobs, tokens, …) share: parsing, `--help`,
// dispatch of the action, `--json` or text output, cursor paging, and the checks of common flag values.

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `parseCommandArgs`, and for `--help`/`-h` the usage (or `help`, when longer) printed to stdout:
 * null then, and the command returns EXIT.ok.
 */
export async function parseArgsOrHelp(
  args: string[],
  io: Io,
  options: Options,
  usage: string,
  help = usage,
): Promise<ParsedArgs | null> {
  const parsed = parseCommandArgs(args, options, usage);
  if (parsed.values.help) {
    await write(io.stdout, `${help}\n`);
    return null;
  }
  return parsed;
}

/** An admin command line: `patchwarden <command> ACTION REST… [flags]`. */
export interface AdminArgs extends ParsedArgs {
  action: string | undefined;
  rest: string[];
  /** `--json`: print the API's reply as JSON instead of a table. */
  json: boolean;
  /** The client for `--server`/`--token` (or PATCHWARDEN_URL/PATCHWARDEN_TOKEN); a usage error when either is missing. */
  client: () => ApiClient;
}

/** Parses an admin command line: `options` plus SERVER_OPTIONS (`--server`, `--token`, `--json`); null after `--help`. */
export async function parseAdminArgs(
  args: string[],
  io: Io,
  options: Options,
  usage: string,
): Promise<AdminArgs | null> {
  const parsed = await parseArgsOrHelp(args, io, { ...SERVER_OPTIONS, ...options }, usage);
  if (parsed === null) {
    return null;
  }
  const [action, ...rest] = parsed.positionals;
  return {
    ...parsed,
    action,
    rest,
    json: parsed.values.json === true,
    client: () => createApiClient(parsed.values, io),
  };
}

/** The handlers of an admin command's actions (`list`, `show`, `create`, …), by action. */
export type Actions = Readonly<Record<string, () => Promise<number>>>;

/** How a missing action is reported: `missing action` and the usage, or (`usage`) the usage alone. */
export interface DispatchOptions {
  what?: string;
  missing?: 'message' | 'usage';
}

/**
 * Runs an admin command: parses `args` (SERVER_OPTIONS plus `options`), prints the usage for
 * `--help`, and runs the handler that `actions` gives for the action.
 */
export async function runAdminCommand(
  args: string[],
  io: Io,
  usage: string,
  options: Options,
  actions: (parsed: AdminArgs) => Actions,
  dispatchOptions: DispatchOptions = {},
): Promise<number> {
  const parsed = await parseAdminArgs(args, io, options, usage);
  if (parsed === null) {
    return EXIT.ok;
  }
  return dispatch(parsed.action, actions(parsed), usage, dispatchOptions);
}

/**
 * Runs the handler of `action`. A missing or unknown action is a usage error: `missing action` /
 * `unknown action "x"` and the usage.
 */
export async function dispatch(
  action: string | undefined,
  handlers: Actions,
  usage: string,
  options: DispatchOptions = {},
): Promise<number> {
  const handler = action !== undefined && Object.hasOwn(handlers, action) ? handlers[action] : undefined;
  if (handler === undefined) {
    throw action === undefined && options.missing === 'usage'
      ? new UsageError(usage)
      : unknownAction(action, usage, options.what);
  }
  return handler();
}

/** The usage error for a missing (undefined) or unknown action. */
export function unknownAction(action: string | undefined, usage: string, what = 'action'): UsageError {
  return new UsageError(
    `${action === undefined ? `missing ${what}` : `unknown ${what} ${JSON.stringify(action)}`}\n${usage}`,
  );
}

/** Positional arguments after the action: exactly `count`, or a usage error. */
export function expectArgs(rest: readonly string[], count: number, usage: string): void {
  if (rest.length !== count) {
    throw new UsageError(`expected ${count} argument${count === 1 ? '' : 's'}, got ${rest.length}\n${usage}`);
  }
}

/** Prints `value` as indented JSON with `--json`, else `text` (a table or a description). */
export async function printResult(io: Io, json: boolean, value: unknown, text: string): Promise<void> {
  await write(io.stdout, json ? `${JSON.stringify(value, null, 2)}\n` : text);
}

/** Prints a created credential: JSON with `--json`, else its table and the secret, which is shown only this once. */
export async function printCreatedSecret(
  io: Io,
  json: boolean,
  created: { secret: string },
  table: string,
): Promise<void> {
  if (json) {
    await printResult(io, json, created, '');
    return;
  }
  await write(io.stdout, table);
  await write(io.stdout, `\nsecret: ${created.secret}\nThis secret is shown once; store it now.\n`);
}

/**
 * A flag's whole number from 1, or undefined when not given; otherwise a usage error
 * `<message>, got "<value>"`. `pattern` may narrow the accepted digits.
 */
export function positiveIntFlag(
  value: unknown,
  message: string,
  pattern = /^[1-9][0-9]*$/,
): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new UsageError(`${message}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

const DURATION_UNITS: Readonly<Record<string, number>> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 };

/** `90`, `90s`, `30m`, `2h`, `1d` → seconds; null when `text` is not such a duration. */
export function parseDuration(text: string): number | null {
  const match = /^(\d+)([smhd]?)$/.exec(text);
  const unit = DURATION_UNITS[match?.[2] ?? ''];
  if (match?.[1] === undefined || unit === undefined) {
    return null;
  }
  const seconds = Number(match[1]) * unit;
  return Number.isSafeInteger(seconds) ? seconds : null;
}

/** String flags named as the keys of `flags` (flag → query parameter), for `parseCommandArgs`. */
function stringOptions(flags: Readonly<Record<string, string>>): Options {
  return Object.fromEntries(Object.keys(flags).map((flag) => [flag, { type: 'string' as const }]));
}

/** The query parameters of the string flags given, named as in `flags` (flag → query parameter). */
function queryOf(values: ParsedArgs['values'], flags: Readonly<Record<string, string>>): URLSearchParams {
  const query = new URLSearchParams();
  for (const [flag, parameter] of Object.entries(flags)) {
    const value = values[flag];
    if (typeof value === 'string') query.set(parameter, value);
  }
  return query;
}

// A walk over every page stops here, far past any real fleet, so a server bug cannot loop forever.
const MAX_PAGES = 100_000;

/** GETs `path?query` page by page, following `nextCursor` in the `cursorParam` query parameter. */
export async function* walkPages<P extends { nextCursor: string | null }>(
  client: ApiClient,
  path: string,
  query: URLSearchParams,
  cursorParam = 'cursor',
): AsyncGenerator<P> {
  let cursor: string | null = null;
  for (let pages = 0; pages < MAX_PAGES; pages += 1) {
    const pageQuery = new URLSearchParams(query);
    if (cursor !== null) pageQuery.set(cursorParam, cursor);
    const page: P = await client.call<P>('GET', `${path}?${pageQuery.toString()}`);
    yield page;
    cursor = page.nextCursor;
    if (cursor === null) return;
  }
}

/** `T` as the API's JSON carries it: each Date an ISO string. */
export type Json<T> = {
  [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K];
};

/** A resource of `runListAndShowCommand`: its path, flags and how its items print. */
export interface ListAndShowResource<T, D> {
  /** `hosts`: the path under /api/v1, the key of the list in a page, and the word in "more hosts". */
  name: string;
  usage: string;
  /** String flags of `list` passed on as query parameters: flag → parameter. */
  listFlags: Readonly<Record<string, string>>;
  /** Further flags, that `filter` adds to the list's query. */
  options: Options;
  filter: (values: ParsedArgs['values'], query: URLSearchParams) => void;
  headers: readonly string[];
  row: (item: T) => unknown[];
  describe: (detail: D) => string;
}

/**
 * `patchwarden <resource> list|show`, over a cursor-paged resource at `/<resource>`
 * (`{ <resource>: T[], nextCursor }`) whose items are shown at `/<resource>/ID`: hosts, findings.
 * - `list [filters] [--limit N] [--cursor C | --all]`: one page, from `--cursor`, or with `--all`
 *   every page; `{ <resource>, nextCursor }` with `--json`, else a table and the next cursor on stderr.
 *   `listFlags` are string flags passed on as query parameters (flag → parameter; limit and cursor
 *   among them); `filter` adds the others (`options`) to the query.
 * - `show ID`: the detail as JSON or as `describe` prints it.
 */
export async function runListAndShowCommand<T, D>(
  args: string[],
  io: Io,
  resource: ListAndShowResource<T, D>,
): Promise<number> {
  const { usage } = resource;
  const options = {
    ...stringOptions(resource.listFlags),
    ...resource.options,
    all: { type: 'boolean' },
  } as const;
  return runAdminCommand(args, io, usage, options, (parsed) => listAndShowActions(io, parsed, resource));
}

function listAndShowActions<T, D>(io: Io, parsed: AdminArgs, resource: ListAndShowResource<T, D>): Actions {
  const { usage } = resource;
  const { values, rest, json } = parsed;
  return {
    list: async () => {
      expectArgs(rest, 0, usage);
      const isAll = values.all === true;
      if (isAll && values.cursor !== undefined) {
        throw new UsageError(`--all starts at the first page; it cannot be combined with --cursor\n${usage}`);
      }
      const query = queryOf(values, resource.listFlags);
      resource.filter(values, query);
      const items: T[] = [];
      let nextCursor: string | null = null;
      type Page = Record<string, unknown> & { nextCursor: string | null };
      for await (const page of walkPages<Page>(parsed.client(), `/${resource.name}`, query)) {
        items.push(...(page[resource.name] as T[]));
        nextCursor = page.nextCursor;
        if (!isAll) break;
      }
      const table = formatTable(resource.headers, items.map(resource.row));
      await printResult(io, json, { [resource.name]: items, nextCursor }, table);
      if (!json && nextCursor !== null) {
        await write(io.stderr, `more ${resource.name}: --cursor ${nextCursor} (or --all)\n`);
      }
      return EXIT.ok;
    },
    show: async () => {
      expectArgs(rest, 1, usage);
      const detail = await parsed
        .client()
        .call<D>('GET', `/${resource.name}/${encodeURIComponent(rest[0] ?? '')}`);
      await printResult(io, json, detail, resource.describe(detail));
      return EXIT.ok;
    },
  };
}

/** `name: value` lines, the names padded to one width; `-` for an empty value. */
export function formatFields(fields: readonly (readonly [string, unknown])[]): string {
  const width = Math.max(...fields.map(([name]) => name.length));
  return fields
    .map(
      ([name, value]) =>
        `${`${name}:`.padEnd(width + 2)}${value === null || value === '' ? '-' : String(value)}`,
    )
    .join('\n');
}
