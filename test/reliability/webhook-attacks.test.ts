import { createHmac } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getBalance } from '../../src/modules/credits/credits.service';
import { allCounts, countChanges } from './kit/db';
import { rawRequest } from './kit/http';
import { Customer } from './kit/lifecycles';
import { count } from './kit/report';
import { startSystem, type System } from './kit/system';

/**
 * Attackers at the webhook endpoint (issue 13, item 4): forged, stale, replayed and re-signed events are
 * refused with a 400 and write nothing; a captured genuine delivery replayed later changes nothing.
 */
let sys: System;
let secret: string;
let url: string;
let customer: Customer;
let completed: Stripe.Event;

beforeAll(async () => {
  sys = await startSystem({ template: inject('templateDb'), label: 'whatk', instances: 1, fixedTime: false });
  url = sys.instances[0]!.webhookUrl;
  secret = sys.instances[0]!.t.config.webhookSecrets.at(-1)!;
  customer = new Customer(sys);
  await customer.signUp();
  const sessionId = await customer.buy('credits_10k');
  const events = await sys.deps.stripe!.events.list({ type: 'checkout.session.completed', limit: 10 });
  completed = events.data.find((e) => (e.data.object as { id: string }).id === sessionId)!;
  expect(completed).toBeTruthy();
});
afterAll(() => sys?.close());

const now = () => Math.floor(Date.now() / 1000);
const sign = (payload: string, key: string, t = now()) =>
  `t=${t},v1=${createHmac('sha256', key).update(`${t}.${payload}`).digest('hex')}`;

/** A forged `checkout.session.completed` for a session that would grant credits if it were believed. */
function forgedEvent(): string {
  const obj = structuredClone(completed) as Stripe.Event & { id: string };
  obj.id = `evt_forged${Math.random().toString(36).slice(2, 12)}`;
  return JSON.stringify(obj);
}

async function post(body: string | Uint8Array, headers: Record<string, string>) {
  count('attacks');
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : Buffer.from(body),
  });
}

async function expectRefused(res: Response, reason?: RegExp) {
  expect(res.status).toBe(400);
  const body = (await res.json()) as { error: { code: string; message: string; request_id: string } };
  expect(body.error.code).toBe('invalid_request');
  expect(body.error.request_id).toBeTruthy();
  if (reason) expect(JSON.stringify(body.error)).toMatch(reason);
}

describe('webhook attacks write nothing', () => {
  const cases: Array<
    [string, () => { body: string | Uint8Array; headers: Record<string, string> }, RegExp?]
  > = [
    ['no signature', () => ({ body: forgedEvent(), headers: {} }), /Missing Stripe-Signature/],
    [
      'a garbage signature header',
      () => ({ body: forgedEvent(), headers: { 'stripe-signature': 'garbage' } }),
    ],
    [
      'signed with another secret (re-signed by an attacker)',
      () => {
        const body = forgedEvent();
        return { body, headers: { 'stripe-signature': sign(body, 'whsec_attacker0000000000000000000') } };
      },
      /no matching signature/,
    ],
    [
      'signed with the secret without its whsec_ prefix',
      () => {
        const body = forgedEvent();
        return { body, headers: { 'stripe-signature': sign(body, secret.replace(/^whsec_/, '')) } };
      },
    ],
    [
      'stale: a correct signature from 6 minutes ago',
      () => {
        const body = forgedEvent();
        return { body, headers: { 'stripe-signature': sign(body, secret, now() - 360) } };
      },
      /tolerance/,
    ],
    [
      'stale: a correct signature from yesterday',
      () => {
        const body = forgedEvent();
        return { body, headers: { 'stripe-signature': sign(body, secret, now() - 86_400) } };
      },
      /tolerance/,
    ],
    [
      'the body changed after signing',
      () => {
        const body = forgedEvent();
        const header = sign(body, secret);
        const altered = body.replace('"amount_total":500', '"amount_total":5');
        expect(altered).not.toBe(body);
        return { body: altered, headers: { 'stripe-signature': header } };
      },
    ],
    [
      'only a v0 (test-mode legacy) signature',
      () => {
        const body = forgedEvent();
        return { body, headers: { 'stripe-signature': sign(body, secret).replace('v1=', 'v0=') } };
      },
    ],
    [
      'a timestamp that does not match the signed one',
      () => {
        const body = forgedEvent();
        const t = now();
        const sig = sign(body, secret, t - 1000).split(',v1=')[1];
        return { body, headers: { 'stripe-signature': `t=${t},v1=${sig}` } };
      },
    ],
    [
      're-serialised JSON (same event, different bytes)',
      () => {
        const body = forgedEvent();
        const header = sign(body, secret);
        return { body: JSON.stringify(JSON.parse(body), null, 1), headers: { 'stripe-signature': header } };
      },
    ],
  ];

  for (const [name, make, reason] of cases) {
    it(`${name}: 400 and no row`, async () => {
      const before = await allCounts(sys.database);
      const { body, headers } = make();
      await expectRefused(await post(body, headers), reason);
      expect(countChanges(before, await allCounts(sys.database))).toEqual([]);
    });
  }

  it('a signed body that is not JSON: 400 and no row', async () => {
    const before = await allCounts(sys.database);
    const body = 'not json at all';
    await expectRefused(await post(body, { 'stripe-signature': sign(body, secret) }));
    const bytes = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]);
    await expectRefused(
      await post(bytes, { 'stripe-signature': sign(Buffer.from(bytes).toString('latin1'), secret) }),
    );
    expect(countChanges(before, await allCounts(sys.database))).toEqual([]);
  });

  it('a signed JSON body that is not a Stripe event: 400 and no row', async () => {
    const before = await allCounts(sys.database);
    for (const body of ['{}', '[]', '{"id": 1, "type": "x"}', '"evt_1"', 'null']) {
      await expectRefused(await post(body, { 'stripe-signature': sign(body, secret) }));
    }
    expect(countChanges(before, await allCounts(sys.database))).toEqual([]);
  });

  it('an oversized webhook body: 413 before any signature work, no row', async () => {
    const before = await allCounts(sys.database);
    const body = JSON.stringify({ id: 'evt_big', type: 'x', created: 1, pad: 'x'.repeat(2 * 1024 * 1024) });
    for (const chunked of [false, true]) {
      count('attacks');
      const res = await rawRequest(url, {
        headers: { 'content-type': 'application/json', 'stripe-signature': sign(body, secret) },
        body,
        chunked,
      });
      expect(res.status, chunked ? 'streamed without a length' : 'with a length').toBe(413);
      expect(JSON.parse(res.text).error.code).toBe('payload_too_large');
    }
    expect(countChanges(before, await allCounts(sys.database))).toEqual([]);
  });
});

describe('replays', () => {
  it('a captured genuine delivery replayed within the tolerance is acknowledged as a duplicate and changes nothing', async () => {
    const body = JSON.stringify(completed, null, 2);
    const header = sign(body, secret); // what the attacker captured off the wire
    const before = await allCounts(sys.database);
    for (let i = 0; i < 3; i++) {
      const res = await post(body, { 'stripe-signature': header });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ received: true, status: 'duplicate' });
    }
    expect(countChanges(before, await allCounts(sys.database))).toEqual([]);
    expect((await getBalance(sys.deps, customer.userId, 'ai_tokens')).available).toBe(10_000);
  });

  it('the same capture replayed after the tolerance is refused as stale', async () => {
    const body = JSON.stringify(completed, null, 2);
    const header = sign(body, secret, now() - 301);
    await expectRefused(await post(body, { 'stripe-signature': header }), /tolerance/);
  });

  it('a genuine event id re-sent under another secret is refused (the id alone proves nothing)', async () => {
    const body = JSON.stringify({ ...completed, type: 'charge.refunded' });
    await expectRefused(
      await post(body, { 'stripe-signature': sign(body, 'whsec_someone_else_entirely_123') }),
    );
  });

  it('during a rotation both secrets are accepted, and a third is not', async () => {
    const config = sys.instances[0]!.t.config;
    const next = 'whsec_rotated_in_secret_for_this_test_0001';
    config.webhookSecrets.push(next);
    try {
      const a = JSON.stringify({ ...completed, id: 'evt_rotation_old_secret' });
      const b = JSON.stringify({ ...completed, id: 'evt_rotation_new_secret' });
      count('attacks', 2);
      expect((await post(a, { 'stripe-signature': sign(a, secret) })).status).toBe(200);
      expect((await post(b, { 'stripe-signature': sign(b, next) })).status).toBe(200);
      const c = JSON.stringify({ ...completed, id: 'evt_rotation_other_secret' });
      await expectRefused(
        await post(c, { 'stripe-signature': sign(c, 'whsec_not_configured_anywhere_000') }),
      );
      // The two accepted copies describe the already-fulfilled session: still 10,000 credits.
      expect((await getBalance(sys.deps, customer.userId, 'ai_tokens')).available).toBe(10_000);
    } finally {
      config.webhookSecrets.pop();
    }
  });
});
