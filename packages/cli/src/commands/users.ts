import { UsageError } from '../errors.js';
import type { Io } from '../io.js';

/** `patchwarden users` — not built yet. */
export async function usersCommand(_args: string[], _io: Io): Promise<number> {
  throw new UsageError('patchwarden users is not built yet');
}
