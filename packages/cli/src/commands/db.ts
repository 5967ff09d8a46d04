import { UsageError } from '../errors.js';
import type { Io } from '../io.js';

/** `patchwarden db` — not built yet. */
export async function dbCommand(_args: string[], _io: Io): Promise<number> {
  throw new UsageError('patchwarden db is not built yet');
}
