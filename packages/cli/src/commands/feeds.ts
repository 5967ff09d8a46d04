import { resolve } from 'node:path';
import type { FeedKind, FeedSyncCounts } from '@patchwarden/store';
import { parseDuration, printResult, runAdminCommand } from '../admin.js';
import { formatTable } from '../client.js';
import { EXIT, UsageError } from '../errors.js';
import type { Io } from '../io.js';

const KINDS = [
  'auto',
  'osv',
  'debian-tracker',
  'debian-dsa-list',
  'alpine-secdb',
  'kev',
  'epss',
] as const satisfies readonly FeedKind[];

const USAGE = `usage: patchwarden feeds add NAME LOCATION [--kind KIND] [--schedule EVERY|none] [--disabled]
       patchwarden feeds list
       patchwarden feeds show NAME|ID
       patchwarden feeds sync NAME|ID
       patchwarden feeds remove NAME|ID
Options: --server URL (PATCHWARDEN_URL), --token T (PATCHWARDEN_TOKEN), --json.
A feed is a named advisory source: an http(s) URL, or a file or directory on the server (a relative
path is made absolute here). --kind is one of ${KINDS.join(', ')} (default auto: recognised by content).
--schedule is seconds or a duration (30m, 6h, 1d; at least 60 s; default 1d); none syncs on demand only.
\`sync\` waits for the sync and prints its counts; it exits 1 when the sync failed.`;

type SyncCounts = FeedSyncCounts;

interface Feed {
  id: string;
  name: string;
  kind: string;
  location: string;
  scheduleSeconds: number | null;
  enabled: boolean;
  nextSyncAt: string | null;
  lastSync: {
    status: string | null;
    startedAt: string | null;
    finishedAt: string | null;
    error: { code: string; message: string } | null;
    counts: SyncCounts | null;
  };
}

interface SyncResult {
  status: 'ok' | 'failed';
  error: { code: string; message: string } | null;
  counts: SyncCounts | null;
  feed: Feed;
}

const HEADERS = ['NAME', 'KIND', 'SCHEDULE', 'STATUS', 'LAST SYNC', 'NEXT SYNC', 'LOCATION'] as const;

function row(feed: Feed): unknown[] {
  const status = feed.enabled ? (feed.lastSync.status ?? 'never synced') : 'disabled';
  return [
    feed.name,
    feed.kind,
    feed.scheduleSeconds === null ? 'on demand' : formatDuration(feed.scheduleSeconds),
    status,
    feed.lastSync.finishedAt ?? feed.lastSync.startedAt,
    feed.nextSyncAt,
    feed.location,
  ];
}

/** `patchwarden feeds add|list|show|sync|remove`: advisory feeds on the server, as tables or `--json`. */
export async function feedsCommand(args: string[], io: Io): Promise<number> {
  return runAdminCommand(
    args,
    io,
    USAGE,
    {
      kind: { type: 'string' },
      schedule: { type: 'string' },
      disabled: { type: 'boolean' },
    },
    (parsed) => {
      const { values, rest } = parsed;
      const print = (value: unknown, text: string) => printResult(io, parsed.json, value, text);
      return {
        add: async () => {
          const [name = '', location = ''] = expectArgs(rest, ['NAME', 'LOCATION']);
          const kind = values.kind as string | undefined;
          if (kind !== undefined && !(KINDS as readonly string[]).includes(kind)) {
            throw new UsageError(`--kind must be one of ${KINDS.join(', ')}; got ${JSON.stringify(kind)}`);
          }
          const schedule = values.schedule as string | undefined;
          const feed = await parsed.client().call<Feed>('POST', '/feeds', {
            body: {
              name,
              location: /^[a-z][a-z0-9+.-]*:\/\//i.test(location) ? location : resolve(location),
              ...(kind === undefined ? {} : { kind }),
              ...(schedule === undefined ? {} : { scheduleSeconds: parseSchedule(schedule) }),
              ...(values.disabled === true ? { enabled: false } : {}),
            },
          });
          await print(feed, formatTable(HEADERS, [row(feed)]));
          return EXIT.ok;
        },
        list: async () => {
          expectArgs(rest, []);
          const listed = await parsed.client().call<{ feeds: Feed[] }>('GET', '/feeds');
          await print(listed, formatTable(HEADERS, listed.feeds.map(row)));
          return EXIT.ok;
        },
        show: async () => {
          const [id = ''] = expectArgs(rest, ['NAME|ID']);
          const feed = await parsed.client().call<Feed>('GET', `/feeds/${encodeURIComponent(id)}`);
          await print(feed, describeFeed(feed));
          return EXIT.ok;
        },
        sync: async () => {
          const [id = ''] = expectArgs(rest, ['NAME|ID']);
          const result = await parsed
            .client()
            .call<SyncResult>('POST', `/feeds/${encodeURIComponent(id)}/sync`);
          await print(result, describeSync(result));
          return result.status === 'ok' ? EXIT.ok : EXIT.failed;
        },
        remove: async () => {
          const [id = ''] = expectArgs(rest, ['NAME|ID']);
          await parsed.client().call('DELETE', `/feeds/${encodeURIComponent(id)}`);
          await print({ removed: id }, `removed feed ${id}; its advisories stay, belonging to no feed\n`);
          return EXIT.ok;
        },
      };
    },
    { missing: 'usage' },
  );
}

function expectArgs(rest: string[], names: readonly string[]): string[] {
  if (rest.length !== names.length) {
    throw new UsageError(
      names.length === 0
        ? `unexpected arguments: ${rest.join(' ')}\n${USAGE}`
        : `expected ${names.join(' ')}, got ${rest.length === 0 ? 'nothing' : rest.join(' ')}\n${USAGE}`,
    );
  }
  return rest;
}

/** `3600`, `30m`, `6h`, `1d` → seconds; `none`/`manual` → null. */
export function parseSchedule(text: string): number | null {
  if (text === 'none' || text === 'manual') return null;
  const seconds = parseDuration(text);
  if (seconds === null || seconds < 60) {
    throw new UsageError(
      `--schedule must be at least 60 seconds: seconds, or a number with s, m, h or d, or none; got ${JSON.stringify(text)}`,
    );
  }
  return seconds;
}

function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

function countLines(counts: SyncCounts): string[] {
  return [
    `documents:  ${counts.documents} (${counts.records} records, ${counts.skipped} skipped)`,
    `advisories: ${counts.added} added, ${counts.changed} changed, ${counts.unchanged} unchanged, ${counts.removed} removed`,
    `kev/epss:   ${counts.kev} KEV entries, ${counts.epss} EPSS scores written`,
    `hosts:      ${counts.hostsReevaluated ?? 'not'} re-evaluated for ${counts.packagesTouched} packages`,
    `took:       ${counts.durationMs} ms`,
    ...counts.notes.map((note) => `note:       ${note}`),
  ];
}

function describeFeed(feed: Feed): string {
  const lines = [
    `name:       ${feed.name}`,
    `id:         ${feed.id}`,
    `kind:       ${feed.kind}`,
    `location:   ${feed.location}`,
    `schedule:   ${feed.scheduleSeconds === null ? 'on demand' : `every ${formatDuration(feed.scheduleSeconds)}`}${feed.enabled ? '' : ' (disabled)'}`,
    `next sync:  ${feed.nextSyncAt ?? '-'}`,
    `last sync:  ${feed.lastSync.status ?? 'never'}${feed.lastSync.finishedAt ? ` at ${feed.lastSync.finishedAt}` : ''}`,
    ...(feed.lastSync.error === null
      ? []
      : [`error:      ${feed.lastSync.error.code}: ${feed.lastSync.error.message}`]),
    ...(feed.lastSync.counts === null ? [] : countLines(feed.lastSync.counts)),
  ];
  return `${lines.join('\n')}\n`;
}

function describeSync(result: SyncResult): string {
  const lines = [
    `feed ${result.feed.name}: sync ${result.status}`,
    ...(result.error === null ? [] : [`error:      ${result.error.code}: ${result.error.message}`]),
    ...(result.counts === null ? [] : countLines(result.counts)),
  ];
  return `${lines.join('\n')}\n`;
}
