import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedFileKind, loadFeedSource } from './index.js';

/** A minimal zip writer (deflate, UTF-8 names, DOS dates) so archives are built here, not checked in. */
function makeZip(
  entries: Array<{ path: string; data?: string | Buffer; date?: Date; stored?: boolean }>,
): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.path, 'utf8');
    const raw = typeof entry.data === 'string' ? Buffer.from(entry.data) : (entry.data ?? Buffer.alloc(0));
    const isDir = entry.path.endsWith('/');
    const method = isDir || entry.stored ? 0 : 8;
    const body = method === 8 ? deflateRawSync(raw) : raw;
    const d = entry.date ?? new Date(Date.UTC(2024, 0, 2, 3, 4, 6));
    const time = (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1);
    const date = ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate();
    const crc = crc32(raw);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(time, 12);
    central.writeUInt16LE(date, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

let dir: string;
const options = () => ({ cacheDir: join(dir, 'cache') });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pw-feeds-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('feeds/feedFileKind', () => {
  it.each`
    name                               | kind
    ${'DSA-5000-1.json'}               | ${'document'}
    ${'almalinux9.ndjson'}             | ${'document'}
    ${'v3.10-main.yaml'}               | ${'document'}
    ${'main.yml'}                      | ${'document'}
    ${'epss_scores-2025-01-01.csv.gz'} | ${'gzip'}
    ${'known_exploited.json.gz'}       | ${'gzip'}
    ${'all.zip'}                       | ${'zip'}
    ${'list'}                          | ${'document'}
    ${'DSA-list'}                      | ${'document'}
    ${'data/DLA/list'}                 | ${'document'}
    ${'README.md'}                     | ${null}
    ${'backup.tar.gz'}                 | ${null}
    ${'checklist'}                     | ${null}
    ${'SHA256SUMS'}                    | ${null}
  `('$name is $kind', ({ name, kind }) => {
    expect(feedFileKind(name)).toBe(kind);
  });
});

describe('feeds/loadFeedSource on files', () => {
  it('reads a plain file with its mtime as timestamp, dropping a byte-order mark', async () => {
    const path = join(dir, 'one.json');
    await writeFile(path, '\uFEFF{"id":"DSA-1-1"}');
    await utimes(path, new Date('2024-05-06T07:08:09Z'), new Date('2024-05-06T07:08:09Z'));

    const feed = await loadFeedSource(path, options());

    expect(feed).toEqual({
      spec: path,
      documents: [
        { location: path, name: 'one.json', text: '{"id":"DSA-1-1"}', timestamp: '2024-05-06T07:08:09.000Z' },
      ],
      skipped: [],
      warnings: [],
    });
  });

  it('gunzips a .gz file and names the document without .gz', async () => {
    const path = join(dir, 'epss_scores-2025-01-01.csv.gz');
    await writeFile(path, gzipSync('#model_version:v2025.03.14\ncve,epss,percentile\nCVE-2024-1,0.5,0.9\n'));

    const feed = await loadFeedSource(path, options());

    expect(feed.documents).toHaveLength(1);
    expect(feed.documents[0]?.name).toBe('epss_scores-2025-01-01.csv');
    expect(feed.documents[0]?.text).toContain('CVE-2024-1,0.5,0.9');
  });

  it('reads a mislabelled file by its content (a gzip without .gz)', async () => {
    const path = join(dir, 'kev.json');
    await writeFile(path, gzipSync('{"catalogVersion":"x"}'));

    const feed = await loadFeedSource(path, options());

    expect(feed.documents[0]?.text).toBe('{"catalogVersion":"x"}');
  });

  it('reads every feed entry of an all.zip export in name order, with entry dates, listing the rest', async () => {
    const path = join(dir, 'all.zip');
    await writeFile(
      path,
      makeZip([
        {
          path: 'DSA-5002-1.json',
          data: '{"id":"DSA-5002-1"}',
          date: new Date(Date.UTC(2023, 9, 3, 12, 0, 0)),
        },
        { path: 'sub/', data: '' },
        { path: 'sub/DLA-3000-1.json.gz', data: gzipSync('{"id":"DLA-3000-1"}') },
        { path: 'DSA-5001-1.json', data: '{"id":"DSA-5001-1"}', stored: true },
        { path: 'NOTICE.txt', data: 'licence' },
        { path: 'inner.zip', data: makeZip([]) },
      ]),
    );

    const feed = await loadFeedSource(path, options());

    expect(feed.documents.map((d) => [d.location, d.name, d.text])).toEqual([
      [`${path}:DSA-5001-1.json`, 'DSA-5001-1.json', '{"id":"DSA-5001-1"}'],
      [`${path}:DSA-5002-1.json`, 'DSA-5002-1.json', '{"id":"DSA-5002-1"}'],
      [`${path}:sub/DLA-3000-1.json.gz`, 'DLA-3000-1.json', '{"id":"DLA-3000-1"}'],
    ]);
    expect(feed.documents[1]?.timestamp).toBe('2023-10-03T12:00:00.000Z');
    expect(feed.skipped.map((s) => s.location)).toEqual([`${path}:NOTICE.txt`, `${path}:inner.zip`]);
    expect(feed.skipped[1]?.reason).toMatch(/zip archive inside a zip/);
  });

  it('walks a directory recursively in name order, reading feeds and listing every other file', async () => {
    const root = join(dir, 'bundle');
    await mkdir(join(root, 'debian', 'DSA'), { recursive: true });
    await mkdir(join(root, 'alpine'), { recursive: true });
    await writeFile(join(root, 'README.md'), '# notes');
    await writeFile(join(root, 'debian', 'DSA', 'list'), '[01 Jan 2024] DSA-1-1 foo - bar\n');
    await writeFile(join(root, 'debian', 'tracker.json'), '{}');
    await writeFile(join(root, 'alpine', 'v3.19-main.yaml'), 'distroversion: v3.19\n');
    await writeFile(join(root, 'alma.ndjson'), '{"id":"ALSA-1"}\n');
    await writeFile(join(root, 'epss.csv.gz'), gzipSync('cve,epss\n'));
    await writeFile(join(root, 'osv.zip'), makeZip([{ path: 'USN-1-1.json', data: '{}' }]));
    await writeFile(join(root, 'broken.json.gz'), Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    await writeFile(join(root, 'broken.zip'), Buffer.from('PK\u0003\u0004 not really a zip'));

    const feed = await loadFeedSource(root, options());

    expect(feed.documents.map((d) => d.location.slice(root.length + 1))).toEqual([
      'alma.ndjson',
      'alpine/v3.19-main.yaml',
      'debian/DSA/list',
      'debian/tracker.json',
      'epss.csv.gz',
      'osv.zip:USN-1-1.json',
    ]);
    expect(feed.skipped.map((s) => [s.location.slice(root.length + 1), s.reason.split(':')[0]])).toEqual([
      [
        'README.md',
        'not a feed file (extension ".md"; read are .json .ndjson .jsonl .yaml .yml .csv, .gz of those, .zip, and DSA/DLA list files)',
      ],
      ['broken.json.gz', 'corrupt gzip data'],
      ['broken.zip', 'unreadable zip archive'],
    ]);
  });

  it('fails with FEED_NOT_FOUND naming a missing path', async () => {
    await expect(loadFeedSource(join(dir, 'nope'), options())).rejects.toMatchObject({
      code: 'FEED_NOT_FOUND',
      message: `${join(dir, 'nope')}: no such file or directory`,
    });
  });

  it('enforces the size limit on files, on gzip output and on zip entries (FEED_TOO_LARGE)', async () => {
    const big = join(dir, 'big.json');
    await writeFile(big, 'x'.repeat(2000));
    const bomb = join(dir, 'bomb.json.gz');
    await writeFile(bomb, gzipSync(Buffer.alloc(1_000_000, 0x20)));
    const zip = join(dir, 'bomb.zip');
    await writeFile(zip, makeZip([{ path: 'a.json', data: Buffer.alloc(1_000_000, 0x20) }]));

    for (const path of [big, bomb, zip]) {
      await expect(loadFeedSource(path, { ...options(), maxBytes: 1000 })).rejects.toMatchObject({
        code: 'FEED_TOO_LARGE',
      });
    }
    await expect(loadFeedSource(bomb, { ...options(), maxBytes: 2_000_000 })).resolves.toMatchObject({
      skipped: [],
    });
  });
});
