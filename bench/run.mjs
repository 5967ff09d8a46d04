// `npm run bench -- <name> [args]`: runs bench/<name>.mjs against the built packages and prints its JSON.
import { readdir } from 'node:fs/promises';

const [name, ...args] = process.argv.slice(2);
const available = (await readdir(new URL('.', import.meta.url)))
  .filter((file) => file.endsWith('.mjs') && file !== 'run.mjs')
  .map((file) => file.slice(0, -'.mjs'.length));
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${available.join('|')}> [args]\n`);
  process.exit(2);
}
const bench = await import(`./${name}.mjs`);
await bench.run(args);
