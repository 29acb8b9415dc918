import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyHotAccount } from '../bench/consume-hot';
import { consume, grantCredits } from '../src/modules/credits/credits.service';
import { quickUser } from './credits-kit';
import { createTestApp, type TestApp } from './harness';

/**
 * The benchmark's invariant (issue 12, "Must hold"): the one-hot-customer run must end with the balance
 * exactly the initial amount minus its ledger rows, one row per success, no key twice - and the benchmark
 * must fail loudly otherwise. Here on a small account, consistent and then broken by hand.
 */
describe('the hot-account check of npm run bench', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('passes an account whose balance is its grant minus its usage rows, and fails one that is not', async () => {
    const u = await quickUser(t.deps.db);
    await grantCredits(t.deps, { userId: u, creditType: 'ai_tokens', amount: 100, pool: 'purchased' });
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        consume(t.deps, { userId: u, creditType: 'ai_tokens', amount: 3, idempotencyKey: `hot-${i}` }),
      ),
    );
    expect(await verifyHotAccount(t.deps, u, 100, 8)).toEqual({ balance: 76, used: 24, rows: 8 });
    // A success the ledger does not hold.
    await expect(verifyHotAccount(t.deps, u, 100, 9)).rejects.toThrow(/8 usage rows for 9..9/);
    // A balance that drifted from its ledger.
    await t.deps.db.execute(
      sql`update credit_balances set balance = balance - 1 where user_id = ${u} and credit_type = 'ai_tokens'`,
    );
    await expect(verifyHotAccount(t.deps, u, 100, 8)).rejects.toThrow(
      /balance 75 != initial 100 - ledger 24/,
    );
  });
});
