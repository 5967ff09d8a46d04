import { UsageError } from '../errors.js';
import type { Io } from '../io.js';

/** `patchwarden findings` — not built yet. */
export async function findingsCommand(_args: string[], _io: Io): Promise<number> {
  throw new UsageError('patchwarden findings is not built yet');
}
