import { expectArgs, positiveIntFlag, printCreatedSecret, printResult, runAdminCommand } from '../admin.js';
import { formatTable } from '../client.js';
import { EXIT, UsageError } from '../errors.js';
import type { Io } from '../io.js';

const USAGE = `usage: patchwarden tokens create --name N [--expires-in-days D] [--user USER_ID]
       patchwarden tokens list [--user USER_ID]
       patchwarden tokens revoke TOKEN_ID
Options: --server URL (PATCHWARDEN_URL), --token T (PATCHWARDEN_TOKEN), --json.
A new token's secret is printed once; only its hash is stored. Tokens act with their user's roles.`;

interface Token {
  id: string;
  userId: string;
  name: string;
  state: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const HEADERS = ['ID', 'NAME', 'USER', 'STATE', 'EXPIRES', 'LAST USED'] as const;

function row(token: Token): unknown[] {
  return [token.id, token.name, token.userId, token.state, token.expiresAt ?? 'never', token.lastUsedAt];
}

/** `patchwarden tokens create|list|revoke`: API tokens, as a table or `--json`. */
export async function tokensCommand(args: string[], io: Io): Promise<number> {
  return runAdminCommand(
    args,
    io,
    USAGE,
    {
      name: { type: 'string' },
      'expires-in-days': { type: 'string' },
      user: { type: 'string' },
    },
    (parsed) => {
      const { values, rest, json } = parsed;
      const user = values.user as string | undefined;
      return {
        create: async () => {
          expectArgs(rest, 0, USAGE);
          const name = values.name as string | undefined;
          if (name === undefined) {
            throw new UsageError(`tokens create needs --name\n${USAGE}`);
          }
          const days = positiveIntFlag(
            values['expires-in-days'],
            '--expires-in-days must be a whole number of days',
          );
          const created = await parsed.client().call<{ token: Token; secret: string }>('POST', '/tokens', {
            body: {
              name,
              ...(days === undefined ? {} : { expiresInDays: days }),
              ...(user === undefined ? {} : { userId: user }),
            },
          });
          await printCreatedSecret(io, json, created, formatTable(HEADERS, [row(created.token)]));
          return EXIT.ok;
        },
        list: async () => {
          expectArgs(rest, 0, USAGE);
          const listed = await parsed.client().call<{ tokens: Token[] }>('GET', '/tokens', {
            query: { userId: user },
          });
          await printResult(io, json, listed, formatTable(HEADERS, listed.tokens.map(row)));
          return EXIT.ok;
        },
        revoke: async () => {
          expectArgs(rest, 1, USAGE);
          const revoked = await parsed
            .client()
            .call<Token>('DELETE', `/tokens/${encodeURIComponent(rest[0] ?? '')}`);
          await printResult(io, json, revoked, formatTable(HEADERS, [row(revoked)]));
          return EXIT.ok;
        },
      };
    },
  );
}
