import { UsageError } from '../errors.js';
import type { Io } from '../io.js';

/** `patchwarden enroll-secrets` — not built yet. */
export async function enrollSecretsCommand(_args: string[], _io: Io): Promise<number> {
  throw new UsageError('patchwarden enroll-secrets is not built yet');
}
