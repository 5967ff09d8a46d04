import { UsageError } from '../errors.js';
import type { Io } from '../io.js';

/** `patchwarden hosts` — not built yet. */
export async function hostsCommand(_args: string[], _io: Io): Promise<number> {
  throw new UsageError('patchwarden hosts is not built yet');
}
