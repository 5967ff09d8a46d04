import { readFileSync } from 'node:fs';

/** Reads a fixture file next to the test that asks (`import.meta.url` of the test). */
export function readFixture(testUrl: string, name: string): string {
  return readFileSync(new URL(`__fixtures__/${name}`, testUrl), 'utf8');
}
