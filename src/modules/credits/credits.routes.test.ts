import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNothingWritten } from '../../../test/credits-kit';
import { api, createTestApp, signupUser, type TestApp } from '../../../test/harness';
import { setRole } from '../users/users.service';

let t: TestApp;
let call: ReturnType<typeof api>;
let admin: Awaited<ReturnType<typeof signupUser>>;
let alice: Awaited<ReturnType<typeof signupUser>>;
let bob: Awaited<ReturnType<typeof signupUser>>;
let serviceKey: string;

beforeAll(async () => {
  t = await createTestApp({ env: { ADMIN_EMAIL: 'credits-admin@example.com' } });
  call = api(t.app);
  admin = await signupUser(call, 'credits-admin@example.com');
  alice = await signupUser(call);
  bob = await signupUser(call);
  const key = await call('POST', 'api-keys', {
    token: admin.token,
    body: { name: 'backend', scopes: ['credits:read', 'credits:write'], on_behalf: true },
  });
  serviceKey = key.body.key;
});
afterAll(() => t.close());

const grant = async (userId: string, amount: number, extra: Record<string, unknown> = {}) => {
  const res = await call('POST', 'admin/credits/grant', {
    token: admin.token,
    body: { user_id: userId, credit_type: 'ai_tokens', amount, pool: 'purchased', reason: 'test', ...extra },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
};
const consumeAs = (token: string, body: Record<string, unknown>) =>
  call('POST', 'credits/consume', { token, body: { credit_type: 'ai_tokens', ...body } });

describe('consume, balance and transactions', () => {
  it('consumes, answers the contract shape, and replays the first result for the same key', async () => {
    await grant(alice.user.id, 100);
    const first = await consumeAs(alice.token, {
      amount: 30,
      idempotency_key: 'a-1',
      description: 'one image',
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ credits_consumed: 30, remaining_balance: 70 });
    expect(first.body.transaction_id).toMatch(/^[0-9a-f-]{36}$/);
    const again = await consumeAs(alice.token, {
      amount: 30,
      idempotency_key: 'a-1',
      description: 'one image',
    });
    expect(again.body).toEqual({ ...first.body, replayed: true });
    const viaHeader = await call('POST', 'credits/consume', {
      token: alice.token,
      headers: { 'idempotency-key': 'a-2' },
      body: { credit_type: 'ai_tokens', amount: 5 },
    });
    expect(viaHeader.body.remaining_balance).toBe(65);
  });

  it('answers 402 insufficient_credits with needed and available, writing nothing', async () => {
    const u = await signupUser(call);
    await grant(u.user.id, 3);
    await expectNothingWritten(t.deps.database, async () => {
      const res = await consumeAs(u.token, { amount: 4, idempotency_key: 'x' });
      expect(res.status).toBe(402);
      expect(res.body.error).toMatchObject({
        code: 'insufficient_credits',
        details: { needed: 4, available: 3 },
      });
    });
  });

  it('refuses bad amounts, unknown types, unknown fields and a missing key with 400, writing nothing', async () => {
    const bad: Record<string, unknown>[] = [
      { amount: 0, idempotency_key: 'b' },
      { amount: -5, idempotency_key: 'b' },
      { amount: 2.5, idempotency_key: 'b' },
      { amount: '5', idempotency_key: 'b' },
      { amount: null, idempotency_key: 'b' },
      { amount: 10 ** 12 + 1, idempotency_key: 'b' },
      { amount: 1e300, idempotency_key: 'b' },
      { amount: 1 },
      { amount: 1, idempotency_key: '' },
      { amount: 1, idempotency_key: 'b', credit_type: 'gold_bars' },
      { amount: 1, idempotency_key: 'b', credit_type: 'AI TOKENS' },
      { amount: 1, idempotency_key: 'b', surprise: true },
    ];
    await expectNothingWritten(t.deps.database, async () => {
      for (const body of bad) {
        const res = await consumeAs(alice.token, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe('invalid_request');
      }
      const notJson = await call('POST', 'credits/consume', { token: alice.token, body: 'amount=5' });
      expect(notJson.status).toBe(400);
      const reserve = await call('POST', 'credits/reserve', {
        token: alice.token,
        body: { credit_type: 'ai_tokens', amount: 1, idempotency_key: 'r', ttl_seconds: 0 },
      });
      expect(reserve.status).toBe(400);
    });
  });

  it('reports a balance per type with its grants, and every type without one', async () => {
    const u = await signupUser(call);
    await grant(u.user.id, 10, { expires_at: new Date(t.clock.now().getTime() + 86_400_000).toISOString() });
    await grant(u.user.id, 7, { credit_type: 'api_calls' });
    const one = await call('GET', 'credits/balance?credit_type=ai_tokens', { token: u.token });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ credit_type: 'ai_tokens', available: 10, reserved: 0 });
    expect(one.body.expires_at).toBeTruthy();
    expect(one.body.grants).toHaveLength(1);
    expect(one.body.grants[0]).toMatchObject({ pool: 'purchased', amount: 10, remaining: 10 });
    const all = await call('GET', 'credits/balance', { token: u.token });
    expect(
      all.body.balances.map((b: { credit_type: string; available: number }) => [b.credit_type, b.available]),
    ).toEqual([
      ['ai_tokens', 10],
      ['api_calls', 7],
    ]);
    expect((await call('GET', 'credits/balance?credit_type=nope', { token: u.token })).status).toBe(400);
  });

  it('pages through the ledger newest first', async () => {
    const u = await signupUser(call);
    await grant(u.user.id, 100);
    for (let i = 0; i < 5; i++) await consumeAs(u.token, { amount: 1, idempotency_key: `p${i}` });
    const page1 = await call('GET', 'credits/transactions?credit_type=ai_tokens&limit=4', { token: u.token });
    expect(page1.body.has_more).toBe(true);
    expect(page1.body.data.map((r: { balance_after: number }) => r.balance_after)).toEqual([95, 96, 97, 98]);
    const last = page1.body.data[3].id;
    const page2 = await call(
      'GET',
      `credits/transactions?credit_type=ai_tokens&limit=4&starting_after=${last}`,
      {
        token: u.token,
      },
    );
    expect(page2.body).toMatchObject({ has_more: false });
    expect(page2.body.data.map((r: { type: string }) => r.type)).toEqual(['usage', 'purchase']);
    const mixed = await call('GET', 'credits/transactions?limit=2', { token: u.token });
    expect(mixed.body.data).toHaveLength(2);
    const row = page1.body.data[0];
    for (const field of [
      'balance_before',
      'balance_after',
      'idempotency_key',
      'reference_id',
      'type',
      'amount',
    ]) {
      expect(row).toHaveProperty(field);
    }
  });
});

describe('holds over HTTP', () => {
  it('reserve -> commit part -> the rest comes back', async () => {
    const u = await signupUser(call);
    await grant(u.user.id, 50);
    const hold = await call('POST', 'credits/reserve', {
      token: u.token,
      body: { credit_type: 'ai_tokens', amount: 20, idempotency_key: 'job-1', ttl_seconds: 120 },
    });
    expect(hold.status).toBe(201);
    expect(hold.body.reservation_id).toBeTruthy();
    expect(new Date(hold.body.expires_at).getTime()).toBe(t.clock.now().getTime() + 120_000);
    const commit = await call('POST', `credits/reservations/${hold.body.reservation_id}/commit`, {
      token: u.token,
      body: { amount: 15 },
    });
    expect(commit.body).toMatchObject({ status: 'committed', credits_consumed: 15, remaining_balance: 35 });
    const state = await call('GET', `credits/reservations/${hold.body.reservation_id}`, { token: u.token });
    expect(state.body).toMatchObject({ status: 'committed', committed_amount: 15 });
  });

  it('release needs no body; unknown and malformed ids are 404 and 400', async () => {
    const u = await signupUser(call);
    await grant(u.user.id, 5);
    const hold = await call('POST', 'credits/reserve', {
      token: u.token,
      body: { credit_type: 'ai_tokens', amount: 5, idempotency_key: 'job', ttl_seconds: 60 },
    });
    const released = await call('POST', `credits/reservations/${hold.body.reservation_id}/release`, {
      token: u.token,
    });
    expect(released.body).toMatchObject({ status: 'released', remaining_balance: 5 });
    const unknown = '01900000-0000-7000-8000-000000000000';
    expect((await call('POST', `credits/reservations/${unknown}/commit`, { token: u.token })).status).toBe(
      404,
    );
    expect((await call('POST', 'credits/reservations/not-a-uuid/commit', { token: u.token })).status).toBe(
      400,
    );
  });
});

describe('who may act for whom', () => {
  it('a user cannot read or spend another user’s credits', async () => {
    await grant(bob.user.id, 10);
    await expectNothingWritten(t.deps.database, async () => {
      const spend = await consumeAs(alice.token, {
        amount: 1,
        idempotency_key: 'steal',
        user_id: bob.user.id,
      });
      expect(spend.status).toBe(403);
      const read = await call('GET', `credits/balance?user_id=${bob.user.id}`, { token: alice.token });
      expect(read.status).toBe(403);
      const list = await call('GET', `credits/transactions?user_id=${bob.user.id}`, { token: alice.token });
      expect(list.status).toBe(403);
    });
    const hold = await call('POST', 'credits/reserve', {
      token: bob.token,
      body: { credit_type: 'ai_tokens', amount: 2, idempotency_key: 'bob-job', ttl_seconds: 60 },
    });
    await expectNothingWritten(t.deps.database, async () => {
      const id = hold.body.reservation_id;
      expect((await call('POST', `credits/reservations/${id}/commit`, { token: alice.token })).status).toBe(
        404,
      );
      expect((await call('POST', `credits/reservations/${id}/release`, { token: alice.token })).status).toBe(
        404,
      );
      expect((await call('GET', `credits/reservations/${id}`, { token: alice.token })).status).toBe(404);
    });
  });

  it('a user-created key cannot act for another user; a key without credits:write cannot consume', async () => {
    const own = await call('POST', 'api-keys', {
      token: alice.token,
      body: { name: 'mine', scopes: ['credits:read', 'credits:write'] },
    });
    const readOnly = await call('POST', 'api-keys', {
      token: alice.token,
      body: { name: 'ro', scopes: ['credits:read'] },
    });
    const asService = await call('POST', 'api-keys', {
      token: alice.token,
      body: { name: 'sneaky', scopes: ['credits:write'], on_behalf: true },
    });
    expect(asService.status).toBe(403);
    await expectNothingWritten(t.deps.database, async () => {
      const res = await consumeAs(own.body.key, { amount: 1, idempotency_key: 'k', user_id: bob.user.id });
      expect(res.status).toBe(403);
      const ro = await consumeAs(readOnly.body.key, { amount: 1, idempotency_key: 'k' });
      expect(ro.status).toBe(403);
    });
  });

  it('a service key consumes and reads for a named non-admin user, and never for an admin', async () => {
    const u = await signupUser(call);
    await grant(u.user.id, 10);
    const res = await consumeAs(serviceKey, { amount: 4, idempotency_key: 'svc-1', user_id: u.user.id });
    expect(res.status).toBe(200);
    expect(res.body.remaining_balance).toBe(6);
    const read = await call('GET', `credits/balance?credit_type=ai_tokens&user_id=${u.user.id}`, {
      token: serviceKey,
    });
    expect(read.body.available).toBe(6);
    const hold = await call('POST', 'credits/reserve', {
      token: serviceKey,
      body: {
        credit_type: 'ai_tokens',
        amount: 2,
        idempotency_key: 'svc-h',
        ttl_seconds: 60,
        user_id: u.user.id,
      },
    });
    const commit = await call('POST', `credits/reservations/${hold.body.reservation_id}/commit`, {
      token: serviceKey,
    });
    expect(commit.body).toMatchObject({ status: 'committed', remaining_balance: 4 });
    const otherAdmin = await signupUser(call);
    await setRole(t.deps.db, otherAdmin.user.id, 'admin');
    await expectNothingWritten(t.deps.database, async () => {
      const forAdmin = await consumeAs(serviceKey, {
        amount: 1,
        idempotency_key: 'svc-2',
        user_id: otherAdmin.user.id,
      });
      expect(forAdmin.status).toBe(403);
    });
    const unknownUser = await consumeAs(serviceKey, {
      amount: 1,
      idempotency_key: 'svc-3',
      user_id: '01900000-0000-7000-8000-000000000000',
    });
    expect(unknownUser.status).toBe(404);
  });
});

describe('admin', () => {
  it('grants (idempotent on idempotency_key), adjusts with a reason, and transfers between pools', async () => {
    const u = await signupUser(call);
    const body = { idempotency_key: 'comp-1', reference_id: 'ticket_9' };
    const first = await grant(u.user.id, 40, body);
    expect(first.grant).toMatchObject({
      amount: 40,
      remaining: 40,
      pool: 'purchased',
      reference_id: 'ticket_9',
    });
    expect(first.transaction_id).toBeTruthy();
    expect(first.entitlement_id).toBeTruthy();
    const again = await call('POST', 'admin/credits/grant', {
      token: admin.token,
      body: {
        user_id: u.user.id,
        credit_type: 'ai_tokens',
        amount: 40,
        pool: 'purchased',
        reason: 'test',
        ...body,
      },
    });
    expect(again.status).toBe(200);
    expect(again.body.grant.id).toBe(first.grant.id);
    const down = await call('POST', 'admin/credits/adjust', {
      token: admin.token,
      body: { user_id: u.user.id, credit_type: 'ai_tokens', amount: -15, reason: 'abuse' },
    });
    expect(down.body).toMatchObject({ amount: -15, balance: 25 });
    const moved = await call('POST', 'admin/credits/transfer', {
      token: admin.token,
      body: {
        user_id: u.user.id,
        credit_type: 'ai_tokens',
        amount: 5,
        from_pool: 'purchased',
        to_pool: 'bonus',
        reason: 'r',
      },
    });
    expect(moved.status).toBe(200);
    const view = await call('GET', `admin/credits/users/${u.user.id}`, { token: admin.token });
    expect(view.body.balances.balances[0]).toMatchObject({ credit_type: 'ai_tokens', available: 25 });
    expect(view.body.transactions.data[0]).toMatchObject({ type: 'transfer', pool: 'bonus' });
  });

  it('refuses bad admin input with 400 (or 404 for an unknown user) and writes nothing', async () => {
    const base = { user_id: alice.user.id, credit_type: 'ai_tokens', amount: 5, pool: 'bonus', reason: 'r' };
    await expectNothingWritten(t.deps.database, async () => {
      for (const body of [
        { ...base, amount: 0 },
        { ...base, amount: 10 ** 13 },
        { ...base, reason: undefined },
        { ...base, reason: '  ' },
        { ...base, pool: 'gold' },
        { ...base, credit_type: 'nope' },
        { ...base, expires_at: '2000-01-01T00:00:00Z' },
        { ...base, expires_at: 'tomorrow' },
      ]) {
        const res = await call('POST', 'admin/credits/grant', { token: admin.token, body });
        expect(res.status, JSON.stringify(body)).toBe(400);
      }
      const unknown = await call('POST', 'admin/credits/grant', {
        token: admin.token,
        body: { ...base, user_id: '01900000-0000-7000-8000-000000000000' },
      });
      expect(unknown.status).toBe(404);
      const adjust = await call('POST', 'admin/credits/adjust', {
        token: admin.token,
        body: { user_id: alice.user.id, credit_type: 'ai_tokens', amount: 0, reason: 'r' },
      });
      expect(adjust.status).toBe(400);
      const noReason = await call('POST', 'admin/credits/adjust', {
        token: admin.token,
        body: { user_id: alice.user.id, credit_type: 'ai_tokens', amount: 5 },
      });
      expect(noReason.status).toBe(400);
      const samePool = await call('POST', 'admin/credits/transfer', {
        token: admin.token,
        body: {
          user_id: alice.user.id,
          credit_type: 'ai_tokens',
          amount: 1,
          from_pool: 'bonus',
          to_pool: 'bonus',
          reason: 'r',
        },
      });
      expect(samePool.status).toBe(400);
      const asUser = await call('POST', 'admin/credits/grant', { token: alice.token, body: base });
      expect(asUser.status).toBe(403);
      const asServiceKey = await call('POST', 'admin/credits/grant', { token: serviceKey, body: base });
      expect(asServiceKey.status).toBe(403);
    });
  });
});
