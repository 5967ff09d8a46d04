import { PatchwardenError } from '@patchwarden/core';
import { findApiTokenByHash, findNodeKeyByHash, listHostGroups, touchApiToken } from '@patchwarden/store';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  expandGroupBindings,
  PERMISSIONS,
  type Permission,
  permissionScope,
  type RoleBinding,
} from '../auth/permissions.js';
import { hashSecret } from '../auth/secrets.js';

/** Who made a request. */
export type Principal =
  | { kind: 'user'; userId: string; email: string; tokenId: string; bindings: RoleBinding[] }
  | { kind: 'agent'; hostId: string; nodeKeyId: string };

/**
 * How a route authenticates, in its `config`: a user token with a permission, an agent's node key,
 * or nothing (health, OpenAPI, enrolment, which checks its own secret). Every route must say.
 */
export type RouteAuth = { permission: Permission } | { auth: 'agent' } | { auth: 'public' };

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: Permission;
    auth?: 'agent' | 'public';
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

// A token's last use is recorded at most this often, so reads do not each cost a write.
const TOUCH_INTERVAL_MS = 60_000;

/** A registered route and how it authenticates, as `listRoutes` reports it. */
export interface RouteRecord {
  method: string;
  url: string;
  permission: Permission | null;
  auth: 'agent' | 'public' | null;
}

const ROUTES = new WeakMap<FastifyInstance, RouteRecord[]>();

/**
 * Every route registered on `app` (one record per method, Fastify's HEAD twins included) with its
 * auth config, in registration order; the RBAC test matrix is built from it.
 */
export function listRoutes(app: FastifyInstance): readonly RouteRecord[] {
  return ROUTES.get(app) ?? [];
}

/**
 * Authenticates every request by its route's `config` and refuses routes registered without one.
 * Tokens come as `Authorization: Bearer <secret>`: `pwt_…` API tokens, `pwn_…` node keys.
 */
export function registerAuth(app: FastifyInstance): void {
  app.decorateRequest('principal', null);
  const routes: RouteRecord[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (route) => {
    const config = (route.config ?? {}) as { permission?: Permission; auth?: 'agent' | 'public' };
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      routes.push({
        method,
        url: route.url,
        permission: config.permission ?? null,
        auth: config.auth ?? null,
      });
    }
    if (
      config.permission === undefined &&
      config.auth === undefined &&
      !isUnauthenticatedBuiltin(route.url)
    ) {
      throw new Error(`route ${route.method} ${route.url} declares no permission or auth in its config`);
    }
    if (config.permission !== undefined && config.auth !== undefined) {
      throw new Error(
        `route ${route.method} ${route.url} declares both a permission and auth '${config.auth}'`,
      );
    }
    if (config.permission !== undefined && !(PERMISSIONS as readonly string[]).includes(config.permission)) {
      throw new Error(
        `route ${route.method} ${route.url} requires an unknown permission ${config.permission}`,
      );
    }
    if (config.auth !== undefined && config.auth !== 'agent' && config.auth !== 'public') {
      throw new Error(`route ${route.method} ${route.url} has an unknown auth '${String(config.auth)}'`);
    }
  });
  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config as { permission?: Permission; auth?: string };
    if (config.auth === 'public' || (config.permission === undefined && config.auth === undefined)) {
      return;
    }
    const secret = bearer(request);
    if (config.auth === 'agent') {
      request.principal = await authenticateAgent(app, secret);
      return;
    }
    const principal = await authenticateUser(app, secret);
    request.principal = principal;
    if (
      config.permission !== undefined &&
      permissionScope(principal.bindings, config.permission) === 'none'
    ) {
      throw new PatchwardenError('FORBIDDEN', `this token lacks the permission ${config.permission}`, 403);
    }
  });
}

function isUnauthenticatedBuiltin(url: string): boolean {
  // Fastify's own HEAD twins of GET routes inherit the GET route's config.
  return url === '*';
}

function bearer(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (header === undefined || header === '') {
    throw new PatchwardenError('UNAUTHENTICATED', 'this route needs an Authorization: Bearer token', 401);
  }
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (match?.[1] === undefined) {
    throw new PatchwardenError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"', 401);
  }
  return match[1];
}

async function authenticateUser(
  app: FastifyInstance,
  secret: string,
): Promise<Extract<Principal, { kind: 'user' }>> {
  const found = secret.startsWith('pwt_') ? await findApiTokenByHash(app.store.db, hashSecret(secret)) : null;
  if (found === null) {
    throw new PatchwardenError('INVALID_TOKEN', 'the API token is not known', 401);
  }
  const now = app.now();
  if (found.token.revokedAt !== null) {
    throw new PatchwardenError('TOKEN_REVOKED', `the API token ${found.token.name} was revoked`, 401);
  }
  if (found.token.expiresAt !== null && found.token.expiresAt <= now) {
    throw new PatchwardenError(
      'TOKEN_EXPIRED',
      `the API token ${found.token.name} expired at ${found.token.expiresAt.toISOString()}`,
      401,
    );
  }
  if (found.user.disabledAt !== null) {
    throw new PatchwardenError('USER_DISABLED', `the user ${found.user.email} is disabled`, 401);
  }
  if (
    found.token.lastUsedAt === null ||
    now.getTime() - found.token.lastUsedAt.getTime() > TOUCH_INTERVAL_MS
  ) {
    await touchApiToken(app.store.db, found.token.id, now);
  }
  const bindings = found.bindings.map((b) => ({ role: b.role, groupId: b.groupId }));
  return {
    kind: 'user',
    userId: found.user.id,
    email: found.user.email,
    tokenId: found.token.id,
    // A role bound to a group covers its subgroups; groups are few, so they are read per request.
    bindings: bindings.some((b) => b.groupId !== null)
      ? expandGroupBindings(bindings, await listHostGroups(app.store.db))
      : bindings,
  };
}

async function authenticateAgent(
  app: FastifyInstance,
  secret: string,
): Promise<Extract<Principal, { kind: 'agent' }>> {
  const found = secret.startsWith('pwn_') ? await findNodeKeyByHash(app.store.db, hashSecret(secret)) : null;
  if (found === null) {
    throw new PatchwardenError('INVALID_NODE_KEY', 'the node key is not known; enrol again', 401);
  }
  if (found.revokedAt !== null) {
    throw new PatchwardenError('NODE_KEY_REVOKED', 'the node key was revoked; enrol again', 401);
  }
  return { kind: 'agent', hostId: found.hostId, nodeKeyId: found.id };
}

/** The request's user; for routes whose config names a permission. */
export function userOf(request: FastifyRequest): Extract<Principal, { kind: 'user' }> {
  const principal = request.principal;
  if (principal?.kind !== 'user') {
    throw new PatchwardenError('UNAUTHENTICATED', 'this route needs a user API token', 401);
  }
  return principal;
}

/** The request's agent; for routes with `auth: 'agent'`. */
export function agentOf(request: FastifyRequest): Extract<Principal, { kind: 'agent' }> {
  const principal = request.principal;
  if (principal?.kind !== 'agent') {
    throw new PatchwardenError('UNAUTHENTICATED', 'this route needs an agent node key', 401);
  }
  return principal;
}

/**
 * The host groups the request's user holds `permission` in: `'all'` or a list of group ids. Routes
 * over hosts filter by it; it is never `'none'` on a route whose config required that permission.
 */
export function groupScope(request: FastifyRequest, permission: Permission): 'all' | string[] {
  const scope = permissionScope(userOf(request).bindings, permission);
  if (scope === 'none') {
    throw new PatchwardenError('FORBIDDEN', `this token lacks the permission ${permission}`, 403);
  }
  return scope;
}

/** Throws FORBIDDEN unless the user holds `permission` for a host in `groupId`. */
export function assertHostAccess(
  request: FastifyRequest,
  permission: Permission,
  groupId: string | null,
): void {
  const scope = groupScope(request, permission);
  if (scope !== 'all' && (groupId === null || !scope.includes(groupId))) {
    throw new PatchwardenError('FORBIDDEN', `this token lacks ${permission} for hosts of that group`, 403);
  }
}
