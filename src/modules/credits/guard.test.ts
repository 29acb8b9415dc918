import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectConsistent, expectNothingWritten, quickUser } from '../../../test/credits-kit';
import { createApp } from '../../app';
import { api, createTestApp, signupUser, type TestApp } from '../../../test/harness';
import { getBalance, listTransactions } from './credits.queries';
import { grantCredits } from './credits.service';
import { type CreditsVariables, requireCredits } from './guard';

let t: TestApp;
let host: Hono<{ Variables: CreditsVariables }>;
const ran: string[] = [];

beforeAll(async () => {
  t = await createTestApp();
  // A host application with its own authentication: the user id travels in a header here.
  host = new Hono<{ Variables: CreditsVariables }>();
  host.onError((err, c) => c.json({ error: err.message }, 500));
  const opts = {
    deps: t.deps,
    user: (c: { req: { header(n: string): string | undefined } }) => c.req.header('x-user'),
  };
  host.post(
    '/generate',
    requireCredits('ai_generations', (req) => Number(req.query('images') ?? '1') * 3, {
      ...opts,
      description: 'image generation',
    }),
    (c) => {
      ran.push('generate');
      return c.json({ charge: c.get('credits') });
    },
  );
  host.post('/explode', requireCredits('ai_generations', 5, opts), () => {
    ran.push('explode');
    throw new Error('model unavailable');
  });
  host.post('/refuse', requireCredits('ai_generations', 5, opts), (c) => {
    ran.push('refuse');
    return c.json({ error: 'prompt rejected' }, 422);
  });
});
afterAll(() => t.close());

const post = (path: string, user: string, headers: Record<string, string> = {}) =>
  host.request(path, { method: 'POST', headers: { 'x-user': user, ...headers } });
const balance = async (u: string) => getBalance(t.deps, u, 'ai_generations');
const fund = (u: string, amount: number) =>
  grantCredits(t.deps, { userId: u, creditType: 'ai_generations', amount, pool: 'purchased' });

describe('requireCredits', () => {
  it('holds before the handler, commits on success and tells the handler what it charged', async () => {
    const u = await quickUser(t.deps.db);
    await fund(u, 20);
    const res = await post('/generate?images=2', u);
    expect(res.status).toBe(200);
    const { charge } = await res.json();
    expect(charge).toMatchObject({
      credit_type: 'ai_generations',
      credits_consumed: 6,
      remaining_balance: 14,
    });
    expect(await balance(u)).toMatchObject({ available: 14, reserved: 0, used: 6 });
    const [usage] = (await listTransactions(t.deps, { userId: u, limit: 1 })).data;
    expect(usage).toMatchObject({
      id: charge.transaction_id,
      type: 'usage',
      amount: -6,
      description: 'image generation',
    });
    await expectConsistent(t.deps.db, u, 'ai_generations');
  });

  it('answers 402 before the handler runs when the user cannot pay, writing nothing', async () => {
    const u = await quickUser(t.deps.db);
    await fund(u, 4);
    const before = ran.length;
    await expectNothingWritten(t.deps.database, async () => {
      const res = await post('/generate?images=2', u);
      expect(res.status).toBe(402);
      const body = await res.json();
      expect(body.error).toMatchObject({
        code: 'insufficient_credits',
        details: { needed: 6, available: 4 },
      });
    });
    expect(ran.length).toBe(before);
  });

  it('charges nothing when the handler throws or answers an error', async () => {
    const u = await quickUser(t.deps.db);
    await fund(u, 10);
    expect((await post('/explode', u)).status).toBe(500);
    expect((await post('/refuse', u)).status).toBe(422);
    expect(ran).toContain('explode');
    expect(await balance(u)).toMatchObject({ available: 10, reserved: 0, used: 0 });
    const types = (await listTransactions(t.deps, { userId: u, limit: 10 })).data.map((r) => r.type);
    expect(types).toEqual(['release', 'reserve', 'release', 'reserve', 'purchase']);
    await expectConsistent(t.deps.db, u, 'ai_generations');
  });

  it('runs and charges once per Idempotency-Key; a retry gets 409', async () => {
    const u = await quickUser(t.deps.db);
    await fund(u, 10);
    const runs = ran.filter((r) => r === 'generate').length;
    expect((await post('/generate', u, { 'idempotency-key': 'gen-1' })).status).toBe(200);
    const retry = await post('/generate', u, { 'idempotency-key': 'gen-1' });
    expect(retry.status).toBe(409);
    expect((await retry.json()).error.code).toBe('idempotency_conflict');
    expect(ran.filter((r) => r === 'generate').length).toBe(runs + 1);
    expect((await balance(u)).available).toBe(7);
  });

  it('answers 401 when there is no user', async () => {
    const res = await host.request('/generate', { method: 'POST' });
    expect(res.status).toBe(401);
  });

  it('inside the Paywire app it charges the authenticated caller', async () => {
    const app = createApp(t.deps);
    app.post('/api/v1/test-guard', requireCredits('ai_generations', 2), (c) =>
      c.json((c as unknown as { get(k: 'credits'): unknown }).get('credits') as object),
    );
    const call = api(app);
    const user = await signupUser(call);
    await fund(user.user.id, 3);
    const ok = await call('POST', 'test-guard', { token: user.token });
    expect(ok.body).toMatchObject({ credits_consumed: 2, remaining_balance: 1 });
    const poor = await call('POST', 'test-guard', { token: user.token });
    expect(poor.status).toBe(402);
    expect(poor.body.error.request_id).toBeTruthy();
    expect((await call('POST', 'test-guard')).status).toBe(401);
  });
});
