// Adds the other platforms' optional packages (esbuild, rollup, biome binaries) to package-lock.json.
//
// npm 11.19 writes a lock file holding only this machine's platform packages, and then `npm ci` rejects that
// same lock file as out of sync ("Missing: @biomejs/cli-darwin-x64@ from lock file"; npm/cli#8320, #4828).
// The registry mirror these machines reach holds only the Linux builds (the others answer 404), so the entries
// cannot carry an integrity hash: they name the version and the platform (from the package name, the way
// these packages are named), and npm ci skips them as optional packages for another platform.
// Run this after every `npm install` that changes the lock file.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
let added = 0;

for (const [location, entry] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${location}/node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (packages[nested] || packages[hoisted]) continue;
    packages[hoisted] = {
      version: range,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...platformOf(name),
    };
    added++;
  }
}

lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`package-lock.json: added ${added} optional platform packages\n`);

/** `{ os, cpu }` from names like `@esbuild/linux-arm64`, `@rollup/rollup-win32-x64-msvc`, `@biomejs/cli-darwin-x64`. */
function platformOf(name) {
  const match =
    /(aix|android|darwin|freebsd|linux|netbsd|openbsd|openharmony|sunos|win32|wasi)-([a-z0-9]+)/.exec(name);
  if (!match) return {};
  return { os: [match[1]], cpu: [match[2]] };
}
