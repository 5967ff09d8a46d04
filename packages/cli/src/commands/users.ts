import { expectArgs, printResult, runAdminCommand, walkPages } from '../admin.js';
import { type ApiClient, formatTable } from '../client.js';
import { EXIT, UsageError } from '../errors.js';
import type { Io } from '../io.js';

const ROLES = ['admin', 'operator', 'approver', 'auditor'];

const USAGE = `usage: patchwarden users create --email E [--name "Display Name"] [--role ROLE[:GROUP_ID]]…
       patchwarden users list
       patchwarden users show USER
       patchwarden users grant USER --role ROLE[:GROUP_ID]
       patchwarden users revoke USER --role ROLE[:GROUP_ID]
       patchwarden users disable|enable USER
USER is a user id or email. ROLE is one of ${ROLES.join(', ')}; with :GROUP_ID it holds for that host group only.
Options: --server URL (PATCHWARDEN_URL), --token T (PATCHWARDEN_TOKEN), --json.`;

interface Binding {
  id: string;
  role: string;
  groupId: string | null;
}

interface User {
  id: string;
  email: string;
  displayName: string;
  createdAt: string;
  disabledAt: string | null;
  roles: Binding[];
}

const HEADERS = ['ID', 'EMAIL', 'NAME', 'ROLES', 'DISABLED'] as const;

function row(user: User): unknown[] {
  return [
    user.id,
    user.email,
    user.displayName,
    user.roles.map((b) => (b.groupId === null ? b.role : `${b.role}:${b.groupId}`)).join(','),
    user.disabledAt,
  ];
}

function parseRole(text: string): { role: string; groupId: string | null } {
  const [role = '', ...group] = text.split(':');
  if (!ROLES.includes(role) || (group.length > 0 && group.join(':') === '')) {
    throw new UsageError(
      `--role must be ROLE or ROLE:GROUP_ID with ROLE one of ${ROLES.join(', ')}, got ${JSON.stringify(text)}`,
    );
  }
  return { role, groupId: group.length === 0 ? null : group.join(':') };
}

async function resolveUser(client: ApiClient, user: string): Promise<string> {
  if (!user.includes('@')) {
    return user;
  }
  for await (const page of walkUsers(client)) {
    const found = page.users.find((u) => u.email === user.toLowerCase());
    if (found !== undefined) {
      return found.id;
    }
  }
  throw new UsageError(`no user with email ${user}`);
}

function walkUsers(client: ApiClient): AsyncGenerator<{ users: User[]; nextCursor: string | null }> {
  return walkPages(client, '/users', new URLSearchParams({ limit: '1000' }), 'after');
}

/** `patchwarden users`: people and their roles, as a table or `--json`. */
export async function usersCommand(args: string[], io: Io): Promise<number> {
  return runAdminCommand(
    args,
    io,
    USAGE,
    {
      email: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string', multiple: true },
    },
    (parsed) => {
      const { values, action, rest, json } = parsed;
      const roles = ((values.role as string[] | undefined) ?? []).map(parseRole);
      const print = (users: User[]) =>
        printResult(io, json, action === 'list' ? { users } : users[0], formatTable(HEADERS, users.map(row)));
      const showOrSwitch = async () => {
        expectArgs(rest, 1, USAGE);
        const client = parsed.client();
        const id = encodeURIComponent(await resolveUser(client, rest[0] ?? ''));
        const user =
          action === 'show'
            ? await client.call<User>('GET', `/users/${id}`)
            : await client.call<User>('POST', `/users/${id}/${action}`);
        await print([user]);
        return EXIT.ok;
      };
      const grantOrRevoke = async () => {
        expectArgs(rest, 1, USAGE);
        if (roles.length !== 1) {
          throw new UsageError(`users ${action} needs exactly one --role ROLE[:GROUP_ID]\n${USAGE}`);
        }
        const [wanted] = roles as [{ role: string; groupId: string | null }];
        const client = parsed.client();
        const id = encodeURIComponent(await resolveUser(client, rest[0] ?? ''));
        let user: User;
        if (action === 'grant') {
          user = await client.call<User>('POST', `/users/${id}/roles`, { body: wanted });
        } else {
          const current = await client.call<User>('GET', `/users/${id}`);
          const binding = current.roles.find((b) => b.role === wanted.role && b.groupId === wanted.groupId);
          if (binding === undefined) {
            throw new UsageError(
              `${current.email} does not hold ${wanted.role}${wanted.groupId === null ? '' : `:${wanted.groupId}`}`,
            );
          }
          user = await client.call<User>('DELETE', `/users/${id}/roles/${encodeURIComponent(binding.id)}`);
        }
        await print([user]);
        return EXIT.ok;
      };
      return {
        create: async () => {
          expectArgs(rest, 0, USAGE);
          const email = values.email as string | undefined;
          if (email === undefined) {
            throw new UsageError(`users create needs --email\n${USAGE}`);
          }
          const name = values.name as string | undefined;
          const user = await parsed.client().call<User>('POST', '/users', {
            body: { email, ...(name === undefined ? {} : { displayName: name }), roles },
          });
          await print([user]);
          return EXIT.ok;
        },
        list: async () => {
          expectArgs(rest, 0, USAGE);
          const users: User[] = [];
          for await (const page of walkUsers(parsed.client())) {
            users.push(...page.users);
          }
          await print(users);
          return EXIT.ok;
        },
        show: showOrSwitch,
        disable: showOrSwitch,
        enable: showOrSwitch,
        grant: grantOrRevoke,
        revoke: grantOrRevoke,
      };
    },
  );
}
