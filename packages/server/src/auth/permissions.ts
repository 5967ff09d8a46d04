import type { Role } from '@patchwarden/store';

/** Everything a route can require. One name per capability; roles are sets of these. */
export const PERMISSIONS = [
  'hosts:read',
  'hosts:write',
  'findings:read',
  'advisories:read',
  'feeds:read',
  'feeds:write',
  'feeds:sync',
  'jobs:read',
  'jobs:write',
  'deployments:approve',
  'reports:read',
  'audit:read',
  'tokens:write',
  'enroll-secrets:read',
  'enroll-secrets:write',
  'users:read',
  'users:write',
  'groups:write',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

const READ_FLEET: Permission[] = [
  'hosts:read',
  'findings:read',
  'advisories:read',
  'feeds:read',
  'jobs:read',
  'reports:read',
];

/**
 * What each role may do. `tokens:write` lets a user create and revoke their own tokens; managing
 * other users' tokens is `users:write`.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  admin: PERMISSIONS,
  operator: [...READ_FLEET, 'hosts:write', 'jobs:write', 'feeds:sync', 'tokens:write'],
  approver: [...READ_FLEET, 'deployments:approve', 'tokens:write'],
  auditor: [...READ_FLEET, 'audit:read', 'enroll-secrets:read', 'users:read', 'tokens:write'],
};

export const ROLES = Object.keys(ROLE_PERMISSIONS) as Role[];

/** Permissions whose subject is a host: a role bound to a group grants them for that group's hosts only. */
export const HOST_SCOPED: ReadonlySet<Permission> = new Set<Permission>([
  'hosts:read',
  'hosts:write',
  'findings:read',
  'jobs:read',
  'jobs:write',
  'deployments:approve',
  'reports:read',
]);

/**
 * Permissions about nothing a group limits and that reveal nothing of the fleet: a role bound to a
 * group grants them in full, so a group's operator can read advisories and manage their own tokens.
 */
export const SCOPE_FREE: ReadonlySet<Permission> = new Set<Permission>([
  'advisories:read',
  'feeds:read',
  'tokens:write',
]);

export interface RoleBinding {
  role: Role;
  /** null: everywhere. */
  groupId: string | null;
}

/**
 * Where `bindings` grant `permission`: `'all'`, the group ids it is limited to (sorted, distinct),
 * or `'none'`. A binding scoped to a group grants a host-scoped permission for that group, a
 * scope-free one (`SCOPE_FREE`) everywhere, and any other permission nowhere, so an operator of
 * one group cannot, say, sync the fleet's feeds.
 */
export function permissionScope(
  bindings: readonly RoleBinding[],
  permission: Permission,
): 'all' | 'none' | string[] {
  const groups: string[] = [];
  for (const binding of bindings) {
    if (!ROLE_PERMISSIONS[binding.role].includes(permission)) {
      continue;
    }
    if (binding.groupId === null || SCOPE_FREE.has(permission)) {
      return 'all';
    }
    if (HOST_SCOPED.has(permission)) {
      groups.push(binding.groupId);
    }
  }
  return groups.length === 0 ? 'none' : [...new Set(groups)].sort();
}

/**
 * `bindings` with each group-scoped binding repeated for every group nested below its group (by
 * `parentId`), so a role bound to a group covers its subgroups' hosts. Cycles are ignored.
 */
export function expandGroupBindings(
  bindings: readonly RoleBinding[],
  groups: readonly { id: string; parentId: string | null }[],
): RoleBinding[] {
  const children = new Map<string, string[]>();
  for (const group of groups) {
    if (group.parentId !== null) {
      children.set(group.parentId, [...(children.get(group.parentId) ?? []), group.id]);
    }
  }
  const expanded: RoleBinding[] = [];
  const seen = new Set<string>();
  for (const binding of bindings) {
    const pending = [binding.groupId];
    while (pending.length > 0) {
      const groupId = pending.pop() ?? null;
      const key = `${binding.role}\u0000${groupId ?? ''}`;
      if (seen.has(key)) {
        continue;
      }
      seen.add(key);
      expanded.push({ role: binding.role, groupId });
      if (groupId !== null) {
        pending.push(...(children.get(groupId) ?? []));
      }
    }
  }
  return expanded;
}
