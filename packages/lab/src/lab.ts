import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PatchwardenError } from '@patchwarden/core';
import { LAB_ADVISORIES, type LabManager, labOsvRecords, type PatchLevel, patchLevelOf } from './catalog.js';
import { buildLabRepository, createLabRoot, nativeQuery } from './lab/hosts.js';
import { isLabProcess, spawnDetached, stopLabProcess, tailOf } from './lab/processes.js';

/** The lab's state file inside the lab directory. */
export const LAB_STATE_FILE = 'lab.json';
/** The name of the lab's feed (and enrolment secret) on the server. */
export const LAB_FEED_NAME = 'patchwarden-lab';
/** Largest lab: every host is a real package root and a real agent process. */
export const MAX_LAB_HOSTS = 200;

export interface LabHostState {
  name: string;
  manager: LabManager;
  patchLevel: PatchLevel;
  /** The private package root. */
  root: string;
  /** The agent's `--state-dir`. */
  stateDir: string;
  /** The agent's output. */
  logFile: string;
  machineId: string;
  /** The agent process, null when it was not started. */
  pid: number | null;
}

export interface LabServerState {
  url: string;
  /** True when the lab started this server (and `lab down` stops it). */
  isOwn: boolean;
  pid: number | null;
  /** Own server: its SQLite data directory. */
  dataDir: string | null;
  logFile: string | null;
  /** File holding the admin API token (mode 0600), when the lab has one. */
  adminTokenFile: string | null;
}

export interface LabState {
  version: 1;
  createdAt: string;
  dir: string;
  manager: LabManager;
  repoDir: string;
  /** The OSV feed directory (one JSON record per advisory). */
  feedDir: string;
  /** The feed's id on the server, null when it could not be created there. */
  feedId: string | null;
  server: LabServerState;
  hosts: LabHostState[];
}

export interface LabUpOptions {
  /** The lab directory (created; must not hold a lab already). */
  dir: string;
  hosts: number;
  manager: LabManager;
  /** `node` and the `patchwarden` CLI entry the agents (and the own server) are started with. */
  command: string[];
  /** Join this server instead of starting one. */
  join: { url: string; enrollSecret: string; adminToken: string | null } | null;
  /** Own server: the first admin's API token to create (`pwt_…`), and the port (0: any free one). */
  own: { adminToken: string; port: number } | null;
  /** The environment children start from (PATCHWARDEN_* variables are dropped). */
  env: NodeJS.ProcessEnv;
  /** Progress lines, for people. */
  progress?: (line: string) => void;
  /** Wait this long for every agent to enrol (0: do not wait). */
  waitSeconds?: number;
  /** Host names are `<namePrefix>-<manager>-NN`. Default `lab`. */
  namePrefix?: string;
  /** Parallel root builds. Default 2. */
  concurrency?: number;
}

export interface LabUpResult {
  state: LabState;
  /** The own server's admin token (null when joining without one). */
  adminToken: string | null;
  /** Agents that exited during the wait, with the end of their log. */
  failedAgents: Array<{ name: string; log: string }>;
  /** Hosts whose agent had not enrolled when the wait ended. */
  notEnrolled: string[];
  /** Feed notes (e.g. why the feed was not created on a joined server). */
  notes: string[];
}

/**
 * `lab up`: (1) builds the lab repository and the OSV feed, (2) creates one private root per host
 * at mixed patch levels with the real package manager, (3) starts the lab's own server (a detached
 * `patchwarden serve` on SQLite in `<dir>/server-data`) or joins one, creates the lab feed (synced)
 * and an enrolment secret there, (4) starts one detached agent per host, and (5) writes
 * `<dir>/lab.json`. Nothing outside `dir` is written, and the machine's packages are never touched.
 */
export async function labUp(options: LabUpOptions): Promise<LabUpResult> {
  const progress = options.progress ?? (() => {});
  const dir = resolve(options.dir);
  if (!Number.isInteger(options.hosts) || options.hosts < 1 || options.hosts > MAX_LAB_HOSTS) {
    throw new PatchwardenError('INVALID_LAB_SIZE', `--hosts must be 1 to ${MAX_LAB_HOSTS}`, 400);
  }
  if (options.namePrefix !== undefined && !/^[a-z0-9][a-z0-9-]{0,40}$/.test(options.namePrefix)) {
    throw new PatchwardenError(
      'INVALID_LAB_PREFIX',
      `the host name prefix must be 1 to 41 of [a-z0-9-], starting with a letter or digit; got ${JSON.stringify(options.namePrefix)}`,
      400,
    );
  }
  if (existsSync(join(dir, LAB_STATE_FILE))) {
    throw new PatchwardenError(
      'LAB_EXISTS',
      `${dir} already holds a lab; run \`patchwarden lab down --dir ${dir}\` first`,
      409,
    );
  }
  await mkdir(dir, { recursive: true });
  const notes: string[] = [];

  progress(`building the ${options.manager} repository of lab packages in ${join(dir, 'repo')}`);
  const repo = await buildLabRepository(options.manager, join(dir, 'repo'));
  const feedDir = join(dir, 'feed');
  await writeFeed(feedDir);

  progress(`creating ${options.hosts} ${options.manager} roots`);
  const hosts: LabHostState[] = [];
  const pending = Array.from({ length: options.hosts }, (_, index) => index);
  const built: Array<LabHostState | undefined> = [];
  async function worker(): Promise<void> {
    for (let index = pending.shift(); index !== undefined; index = pending.shift()) {
      const name = `${options.namePrefix ?? 'lab'}-${options.manager}-${String(index + 1).padStart(2, '0')}`;
      const hostDir = join(dir, 'hosts', name);
      const patchLevel = patchLevelOf(index);
      const created = await createLabRoot(options.manager, join(hostDir, 'root'), name, repo, patchLevel);
      built[index] = {
        name,
        manager: options.manager,
        patchLevel,
        root: created.root,
        stateDir: join(hostDir, 'agent'),
        logFile: join(hostDir, 'agent.log'),
        machineId: created.machineId,
        pid: null,
      };
      progress(`  ${name}: ${patchLevel}`);
    }
  }
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 2, options.hosts) }, worker));
  for (const host of built) if (host !== undefined) hosts.push(host);

  const childEnv = cleanEnv(options.env);
  let server: LabServerState;
  let adminToken: string | null;
  let enrollSecret: string;
  if (options.join === null) {
    if (options.own === null) throw new Error('labUp: neither join nor own given');
    adminToken = options.own.adminToken;
    server = await startOwnServer(dir, options.command, options.own, childEnv);
    progress(`server: ${server.url}`);
  } else {
    adminToken = options.join.adminToken;
    server = {
      url: options.join.url.replace(/\/+$/, ''),
      isOwn: false,
      pid: null,
      dataDir: null,
      logFile: null,
      adminTokenFile: null,
    };
  }
  if (adminToken !== null && server.isOwn) {
    server.adminTokenFile = join(dir, 'admin-token');
    await writeFile(server.adminTokenFile, `${adminToken}\n`, { mode: 0o600 });
  }

  const state: LabState = {
    version: 1,
    createdAt: new Date().toISOString(),
    dir,
    manager: options.manager,
    repoDir: repo.dir,
    feedDir,
    feedId: null,
    server,
    hosts,
  };
  // Written now, so that `lab down` can clean up whatever fails from here on.
  await writeState(state);

  if (adminToken === null) {
    notes.push(
      `no admin token for ${server.url}: add the lab feed yourself: patchwarden feeds add ${LAB_FEED_NAME} ${feedDir} --kind osv`,
    );
  } else {
    state.feedId = await ensureFeed(server.url, adminToken, feedDir, notes);
    if (state.feedId !== null)
      progress(`feed ${LAB_FEED_NAME}: synced (${LAB_ADVISORIES.length} advisories)`);
  }
  if (options.join !== null) {
    enrollSecret = options.join.enrollSecret;
  } else {
    enrollSecret = await createEnrollSecret(server.url, adminToken ?? '');
  }
  await writeState(state);

  progress(`starting ${hosts.length} agents`);
  const children = new Map<string, ReturnType<typeof spawnDetached>>();
  for (const host of hosts) {
    await mkdir(host.stateDir, { recursive: true });
    const child = spawnDetached(
      [
        ...options.command,
        'agent',
        '--server',
        server.url,
        '--root',
        host.root,
        '--manager',
        host.manager,
        '--state-dir',
        host.stateDir,
      ],
      // The secret goes in the environment, not on a command line that `ps` shows.
      {
        logFile: host.logFile,
        cwd: join(host.stateDir, '..'),
        env: { ...childEnv, PATCHWARDEN_ENROLL_SECRET: enrollSecret },
      },
    );
    host.pid = child.pid ?? null;
    children.set(host.name, child);
  }
  await writeState(state);

  const exited = new Set<string>();
  for (const [name, child] of children) child.once('exit', () => exited.add(name));
  const waitMs = (options.waitSeconds ?? 60) * 1000;
  const deadline = Date.now() + waitMs;
  let notEnrolled = hosts.map((h) => h.name);
  while (waitMs > 0 && notEnrolled.length > 0 && Date.now() < deadline) {
    const next: string[] = [];
    for (const host of hosts) {
      if (!notEnrolled.includes(host.name) || exited.has(host.name)) continue;
      if ((await readAgentHostId(host.stateDir)) === null) next.push(host.name);
    }
    notEnrolled = next;
    if (notEnrolled.length > 0) await sleep(250);
  }
  const failedAgents: Array<{ name: string; log: string }> = [];
  for (const host of hosts) {
    if (exited.has(host.name)) failedAgents.push({ name: host.name, log: await tailOf(host.logFile, 600) });
  }
  for (const child of children.values()) child.unref();
  return {
    state,
    adminToken: server.isOwn ? adminToken : null,
    failedAgents,
    notEnrolled: waitMs > 0 ? notEnrolled.filter((n) => !exited.has(n)) : [],
    notes,
  };
}

export interface LabHostStatus extends LabHostState {
  /** The host id the agent got at enrolment (from its state directory), null before. */
  hostId: string | null;
  isAgentRunning: boolean;
  /** The manager's own command listing the root's packages. */
  query: string[];
}

export interface LabStatus {
  dir: string;
  manager: LabManager;
  createdAt: string;
  repoDir: string;
  feedDir: string;
  feedId: string | null;
  server: LabServerState & { isRunning: boolean | null };
  hosts: LabHostStatus[];
}

/** `lab status`: the state file, each agent's host id and whether its process (and the own server) runs. */
export async function labStatus(dirOption: string): Promise<LabStatus> {
  const state = await readState(dirOption);
  const hosts: LabHostStatus[] = [];
  for (const host of state.hosts) {
    hosts.push({
      ...host,
      hostId: await readAgentHostId(host.stateDir),
      isAgentRunning: await isLabProcess(host.pid, host.stateDir),
      query: nativeQuery(host.manager, host.root),
    });
  }
  const isRunning =
    state.server.isOwn && state.server.dataDir !== null
      ? await isLabProcess(state.server.pid, state.server.dataDir)
      : null;
  return {
    dir: state.dir,
    manager: state.manager,
    createdAt: state.createdAt,
    repoDir: state.repoDir,
    feedDir: state.feedDir,
    feedId: state.feedId,
    server: { ...state.server, isRunning },
    hosts,
  };
}

export interface LabDownResult {
  dir: string;
  agentsStopped: number;
  isServerStopped: boolean;
}

/**
 * `lab down`: stops the agents and the lab's own server (only processes whose command line names
 * this lab's paths), then removes the lab directory. A directory without a lab state file is
 * refused (`LAB_NOT_FOUND`), never removed.
 */
export async function labDown(dirOption: string): Promise<LabDownResult> {
  const state = await readState(dirOption);
  let agentsStopped = 0;
  const stops = state.hosts.map(async (host) => {
    if (await stopLabProcess(host.pid, host.stateDir)) agentsStopped += 1;
  });
  await Promise.all(stops);
  let isServerStopped = false;
  if (state.server.isOwn && state.server.dataDir !== null) {
    isServerStopped = await stopLabProcess(state.server.pid, state.server.dataDir);
  }
  await rm(state.dir, { recursive: true, force: true });
  return { dir: state.dir, agentsStopped, isServerStopped };
}

/** Reads `<dir>/lab.json`; `LAB_NOT_FOUND` (404) when there is none. */
export async function readState(dirOption: string): Promise<LabState> {
  const dir = resolve(dirOption);
  let text: string;
  try {
    text = await readFile(join(dir, LAB_STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PatchwardenError('LAB_NOT_FOUND', `no lab in ${dir} (no ${LAB_STATE_FILE})`, 404);
    }
    throw err;
  }
  const state = JSON.parse(text) as LabState;
  if (state.version !== 1 || !Array.isArray(state.hosts)) {
    throw new PatchwardenError(
      'LAB_STATE_INVALID',
      `${join(dir, LAB_STATE_FILE)} is not a lab state file`,
      400,
    );
  }
  return state;
}

async function writeState(state: LabState): Promise<void> {
  const file = join(state.dir, LAB_STATE_FILE);
  await writeFile(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
}

/** The agent's identity file in its state directory (written at enrolment; it also holds the node key). */
export const AGENT_IDENTITY_FILE = 'identity.json';

/** The host id an agent recorded in `<stateDir>/identity.json` at enrolment; null before. */
export async function readAgentHostId(stateDir: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(join(stateDir, AGENT_IDENTITY_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const value = JSON.parse(text) as { hostId?: unknown } | null;
    return typeof value?.hostId === 'string' && value.hostId !== '' ? value.hostId : null;
  } catch {
    return null; // the agent writes it atomically; anything else is not its identity
  }
}

/** Writes the lab's advisories as an OSV feed directory: one `<id>.json` per record. */
export async function writeFeed(feedDir: string): Promise<string[]> {
  await mkdir(feedDir, { recursive: true });
  const files: string[] = [];
  for (const record of labOsvRecords('2026-11-20T00:00:00Z')) {
    const file = join(feedDir, `${String(record.id)}.json`);
    await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
    files.push(file);
  }
  return files;
}

/** The environment for the lab's children: PATCHWARDEN_* settings of the caller are not inherited. */
function cleanEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('PATCHWARDEN_')) clean[key] = value;
  }
  return clean;
}

async function startOwnServer(
  dir: string,
  command: string[],
  own: { adminToken: string; port: number },
  env: NodeJS.ProcessEnv,
): Promise<LabServerState> {
  const dataDir = join(dir, 'server-data');
  const logFile = join(dir, 'server.log');
  await mkdir(dataDir, { recursive: true });
  const child = spawnDetached(
    [...command, 'serve', '--port', String(own.port), '--data-dir', dataDir, '--log-level', 'warn'],
    {
      logFile,
      cwd: dir,
      env: {
        ...env,
        PATCHWARDEN_BOOTSTRAP_TOKEN: own.adminToken,
        // Lab agents check in often, so that changes show quickly.
        PATCHWARDEN_CHECKIN_INTERVAL_SECONDS: '15',
      },
    },
  );
  let exitCode: number | null | undefined;
  child.once('exit', (code) => {
    exitCode = code;
  });
  const deadline = Date.now() + 30_000;
  try {
    while (Date.now() < deadline) {
      const match = /serving on (http:\/\/\S+)/.exec(await tailOf(logFile, 100_000));
      if (match?.[1] !== undefined) {
        return {
          url: match[1],
          isOwn: true,
          pid: child.pid ?? null,
          dataDir,
          logFile,
          adminTokenFile: null,
        };
      }
      if (exitCode !== undefined) break;
      await sleep(100);
    }
  } finally {
    child.unref();
  }
  await stopLabProcess(child.pid ?? null, dataDir, 2000);
  throw new PatchwardenError(
    'LAB_SERVER_FAILED',
    `the lab server did not start (${exitCode === undefined ? 'no URL after 30 s' : `exit ${exitCode}`}); ${logFile}:\n${await tailOf(logFile)}`,
    500,
  );
}

async function api(
  url: string,
  token: string,
  method: 'GET' | 'POST' | 'PATCH',
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  let response: Response;
  try {
    response = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(120_000),
    });
  } catch (err) {
    throw new PatchwardenError('LAB_SERVER_UNREACHABLE', `${method} ${url}/api/v1${path} failed`, 502, {
      cause: err,
    });
  }
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json };
}

function apiError(what: string, result: { status: number; json: unknown }): PatchwardenError {
  const error = (result.json as { error?: { code?: string; message?: string } } | null)?.error;
  return new PatchwardenError(
    'LAB_SERVER_REFUSED',
    `${what}: HTTP ${result.status} ${error?.code ?? ''} ${error?.message ?? JSON.stringify(result.json)}`.trim(),
    502,
  );
}

/** Creates (or re-points) the lab feed and syncs it; on a server that cannot read the path, a note. */
async function ensureFeed(
  url: string,
  token: string,
  feedDir: string,
  notes: string[],
): Promise<string | null> {
  const body = { name: LAB_FEED_NAME, kind: 'osv', location: feedDir, scheduleSeconds: null };
  let created = await api(url, token, 'POST', '/feeds', body);
  if (created.status === 409) {
    created = await api(url, token, 'PATCH', `/feeds/${LAB_FEED_NAME}`, {
      kind: 'osv',
      location: feedDir,
      scheduleSeconds: null,
    });
  }
  const code = (created.json as { error?: { code?: string } } | null)?.error?.code;
  if (code === 'FEED_NOT_FOUND') {
    notes.push(
      `the server cannot read ${feedDir} (another machine?): copy the feed there and run patchwarden feeds add ${LAB_FEED_NAME} <path> --kind osv`,
    );
    return null;
  }
  if (created.status !== 201 && created.status !== 200)
    throw apiError(`creating feed ${LAB_FEED_NAME}`, created);
  const id = (created.json as { id: string }).id;
  const synced = await api(url, token, 'POST', `/feeds/${id}/sync`);
  if (synced.status !== 200) throw apiError(`syncing feed ${LAB_FEED_NAME}`, synced);
  const result = synced.json as { status: string; error: { code: string; message: string } | null };
  if (result.status !== 'ok') {
    throw new PatchwardenError(
      'LAB_FEED_FAILED',
      `feed ${LAB_FEED_NAME} sync failed: ${result.error?.code ?? ''} ${result.error?.message ?? ''}`,
      502,
    );
  }
  return id;
}

async function createEnrollSecret(url: string, token: string): Promise<string> {
  const created = await api(url, token, 'POST', '/enroll-secrets', {
    name: LAB_FEED_NAME,
    expiresInDays: 30,
  });
  if (created.status !== 201) throw apiError('creating an enrolment secret', created);
  return (created.json as { secret: string }).secret;
}
