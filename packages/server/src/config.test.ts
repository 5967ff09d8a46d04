import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PatchwardenError } from '@patchwarden/core';
import { describe, expect, it } from 'vitest';
import { ConfigSchema, loadConfig } from './config.js';

async function configFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-config-'));
  const file = join(dir, 'patchwarden.yaml');
  await writeFile(file, text);
  return file;
}

function problemsOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof PatchwardenError) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('expected loadConfig to throw');
}

describe('server/config', () => {
  it('gives the documented defaults when nothing is set', () => {
    const config = loadConfig();

    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      dataDir: 'patchwarden-data',
      databaseUrl: null,
      bootstrapToken: null,
      feeds: [],
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('takes flags over environment over file', async () => {
    const file = await configFile('port: 7000\nhost: 0.0.0.0\ndataDir: /srv/pw\n');

    const config = loadConfig({
      file,
      env: { PATCHWARDEN_PORT: '7100', PATCHWARDEN_DATA_DIR: '/env/pw' },
      flags: { port: 7200 },
    });

    expect([config.port, config.dataDir, config.host]).toEqual([7200, '/env/pw', '0.0.0.0']);
  });

  it('reads feeds from the file, with their defaults', async () => {
    const file = await configFile(
      'feeds:\n  - name: debian\n    location: https://security-tracker.debian.org/tracker/data/json\n',
    );

    const config = loadConfig({ file });

    expect(config.feeds).toEqual([
      {
        name: 'debian',
        kind: 'auto',
        location: 'https://security-tracker.debian.org/tracker/data/json',
        scheduleSeconds: 86_400,
      },
    ]);
  });

  it('reports every problem at once, naming each setting', async () => {
    const file = await configFile(
      'port: 99999\nlogLevel: loud\nfeeds:\n  - name: "bad name"\n    location: x\ncolour: blue\n',
    );

    const message = problemsOf(() => loadConfig({ file, env: { PATCHWARDEN_BOOTSTRAP_TOKEN: 'short' } }));

    expect(message).toMatch(/^INVALID_CONFIG/);
    expect(message).toContain('port');
    expect(message).toContain('logLevel');
    expect(message).toContain('feeds.0.name');
    expect(message).toContain('bootstrapToken');
    expect(message).toMatch(/colour|additional/i);
  });

  it('names a missing file and a file that is not YAML', async () => {
    const broken = await configFile('port: [1, 2\n');

    expect(problemsOf(() => loadConfig({ file: '/nonexistent/pw.yaml' }))).toMatch(
      /^CONFIG_NOT_FOUND: .*\/nonexistent\/pw.yaml/,
    );
    expect(problemsOf(() => loadConfig({ file: broken }))).toMatch(/^INVALID_CONFIG: .* is not valid YAML/);
  });

  it('is documented setting by setting in docs/configuration.md', async () => {
    const doc = await readFile(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');

    for (const [name, schema] of Object.entries(ConfigSchema.properties)) {
      const env = (schema as { env?: string }).env;
      expect(doc, `docs/configuration.md lacks ${name}`).toContain(`\`${name}\``);
      if (env !== undefined) expect(doc, `docs/configuration.md lacks ${env}`).toContain(`\`${env}\``);
    }
  });
});
