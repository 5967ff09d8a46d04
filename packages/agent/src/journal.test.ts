import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JOURNAL_FILE, JOURNAL_KEEP_JOBS, openJournal } from './journal.js';

describe('journal', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pw-journal-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('folds a job’s lines into its record and ignores a line torn by a crash', async () => {
    const journal = openJournal(dir);
    await journal.append({ step: 'started', jobId: 'a', at: 't1' });
    await journal.append({
      step: 'change-started',
      jobId: 'a',
      at: 't2',
      before: [],
      expected: [{ name: 'x', version: '2' }],
    });
    await appendFile(join(dir, JOURNAL_FILE), '{"step":"change-fini');

    const record = await journal.record('a');

    expect(record).toMatchObject({
      isStarted: true,
      isChangeFinished: false,
      result: null,
      isResultPosted: false,
    });
    expect(record?.change?.expected).toEqual([{ name: 'x', version: '2' }]);
    expect((await stat(join(dir, JOURNAL_FILE))).mode & 0o777).toBe(0o600);
  });

  it('compacts to the newest finished jobs and keeps every unfinished one', async () => {
    const journal = openJournal(dir);
    for (let i = 0; i < JOURNAL_KEEP_JOBS + 5; i++) {
      await journal.append({ step: 'result-posted', jobId: `done-${i}`, at: 't' });
    }
    await journal.append({ step: 'started', jobId: 'open', at: 't' });

    await journal.compact();
    const ids = (await journal.records()).map((r) => r.jobId);

    expect(ids).toHaveLength(JOURNAL_KEEP_JOBS + 1);
    expect(ids).not.toContain('done-0');
    expect(ids).toContain(`done-${JOURNAL_KEEP_JOBS + 4}`);
    expect(ids).toContain('open');
    expect((await readFile(join(dir, JOURNAL_FILE), 'utf8')).endsWith('\n')).toBe(true);
  });
});
