import { PatchwardenError } from '@patchwarden/core/errors';
import { UsageError } from './errors.js';
import type { Io } from './io.js';

/** Flags every admin command accepts, in addition to PATCHWARDEN_URL and PATCHWARDEN_TOKEN. */
export const SERVER_OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** A client of the REST API under `/api/v1`, authenticated with an API token. */
export interface ApiClient {
  readonly baseUrl: string;
  /** GET/POST/… `path` (under /api/v1) with an optional JSON body and query; the parsed JSON reply. */
  call<T = unknown>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    options?: { body?: unknown; query?: Record<string, string | number | boolean | undefined> },
  ): Promise<T>;
}

/**
 * The client for `--server`/`--token` or PATCHWARDEN_URL/PATCHWARDEN_TOKEN. A server error becomes a
 * PatchwardenError with the server's code and message (exit 2 for 4xx, 4 for 5xx and unreachable).
 */
export function createApiClient(values: Record<string, unknown>, io: Io): ApiClient {
  const env = io.env ?? {};
  const baseUrl = ((values.server as string | undefined) ?? env.PATCHWARDEN_URL ?? '').replace(/\/+$/, '');
  const token = (values.token as string | undefined) ?? env.PATCHWARDEN_TOKEN ?? '';
  if (baseUrl === '') {
    throw new UsageError('no server: pass --server URL or set PATCHWARDEN_URL');
  }
  if (token === '') {
    throw new UsageError('no API token: pass --token T or set PATCHWARDEN_TOKEN');
  }
  return {
    baseUrl,
    async call<T>(
      method: string,
      path: string,
      options: { body?: unknown; query?: Record<string, string | number | boolean | undefined> } = {},
    ): Promise<T> {
      const url = new URL(`${baseUrl}/api/v1${path}`);
      for (const [name, value] of Object.entries(options.query ?? {})) {
        if (value !== undefined) {
          url.searchParams.set(name, String(value));
        }
      }
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        });
      } catch (err) {
        throw new PatchwardenError('SERVER_UNREACHABLE', `cannot reach ${baseUrl}`, 503, { cause: err });
      }
      const text = await response.text();
      const parsed = text === '' ? null : safeJson(text);
      if (!response.ok) {
        const error = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
        throw new PatchwardenError(
          error?.code ?? `HTTP_${response.status}`,
          error?.message ?? `${method} ${url.pathname} answered ${response.status}`,
          response.status,
        );
      }
      return parsed as T;
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { error: { message: text.slice(0, 200) } };
  }
}

/** Formats rows as an aligned text table with a header; `-` for empty cells. */
export function formatTable(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = rows.map((row) =>
    row.map((cell) => (cell === null || cell === undefined || cell === '' ? '-' : String(cell))),
  );
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...cells.map((row) => row[i]?.length ?? 0)),
  );
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...cells.map(line)].join('\n')}\n`;
}
