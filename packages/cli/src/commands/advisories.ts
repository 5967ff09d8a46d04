import { UsageError } from '../errors.js';
import type { Io } from '../io.js';

/** `patchwarden advisories` — not built yet. */
export async function advisoriesCommand(_args: string[], _io: Io): Promise<number> {
  throw new UsageError('patchwarden advisories is not built yet');
}
