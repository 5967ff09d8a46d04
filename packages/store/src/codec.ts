import { PatchwardenError } from '@patchwarden/core';

/** A timestamp column as read: ISO text on SQLite, a `Date` on PostgreSQL. */
export function readTimestamp(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}

export function readOptionalTimestamp(value: Date | string | null): Date | null {
  return value === null ? null : readTimestamp(value);
}

export function writeTimestamp(value: Date): string {
  return value.toISOString();
}

/** A JSON text column as read; `column` names it in the error when the text is not JSON. */
export function readJson(text: string, column: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PatchwardenError('CORRUPT_ROW', `${column} holds invalid JSON`, 500, { cause: err });
  }
}

/** An opaque page cursor: base64url JSON of `parts`. */
export function encodeCursor(parts: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/**
 * The parts of a cursor `encodeCursor` made, null for no cursor. Throws INVALID_CURSOR (400) with
 * `message` when the text is not such a cursor or `isValid` rejects its parts.
 */
export function decodeCursor(
  cursor: string | null | undefined,
  isValid: (parts: unknown[]) => boolean,
  message: string,
): unknown[] | null {
  if (cursor == null || cursor === '') {
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  if (!Array.isArray(parsed) || !isValid(parsed)) {
    throw new PatchwardenError('INVALID_CURSOR', message, 400);
  }
  return parsed;
}
