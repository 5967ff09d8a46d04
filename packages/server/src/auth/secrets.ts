import { createHash, randomBytes } from 'node:crypto';

/** What a secret is for, as its prefix says: API token, agent node key, enrolment secret. */
export type SecretKind = 'token' | 'node-key' | 'enroll-secret';

const PREFIX: Record<SecretKind, string> = { token: 'pwt_', 'node-key': 'pwn_', 'enroll-secret': 'pwe_' };

/** A new random secret (256 bits, base64url) with its kind's prefix. Shown once, stored only hashed. */
export function generateSecret(kind: SecretKind): string {
  return `${PREFIX[kind]}${randomBytes(32).toString('base64url')}`;
}

/** The stored form of a secret: sha256, hex. Secrets are random, so no salt or slow hash is needed. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
