import { UsageError } from '../errors.js';
import type { Io } from '../io.js';

/** `patchwarden feeds` — not built yet. */
export async function feedsCommand(_args: string[], _io: Io): Promise<number> {
  throw new UsageError('patchwarden feeds is not built yet');
}
