import { UsageError } from '../errors.js';
import type { Io } from '../io.js';

/** `patchwarden summary` — not built yet. */
export async function summaryCommand(_args: string[], _io: Io): Promise<number> {
  throw new UsageError('patchwarden summary is not built yet');
}
