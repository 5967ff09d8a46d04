import { UsageError } from '../errors.js';
import type { Io } from '../io.js';

/** `patchwarden tokens` — not built yet. */
export async function tokensCommand(_args: string[], _io: Io): Promise<number> {
  throw new UsageError('patchwarden tokens is not built yet');
}
