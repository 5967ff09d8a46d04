import http from 'node:http';
import https from 'node:https';
import { gzipSync } from 'node:zlib';
import type { InstalledPackage, OsIdentity } from '@patchwarden/core/host';
import { PatchwardenError } from '@patchwarden/core/host';
import type { AgentJob, JobResult } from './journal.js';

/** Bodies larger than this are sent gzipped (`Content-Encoding: gzip`). */
export const GZIP_THRESHOLD_BYTES = 4096;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface HostFacts {
  kernel?: string;
  agentVersion?: string;
  rebootRequired?: boolean;
  rebootPackages?: string[];
}

export interface FullInventory {
  os?: OsIdentity;
  osRelease?: string;
  packages: InstalledPackage[];
}

export interface EnrollRequest extends HostFacts {
  enrollSecret: string;
  hostname: string;
  machineId?: string;
  inventory: FullInventory & { seq: number };
}

export interface EnrollReply {
  hostId: string;
  nodeKey: string;
  checkinIntervalSeconds: number;
  isReenrolment: boolean;
}

export interface PackageIdentity {
  ecosystem: string;
  name: string;
  architecture: string | null;
}

export interface CheckinRequest extends HostFacts {
  seq: number;
  full?: FullInventory;
  delta?: { upsert: InstalledPackage[]; remove: PackageIdentity[] };
}

export interface CheckinReply {
  checkinIntervalSeconds: number;
  inventory: 'ok' | 'send-full';
  jobs: AgentJob[];
}

/** The server answered with an error (`{ error: { code, message, details } }`). */
export class ServerError extends PatchwardenError {
  constructor(
    code: string,
    message: string,
    readonly httpStatus: number,
    readonly details: unknown,
  ) {
    super(code, message, httpStatus >= 500 ? 502 : httpStatus);
  }
}

/** The server could not be reached, timed out, or answered 5xx: worth retrying later. */
export class ServerUnreachableError extends PatchwardenError {
  constructor(message: string, options?: ErrorOptions) {
    super('SERVER_UNREACHABLE', message, 503, options);
  }
}

export interface CheckinClientOptions {
  serverUrl: string;
  timeoutMs?: number;
  agentVersion?: string;
}

/** The agent's side of docs/agent-protocol.md and the agent job routes of docs/jobs.md. */
export interface CheckinClient {
  enroll(body: EnrollRequest): Promise<EnrollReply>;
  checkin(nodeKey: string, body: CheckinRequest): Promise<CheckinReply>;
  jobStarted(nodeKey: string, jobId: string): Promise<{ state: string }>;
  jobResult(nodeKey: string, jobId: string, result: JobResult): Promise<{ state: string; outcome: string }>;
  /** Closes the kept-alive connection. */
  close(): void;
}

export function createCheckinClient(options: CheckinClientOptions): CheckinClient {
  const base = options.serverUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;

  const url = new URL(base);
  const transport = url.protocol === 'https:' ? https : http;
  // One kept-alive connection: a check-in after the first pays no TCP (or TLS) handshake.
  const agent = new transport.Agent({ keepAlive: true, maxSockets: 1 });

  /** POSTs JSON (gzipped when large); node:http, not fetch, keeps the agent's memory small. */
  function send(
    path: string,
    payload: Buffer,
    headers: Record<string, string>,
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = transport.request(
        `${base}${path}`,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': String(payload.length) },
          agent,
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async function post<T>(path: string, body: unknown, nodeKey: string | null): Promise<T> {
    const json = Buffer.from(JSON.stringify(body));
    const isGzip = json.length > GZIP_THRESHOLD_BYTES;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': `patchwarden-agent/${options.agentVersion ?? '0'}`,
    };
    if (isGzip) headers['content-encoding'] = 'gzip';
    if (nodeKey !== null) headers.authorization = `Bearer ${nodeKey}`;
    const where = `${base}${path}`;
    let response: { status: number; text: string };
    try {
      response = await send(path, isGzip ? gzipSync(json) : json, headers);
    } catch (err) {
      throw new ServerUnreachableError(`POST ${where}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    const { status, text } = response;
    if (status >= 500) {
      throw new ServerUnreachableError(`POST ${where}: HTTP ${status}`);
    }
    let parsed: unknown = null;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // Reported below with the status.
    }
    if (status < 200 || status >= 300) {
      const error = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | null)
        ?.error;
      throw new ServerError(
        error?.code ?? `HTTP_${status}`,
        `POST ${path}: ${error?.message ?? text.slice(0, 200)}`,
        status,
        error?.details ?? null,
      );
    }
    if (parsed === null) {
      throw new ServerUnreachableError(`POST ${where}: HTTP ${status} without a JSON body`);
    }
    return parsed as T;
  }

  return {
    enroll: (body) => post<EnrollReply>('/api/v1/agent/enroll', body, null),
    checkin: (nodeKey, body) => post<CheckinReply>('/api/v1/agent/checkin', body, nodeKey),
    jobStarted: (nodeKey, jobId) =>
      post<{ state: string }>(`/api/v1/agent/jobs/${encodeURIComponent(jobId)}/started`, {}, nodeKey),
    close: () => agent.destroy(),
    jobResult: (nodeKey, jobId, result) =>
      post<{ state: string; outcome: string }>(
        `/api/v1/agent/jobs/${encodeURIComponent(jobId)}/result`,
        result,
        nodeKey,
      ),
  };
}

function samePackage(a: InstalledPackage, b: InstalledPackage): boolean {
  return (
    a.version === b.version && a.source?.name === b.source?.name && a.source?.version === b.source?.version
  );
}

function packageKey(p: { ecosystem: string; name: string; architecture: string | null }): string {
  return `${p.ecosystem}\t${p.name}\t${p.architecture ?? ''}`;
}

/** The delta from `sent` to `now`, or null when it cannot be one (a key twice: RPM kernels). */
export function inventoryDelta(
  sent: InstalledPackage[],
  now: InstalledPackage[],
): { upsert: InstalledPackage[]; remove: PackageIdentity[] } | null {
  const old = new Map<string, InstalledPackage>();
  for (const p of sent) {
    const k = packageKey(p);
    if (old.has(k)) return null;
    old.set(k, p);
  }
  const upsert: InstalledPackage[] = [];
  const seen = new Set<string>();
  for (const p of now) {
    const k = packageKey(p);
    if (seen.has(k)) return null;
    seen.add(k);
    const before = old.get(k);
    if (before === undefined || !samePackage(before, p)) upsert.push(p);
  }
  const remove: PackageIdentity[] = [];
  for (const [k, p] of old) {
    if (!seen.has(k)) remove.push({ ecosystem: p.ecosystem, name: p.name, architecture: p.architecture });
  }
  if (upsert.length > 5000 || remove.length > 5000) return null;
  return { upsert, remove };
}
