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
