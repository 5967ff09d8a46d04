import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The real advisory data of /work/shared/data, read as `../shared/data/…` from the repository
 * root (never copied into the repository). Tests skip, saying so, when a file is absent.
 */
const DATA_DIR = fileURLToPath(new URL('../../../../../../shared/data/', import.meta.url));

/** Absolute path of `relative` under the shared data folder, or null when the file is absent. */
export function sharedDataPath(relative: string): string | null {
  const path = DATA_DIR + relative;
  return existsSync(path) ? path : null;
}

export function readSharedData(relative: string): string {
  const path = sharedDataPath(relative);
  if (path === null) throw new Error(`shared data file ${relative} is absent`);
  return readFileSync(path, 'utf8');
}

/** The message a skipped conformance test shows. */
export function absentMessage(relative: string): string {
  return `shared data ${relative} is absent (expected at ../shared/data from the repository root): skipping`;
}
