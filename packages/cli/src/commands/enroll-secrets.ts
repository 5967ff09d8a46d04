import { expectArgs, positiveIntFlag, printCreatedSecret, printResult, runAdminCommand } from '../admin.js';
import { formatTable } from '../client.js';
import { EXIT, UsageError } from '../errors.js';
import type { Io } from '../io.js';

const USAGE = `usage: patchwarden enroll-secrets create --name N [--group GROUP_ID] [--expires 30d] [--max-uses K]
       patchwarden enroll-secrets list
       patchwarden enroll-secrets revoke SECRET_ID
Options: --server URL (PATCHWARDEN_URL), --token T (PATCHWARDEN_TOKEN), --json.
Agents enrol with a secret (patchwarden agent --enroll-secret S) and join its group. A new secret is
printed once; only its hash is stored. --expires takes days (30d); default never. --max-uses default unlimited.`;

interface EnrollSecret {
  id: string;
  name: string;
  groupId: string | null;
  state: string;
  maxUses: number | null;
  useCount: number;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

const HEADERS = ['ID', 'NAME', 'GROUP', 'STATE', 'USES', 'EXPIRES'] as const;

function row(secret: EnrollSecret): unknown[] {
  return [
    secret.id,
    secret.name,
    secret.groupId ?? '-',
    secret.state,
    `${secret.useCount}/${secret.maxUses ?? '∞'}`,
    secret.expiresAt ?? 'never',
  ];
}

/** `30d` or `30` → 30; anything else is a usage error. */
function parseDays(text: string): number {
  const match = /^([1-9][0-9]{0,3})d?$/.exec(text);
  if (match?.[1] === undefined) {
    throw new UsageError(`--expires must be a number of days such as 30d, got ${JSON.stringify(text)}`);
  }
  return Number(match[1]);
}

/** `patchwarden enroll-secrets create|list|revoke`: agent enrolment secrets, as a table or `--json`. */
export async function enrollSecretsCommand(args: string[], io: Io): Promise<number> {
  return runAdminCommand(
    args,
    io,
    USAGE,
    {
      name: { type: 'string' },
      group: { type: 'string' },
      expires: { type: 'string' },
      'max-uses': { type: 'string' },
    },
    (parsed) => {
      const { values, rest, json } = parsed;
      return {
        create: async () => {
          expectArgs(rest, 0, USAGE);
          const name = values.name as string | undefined;
          if (name === undefined) {
            throw new UsageError(`enroll-secrets create needs --name\n${USAGE}`);
          }
          const expires = values.expires as string | undefined;
          const maxUses = positiveIntFlag(
            values['max-uses'],
            '--max-uses must be a whole number from 1',
            /^[1-9][0-9]{0,6}$/,
          );
          const group = values.group as string | undefined;
          const created = await parsed.client().call<{
            enrollSecret: EnrollSecret;
            secret: string;
          }>('POST', '/enroll-secrets', {
            body: {
              name,
              ...(group === undefined ? {} : { groupId: group }),
              ...(expires === undefined ? {} : { expiresInDays: parseDays(expires) }),
              ...(maxUses === undefined ? {} : { maxUses }),
            },
          });
          await printCreatedSecret(io, json, created, formatTable(HEADERS, [row(created.enrollSecret)]));
          return EXIT.ok;
        },
        list: async () => {
          expectArgs(rest, 0, USAGE);
          const listed = await parsed
            .client()
            .call<{ enrollSecrets: EnrollSecret[] }>('GET', '/enroll-secrets');
          await printResult(io, json, listed, formatTable(HEADERS, listed.enrollSecrets.map(row)));
          return EXIT.ok;
        },
        revoke: async () => {
          expectArgs(rest, 1, USAGE);
          const revoked = await parsed
            .client()
            .call<EnrollSecret>('DELETE', `/enroll-secrets/${encodeURIComponent(rest[0] ?? '')}`);
          await printResult(io, json, revoked, formatTable(HEADERS, [row(revoked)]));
          return EXIT.ok;
        },
      };
    },
  );
}
