import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectConsistent, quickUser } from '../../../test/credits-kit';
import { createTestApp, isPostgres, type TestApp } from '../../../test/harness';
import { openDatabase, queryRows } from '../../db/client';
import type { Clock } from '../../lib/clock';
import { newId } from '../../lib/ids';
import type { KnownState } from './account';
import { consume, grantCredits } from './credits.service';
import type { CreditsDeps } from './credits.types';
import { LedgerEngine, ledgerEngine } from './engine';
import { KnownAccounts } from './known-accounts';

const state = (seq: number): KnownState => ({
  totals: { balance: seq, reserved: 0, debt: 0, used: 0, seq },
  buckets: [],
});

describe('KnownAccounts', () => {
  it('keeps the most recently used accounts up to its limit', () => {
    const known = new KnownAccounts(() => 0, 2);
    known.remember('a', state(1));
    known.remember('b', state(2));
    expect(known.get('a')?.totals.seq).toBe(1);
    known.remember('c', state(3));
    expect(known.get('b')).toBeUndefined();
    expect(known.get('a')?.totals.seq).toBe(1);
    expect(known.get('c')?.totals.seq).toBe(3);
    known.remember('c', null);
    expect(known.get('c')).toBeUndefined();
    expect(known.size).toBe(1);
  });

  it('leaves out an account whose guard missed until its back-off has passed', () => {
    let now = 0;
    const known = new KnownAccounts(() => now, 10, 1_000);
    known.remember('a', state(1));
    known.miss('a');
    expect(known.get('a')).toBeUndefined();
    now = 999;
    known.remember('a', state(2));
    expect(known.get('a')).toBeUndefined();
    now = 1_000;
    known.remember('a', state(3));
    expect(known.get('a')?.totals.seq).toBe(3);
    known.forget('a');
    expect(known.get('a')).toBeUndefined();
  });
});

/**
 * Everything of an account that does not depend on ids or on which engine wrote it (the keys of a burst
 * of concurrent calls land in either order).
 */
async function accountDigest(deps: CreditsDeps, userId: string) {
  const [balance] = await queryRows<Record<string, unknown>>(
    deps.db,
    sql`select balance, reserved, debt, used, seq from credit_balances
      where user_id = ${userId} and credit_type = 'ai_tokens'`,
  );
  const grants = await queryRows<Record<string, unknown>>(
    deps.db,
    sql`select id, pool, amount, remaining, expires_at, expired_at is not null as expired from credit_grants
      where user_id = ${userId} and credit_type = 'ai_tokens' order by created_at, amount`,
  );
  const index = new Map(grants.map((g, i) => [g.id as string, i]));
  const rows = await queryRows<Record<string, unknown>>(
    deps.db,
    sql`select seq, type, amount, balance_before, balance_after, pool, grant_id, allocations,
        idempotency_key like 'burst%' as burst
      from credit_transactions where user_id = ${userId} and credit_type = 'ai_tokens' order by seq`,
  );
  return {
    balance,
    grants: grants.map(({ id: _, ...g }) => g),
    rows: rows.map((r) => ({
      ...r,
      grant_id: r.grant_id === null ? null : index.get(r.grant_id as string),
      allocations: (r.allocations as { grant_id: string; amount: number }[] | null)?.map((a) => ({
        bucket: index.get(a.grant_id),
        amount: a.amount,
      })),
    })),
  };
}

/** An answer without its ids (which differ between two accounts by design). */
const shape = (v: unknown) =>
  JSON.parse(JSON.stringify(v, (k, x) => (k.endsWith('id') && typeof x === 'string' ? '<id>' : x)));

/** What a call answers: its result, or the error's code and details. */
const answer = (p: Promise<unknown>) =>
  p.then(
    (v) => ({ ok: shape(v) }),
    (e: { code?: string; details?: unknown }) => ({ error: e.code, details: shape(e.details) }),
  );

/**
 * The guarded one-round-trip write (PostgreSQL: the engine knows an account's state only there). Each
 * check runs the same operations through one engine, which learns the account and then writes it the
 * guarded way, and through an engine that has never seen it, which locks and loads as before.
 */
describe.skipIf(!isPostgres())('known accounts: one guarded write per batch (PostgreSQL)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  /** Deps whose engine is this process's usual one (it learns accounts) or a new one for every call. */
  const steady = () => t.deps;
  /** An engine that has never seen any account: engines are kept per (database, clock). */
  const fresh = (): CreditsDeps => ({ ...t.deps, clock: { now: () => t.clock.now() } satisfies Clock });

  it('answers and writes exactly what locking and loading does, across buckets, expiry and refusals', async () => {
    const [a, b] = [await quickUser(t.deps.db), await quickUser(t.deps.db)];
    const engine = ledgerEngine(t.deps);
    const before = { ...engine.known.counts };
    const both = async (call: (deps: CreditsDeps, user: string) => Promise<unknown>) => {
      const viaKnown = await answer(call(steady(), a));
      const viaLoad = await answer(call(fresh(), b));
      expect(viaKnown).toEqual(viaLoad);
      return viaKnown;
    };
    const grant = (amount: number, pool: 'purchased' | 'bonus' | 'promotional', expiresInMs?: number) => () =>
      both((deps, user) =>
        grantCredits(deps, {
          userId: user,
          creditType: 'ai_tokens',
          amount,
          pool,
          expiresAt: expiresInMs ? new Date(t.clock.now().getTime() + expiresInMs) : null,
        }),
      );
    let k = 0;
    const take = (amount: number, key = `k${k++}`) =>
      both((deps, user) =>
        consume(deps, { userId: user, creditType: 'ai_tokens', amount, idempotencyKey: key }),
      );

    await grant(100, 'purchased')();
    await grant(50, 'bonus', 24 * 3600_000)();
    await take(30);
    await take(40);
    await grant(20, 'promotional', 3 * 24 * 3600_000)();
    t.clock.advance(2 * 24 * 3600_000); // the bonus bucket (10 left) expires before the next consumption
    await take(25);
    expect(await take(500)).toMatchObject({ error: 'insufficient_credits' });
    await take(35);
    // A burst: the known engine batches it (one guarded write), the other runs it the same way.
    const burst = Array.from({ length: 12 }, (_, i) => `burst${i}`);
    const known = await Promise.all(
      burst.map((key) =>
        answer(consume(steady(), { userId: a, creditType: 'ai_tokens', amount: 1, idempotencyKey: key })),
      ),
    );
    const loaded = await Promise.all(
      burst.map((key) =>
        answer(consume(fresh(), { userId: b, creditType: 'ai_tokens', amount: 1, idempotencyKey: key })),
      ),
    );
    expect(known.map((x) => JSON.stringify(x)).sort()).toEqual(loaded.map((x) => JSON.stringify(x)).sort());

    const counts = engine.known.counts;
    expect(counts.written - before.written).toBeGreaterThanOrEqual(6);
    expect(counts.missed - before.missed).toBe(0);
    expect(counts.refused - before.refused).toBe(0);
    expect(await accountDigest(t.deps, a)).toEqual(await accountDigest(t.deps, b));
    await expectConsistent(t.deps.db, a);

    // A replayed key: the guard finds it written, writes nothing, and the usual path answers the replay.
    await take(2, 'again');
    const replay = await take(2, 'again');
    expect(replay).toMatchObject({ ok: { replayed: true, credits_consumed: 2 } });
    expect(counts.missed - before.missed).toBe(1);
    expect(counts.refused - before.refused).toBe(0);
    expect(await accountDigest(t.deps, a)).toEqual(await accountDigest(t.deps, b));
  });

  it('misses when another writer changed the account, writes nothing, and the batch runs the usual way', async () => {
    const u = await quickUser(t.deps.db);
    const engine = new LedgerEngine(t.deps.database, t.clock);
    const run = (amount: number, key: string) =>
      engine.run<{ remaining_balance: number }>(u, 'ai_tokens', { kind: 'consume', amount, key });
    await grantCredits(t.deps, { userId: u, creditType: 'ai_tokens', amount: 100, pool: 'purchased' });
    await run(10, 'a'); // learns the account
    expect((await run(10, 'b')).remaining_balance).toBe(80);
    expect(engine.known.counts).toEqual({ written: 1, missed: 0, refused: 0 });
    // Another instance (another engine) grants 5 and consumes 1 meanwhile.
    await grantCredits(fresh(), { userId: u, creditType: 'ai_tokens', amount: 5, pool: 'bonus' });
    await consume(fresh(), { userId: u, creditType: 'ai_tokens', amount: 1, idempotencyKey: 'other' });
    expect((await run(10, 'c')).remaining_balance).toBe(74);
    expect(engine.known.counts).toEqual({ written: 1, missed: 1, refused: 0 });
    const rows = await queryRows<{ idempotency_key: string | null }>(
      t.deps.db,
      sql`select idempotency_key from credit_transactions where user_id = ${u} and type = 'usage' order by seq`,
    );
    expect(rows.map((r) => r.idempotency_key)).toEqual(['a', 'b', 'other', 'c']);
    await expectConsistent(t.deps.db, u);
  });

  it('a batch over several accounts writes none of them when one has moved', async () => {
    const users = [await quickUser(t.deps.db), await quickUser(t.deps.db), await quickUser(t.deps.db)];
    // One batch at a time: operations queued during a batch form the next one, over every account.
    const engine = new LedgerEngine(t.deps.database, t.clock, 500, 1);
    const round = (tag: string) =>
      Promise.all(
        users.map((u) =>
          engine.run<{ remaining_balance: number }>(u, 'ai_tokens', { kind: 'consume', amount: 1, key: tag }),
        ),
      );
    for (const u of users)
      await grantCredits(t.deps, { userId: u, creditType: 'ai_tokens', amount: 10, pool: 'purchased' });
    await round('r1');
    await round('r2');
    const written = engine.known.counts.written;
    expect(written).toBeGreaterThanOrEqual(1);
    await consume(fresh(), {
      userId: users[1]!,
      creditType: 'ai_tokens',
      amount: 2,
      idempotencyKey: 'moved',
    });
    const blocker = engine.run(users[0]!, 'ai_tokens', { kind: 'consume', amount: 1, key: 'first' });
    const r3 = round('r3');
    await blocker;
    expect((await r3).map((r) => r.remaining_balance)).toEqual([6, 5, 7]);
    expect(engine.known.counts).toMatchObject({ missed: 1, refused: 0 });
    for (const u of users) await expectConsistent(t.deps.db, u);
    const [{ n }] = (await queryRows<{ n: number }>(
      t.deps.db,
      sql`select count(*)::int as n from credit_transactions where idempotency_key = 'r3'`,
    )) as [{ n: number }];
    expect(n).toBe(3);
  });

  it('a write the database refuses (a key taken meanwhile under another credit type) writes nothing', async () => {
    const u = await quickUser(t.deps.db);
    const engine = new LedgerEngine(t.deps.database, t.clock);
    await grantCredits(t.deps, { userId: u, creditType: 'ai_tokens', amount: 100, pool: 'purchased' });
    await engine.run(u, 'ai_tokens', { kind: 'consume', amount: 1, key: 'learn' });
    // Another connection holds an uncommitted ledger row of the same user and key under another type:
    // the guard cannot see it, the unique index makes the guarded insert wait for it and then refuse.
    const url = (t.deps.database.pool!.options as { connectionString: string }).connectionString;
    const other = await openDatabase({ url, poolSize: 1 });
    try {
      const client = await other.pool!.connect();
      await client.query('begin');
      await client.query(
        `insert into credit_transactions (id, user_id, credit_type, seq, type, amount, balance_before,
          balance_after, idempotency_key, created_at) values ($1, $2, 'other_type', 1, 'grant', 1, 0, 1, 'taken', now())`,
        [newId(), u],
      );
      const pending = engine.run(u, 'ai_tokens', { kind: 'consume', amount: 5, key: 'taken' }).then(
        (v) => ({ v }),
        (e: { code?: string }) => ({ e: e.code }),
      );
      // Commit only once the guarded statement waits on that row's index entry (not before: then the
      // guard would see the key and miss, instead of being refused).
      for (let waited = 0; ; waited += 20) {
        // Read on another connection: pg_stat_activity keeps one snapshot per transaction.
        const [{ n }] = (await queryRows<{ n: number }>(
          t.deps.db,
          sql`select count(*)::int as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock'
              and query like 'execute pw_credits_write_guarded%'`,
        )) as [{ n: number }];
        if (n > 0) break;
        if (waited > 10_000) throw new Error('the guarded write never waited on the held key');
        await new Promise((r) => setTimeout(r, 20));
      }
      await client.query('commit');
      client.release();
      const outcome = await pending;
      expect(engine.known.counts).toEqual({ written: 0, missed: 0, refused: 1 });
      // The usual path found the key taken: the same answer an engine that never knew the account gives.
      const again = await engine.run(u, 'ai_tokens', { kind: 'consume', amount: 5, key: 'taken' }).then(
        (v) => ({ v }),
        (e: { code?: string }) => ({ e: e.code }),
      );
      expect(outcome).toEqual(again);
      const rows = await queryRows<{ n: number }>(
        t.deps.db,
        sql`select count(*)::int as n from credit_transactions where user_id = ${u} and credit_type = 'ai_tokens'`,
      );
      expect(rows[0]!.n).toBe(2); // the grant and 'learn'
      await expectConsistent(t.deps.db, u);
    } finally {
      await other.close();
    }
  });
});
