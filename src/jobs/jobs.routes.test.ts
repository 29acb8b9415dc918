import { sql } from 'drizzle-orm';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, countRows, createTestApp, signupUser, type TestApp } from '../../test/harness';
import type { Deps } from '../deps';
import { overrideHandlers } from '../webhooks/dispatch';
import { defineHandler } from '../webhooks/handler';
import { processEvent, recordEvent, retryUnhandledEvents } from '../webhooks/inbox';
import { getEvent } from '../webhooks/inbox-queries';
import { builtinJobs } from './index';
import { JobRunner } from './runner';

let t: TestApp;
let call: ReturnType<typeof api>;
let adminToken: string;
let userToken: string;
beforeAll(async () => {
  t = await createTestApp({ env: { ADMIN_EMAIL: 'jobs-admin@example.com' } });
  call = api(t.app);
  adminToken = (await signupUser(call, 'jobs-admin@example.com')).token;
  userToken = (await signupUser(call)).token;
  // Three periods of two jobs, one failing.
  let n = 0;
  const runner = new JobRunner<Deps>(
    t.deps,
    [
      { name: 'test.ok', everyMs: 60_000, run: async () => 2 },
      {
        name: 'test.flaky',
        everyMs: 60_000,
        run: async () => {
          if (++n === 2) throw new Error('upstream down');
          return 1;
        },
      },
    ],
    { instance: 'test-instance' },
  );
  for (let i = 0; i < 3; i++) {
    await runner.tick();
    t.clock.advance(60_000);
  }
});
afterAll(() => t.close());

describe('GET /api/v1/admin/jobs', () => {
  it('lists job runs newest first with their outcome, period and instance', async () => {
    const res = await call('GET', 'admin/jobs', { token: adminToken });
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(6);
    expect(res.body.has_more).toBe(false);
    const starts = res.body.data.map((r: { started_at: string }) => r.started_at);
    expect([...starts].sort().reverse()).toEqual(starts);
    expect(res.body.data[0]).toMatchObject({
      trigger: 'schedule',
      instance: 'test-instance',
      finished_at: expect.any(String),
      duration_ms: expect.any(Number),
    });
  });

  it('filters by job and status', async () => {
    const failed = await call('GET', 'admin/jobs?status=failed', { token: adminToken });
    expect(failed.body.data).toEqual([
      expect.objectContaining({
        job: 'test.flaky',
        status: 'failed',
        error: 'upstream down',
        processed: null,
      }),
    ]);
    const ok = await call('GET', 'admin/jobs?job=test.ok', { token: adminToken });
    expect(ok.body.data.map((r: { job: string; processed: number }) => [r.job, r.processed])).toEqual(
      Array(3).fill(['test.ok', 2]),
    );
    const since = await call('GET', `admin/jobs?since=${encodeURIComponent('2999-01-01T00:00:00Z')}`, {
      token: adminToken,
    });
    expect(since.body.data).toEqual([]);
  });

  it('paginates with limit and starting_after', async () => {
    const all = (await call('GET', 'admin/jobs', { token: adminToken })).body.data;
    const page1 = await call('GET', 'admin/jobs?limit=4', { token: adminToken });
    expect(page1.body).toMatchObject({ has_more: true });
    const page2 = await call('GET', `admin/jobs?limit=4&starting_after=${page1.body.data[3].id}`, {
      token: adminToken,
    });
    expect(page2.body.has_more).toBe(false);
    expect([...page1.body.data, ...page2.body.data]).toEqual(all);
  });

  it('refuses non-admins, bad filters (400) and an unknown cursor (404)', async () => {
    expect((await call('GET', 'admin/jobs', { token: userToken })).status).toBe(403);
    expect((await call('GET', 'admin/jobs')).status).toBe(401);
    for (const q of [
      'status=done',
      'limit=0',
      'limit=101',
      'starting_after=nope',
      'since=yesterday',
      'job=DROP%20TABLE',
    ]) {
      const res = await call('GET', `admin/jobs?${q}`, { token: adminToken });
      expect(res.status, q).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    const unknown = await call('GET', 'admin/jobs?starting_after=01900000-0000-7000-8000-000000000000', {
      token: adminToken,
    });
    expect(unknown.status).toBe(404);
  });
});

describe('the webhooks.retry job', () => {
  const event = (id: string) =>
    ({
      id,
      object: 'event',
      type: 'test.retry',
      created: 1,
      livemode: false,
      data: { object: { id: 'x' } },
    }) as unknown as Stripe.Event;

  it('is one of the built-in jobs', () => {
    expect(builtinJobs().map((j) => j.name)).toEqual(
      expect.arrayContaining(['webhooks.retry', 'payments.stale_checkouts', 'credits.expire']),
    );
  });

  it('retries an unhandled event after its backoff, at most maxAttempts times, and handles it once it works', async () => {
    let healthy = false;
    let applied = 0;
    overrideHandlers(t.deps, {
      'test.retry': defineHandler({
        async apply() {
          if (!healthy) throw new Error('handler broken');
          applied++;
        },
      }),
    });
    try {
      const base = 10_000;
      const opts = { olderThanMs: 0, backoffMs: base, maxBackoffMs: 3_600_000, maxAttempts: 3 };
      // Moves the last attempt back in time instead of sleeping (deterministic under load).
      const lastAttemptAgo = (ms: number) =>
        t.deps.db.execute(
          sql`update stripe_events set last_attempt_at = now() - ${ms} * interval '1 millisecond' where id = 'evt_retry_1'`,
        );
      await recordEvent(t.deps, event('evt_retry_1'));
      await processEvent(t.deps, 'evt_retry_1').catch(() => undefined);
      expect((await getEvent(t.deps.db, 'evt_retry_1'))!.attempts).toBe(1);
      // Within the backoff: not retried.
      expect(await retryUnhandledEvents(t.deps, opts)).toEqual({ processed: 0, failed: 0 });
      await lastAttemptAgo(1.5 * base);
      expect(await retryUnhandledEvents(t.deps, opts)).toEqual({ processed: 0, failed: 1 });
      // The second wait is twice as long.
      await lastAttemptAgo(1.5 * base);
      expect(await retryUnhandledEvents(t.deps, opts)).toEqual({ processed: 0, failed: 0 });
      await lastAttemptAgo(2.5 * base);
      expect(await retryUnhandledEvents(t.deps, opts)).toEqual({ processed: 0, failed: 1 });
      // Three attempts: left for an admin, even once the handler works.
      healthy = true;
      await lastAttemptAgo(3_600_000);
      expect(await retryUnhandledEvents(t.deps, opts)).toEqual({ processed: 0, failed: 0 });
      expect(await getEvent(t.deps.db, 'evt_retry_1')).toMatchObject({ attempts: 3, handledAt: null });
      expect(await retryUnhandledEvents(t.deps, { ...opts, maxAttempts: 4 })).toEqual({
        processed: 1,
        failed: 0,
      });
      expect(applied).toBe(1);
      expect((await getEvent(t.deps.db, 'evt_retry_1'))!.handledAt).not.toBeNull();
      const before = await countRows(t.deps.database, ['stripe_events']);
      expect(await retryUnhandledEvents(t.deps, { ...opts, maxAttempts: 10 })).toEqual({
        processed: 0,
        failed: 0,
      });
      expect(await countRows(t.deps.database, ['stripe_events'])).toEqual(before);
    } finally {
      overrideHandlers(t.deps, null);
    }
  });
});
