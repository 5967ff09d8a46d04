import { describe, expect, it } from 'vitest';
import { testDialects } from './dialects.js';

// The store tests skip PostgreSQL without PATCHWARDEN_TEST_POSTGRES_URL; `.ci/run` sets
// PATCHWARDEN_REQUIRE_TOOLS=1 so that in CI a missing server fails here instead of skipping unseen.
const required = process.env.PATCHWARDEN_REQUIRE_TOOLS === '1';

describe.skipIf(!required)('the real PostgreSQL the store tests run on (PATCHWARDEN_REQUIRE_TOOLS=1)', () => {
  it('is configured and answers', async () => {
    const postgres = testDialects().find((dialect) => dialect.name === 'postgres');
    expect(postgres?.skipReason).toBeNull();

    const store = await postgres?.open();
    await store?.dispose();

    expect(store?.dialect).toBe('postgres');
  });
});
