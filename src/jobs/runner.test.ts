import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quickUser } from '../../test/credits-kit';
import { createTestApp, isPostgres, type TestApp } from '../../test/harness';
import { type Database, openDatabase, queryRows } from '../db/client';
import type { Deps } from '../deps';
import { getBalance } from '../modules/credits/credits.queries';
import { grantCredits, reserve } from '../modules/credits/credits.service';
import { createJobRunner } from './index';
import { type JobDefinition, JobRunner } from './runner';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const MINUTE = 60_000;
const runsOf = (job: string) =>
  queryRows<{
    status: string;
    processed: number | null;
    error: string | null;
    business_time: string;
    instance: string;
  }>(
    t.deps.db,
    sql`select status, processed, error, business_time, instance from job_runs where job = ${job} order by started_at, id`,
  );

describe('the job runner', () => {
  it('records each run with its outcome, count and business time', async () => {
    const job: JobDefinition<Deps> = { name: 'test.count', everyMs: MINUTE, run: async () => 7 };
    const runner = new JobRunner(t.deps, [job], { instance: 'one' });
    const [summary] = await runner.tick();
    expect(summary).toMatchObject({ job: 'test.count', status: 'succeeded', processed: 7 });
    const [run] = await runsOf('test.count');
    expect(run).toMatchObject({ status: 'succeeded', processed: 7, instance: 'one' });
    expect(new Date(run!.business_time).getTime()).toBe(t.clock.now().getTime());
  });

  it('runs a period once however many instances poll, and again in the next period', async () => {
    let runs = 0;
    const job: JobDefinition<Deps> = { name: 'test.once', everyMs: MINUTE, run: async () => ++runs };
    const a = new JobRunner(t.deps, [job], { instance: 'a' });
    const b = new JobRunner(t.deps, [job], { instance: 'b' });
    await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
    expect(runs).toBe(1);
    t.clock.advance(MINUTE);
    await Promise.all([b.tick(), a.tick()]);
    expect(runs).toBe(2);
    expect((await runsOf('test.once')).length).toBe(2);
  });

  it('records a failed run and tries again next period', async () => {
    let calls = 0;
    const job: JobDefinition<Deps> = {
      name: 'test.fails',
      everyMs: MINUTE,
      run: async () => {
        if (++calls === 1) throw new Error('upstream down');
        return 1;
      },
    };
    const runner = new JobRunner(t.deps, [job]);
    expect((await runner.tick())[0]).toMatchObject({ status: 'failed', error: 'upstream down' });
    expect((await runner.tick())[0]!.status).toBe('skipped');
    t.clock.advance(MINUTE);
    expect((await runner.tick())[0]!.status).toBe('succeeded');
    expect((await runsOf('test.fails')).map((r) => r.status)).toEqual(['failed', 'succeeded']);
  });

  it('expires credits and holds on business time', async () => {
    const u = await quickUser(t.deps.db);
    await grantCredits(t.deps, {
      userId: u,
      creditType: 'ai_tokens',
      amount: 10,
      pool: 'trial',
      expiresAt: new Date(t.clock.now().getTime() + 3600_000),
    });
    await grantCredits(t.deps, { userId: u, creditType: 'ai_tokens', amount: 5, pool: 'bonus' });
    await reserve(t.deps, {
      userId: u,
      creditType: 'ai_tokens',
      amount: 12,
      idempotencyKey: 'h',
      ttlSeconds: 60,
    });
    t.clock.advance(2 * 3600_000);
    const summaries = await createJobRunner(t.deps).tick();
    const credits = summaries.filter((s) => s.job.startsWith('credits.'));
    expect(credits.map((s) => [s.job, s.status])).toEqual([
      ['credits.expire', 'succeeded'],
      ['credits.holds', 'succeeded'],
    ]);
    // The hold took 10 trial + 2 bonus; released after expiry, the trial part expires at once.
    expect(await getBalance(t.deps, u, 'ai_tokens')).toMatchObject({ available: 5, reserved: 0 });
  });

  it.runIf(isPostgres())('never overlaps runs of one job across instances (advisory lock)', async () => {
    const url = (t.deps.database.pool!.options as { connectionString: string }).connectionString;
    const other: Database = await openDatabase({ url, poolSize: 3 });
    try {
      let active = 0;
      let maxActive = 0;
      const job: JobDefinition<Deps> = {
        name: 'test.slow',
        everyMs: MINUTE,
        run: async () => {
          maxActive = Math.max(maxActive, ++active);
          await new Promise((r) => setTimeout(r, 300));
          active--;
          return 1;
        },
      };
      const a = new JobRunner(t.deps, [job], { instance: 'a' });
      const b = new JobRunner({ ...t.deps, database: other, db: other.db }, [job], { instance: 'b' });
      const results = await Promise.all([a.runNow('test.slow'), b.runNow('test.slow')]);
      expect(maxActive).toBe(1);
      expect(results.map((r) => r.status).sort()).toEqual(['skipped', 'succeeded']);
    } finally {
      await other.close();
    }
  });
});
