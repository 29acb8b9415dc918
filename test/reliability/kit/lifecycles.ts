import { sql } from 'drizzle-orm';
import { queryRows } from '../../../src/db/client';
import { getPriceByLookupKey } from '../../../src/modules/catalog/catalog.service';
import { expect } from 'vitest';
import { getBalance } from '../../../src/modules/credits/credits.service';
import { can, summary } from '../../../src/modules/entitlements/entitlements.service';
import { type ApiCaller, PASSWORD } from '../../harness';
import { registerSecret } from './report';
import { type Any, DAY, type System, T0 } from './system';

export const CUSTOMER_EMAIL = 'customer@reliability.test';
export const GOOD_CARD = '4242424242424242';
export const FAILING_CARD = '4000000000000341';

/**
 * A customer driving one system: every call goes to the next app instance in turn (as behind a load
 * balancer), every step ends when all webhooks are delivered. Steps happen at fixed business times (T0 +
 * offset), so the in-order run and a faulted run do the same things at the same Stripe times.
 */
export class Customer {
  token = '';
  userId = '';
  private turn = 0;

  constructor(readonly sys: System) {}

  async signUp() {
    const res = await this.next()('POST', 'auth/signup', {
      body: { email: CUSTOMER_EMAIL, password: PASSWORD },
    });
    if (res.status !== 201) throw new Error(`signup: ${res.status} ${JSON.stringify(res.body)}`);
    this.token = res.body.token;
    this.userId = res.body.user.id;
    registerSecret('session_token', this.token);
    registerSecret('csrf_token', res.body.csrf_token);
  }

  next(): ApiCaller {
    const list = this.sys.instances;
    return list[this.turn++ % list.length]!.call;
  }

  /** A call that must succeed with `status`. */
  async ok(method: string, path: string, body?: unknown, status = 200, token = this.token): Promise<Any> {
    const res = await this.next()(method, path, { token, body });
    if (res.status !== status) {
      throw new Error(`${method} ${path}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
    }
    return res.body;
  }

  async priceId(lookupKey: string): Promise<string> {
    const p = await getPriceByLookupKey(this.sys.deps.db, lookupKey);
    if (!p) throw new Error(`no price ${lookupKey}`);
    return p.id;
  }

  /** Checkout, pay on the emulator's hosted page, land on the success page (another instance). */
  async buy(lookupKey: string, card = GOOD_CARD): Promise<string> {
    const created = await this.ok(
      'POST',
      'payments/checkout',
      { price_id: await this.priceId(lookupKey) },
      201,
    );
    const sessionId = created.session_id as string;
    await this.sys.control('POST', `/_emulator/checkout/sessions/${sessionId}/complete`, { card });
    await this.ok('GET', `payments/checkout/${sessionId}`);
    await this.sys.drain();
    return sessionId;
  }

  async consume(amount: number, key: string) {
    await this.ok('POST', 'credits/consume', { credit_type: 'ai_tokens', amount, idempotency_key: key });
  }

  async status(): Promise<Any> {
    return this.ok('GET', 'payments/subscription/status');
  }

  /** Seconds from T0 to the end of the current period. */
  async periodEndOffset(): Promise<number> {
    const s = await this.status();
    return Math.floor(new Date(s.current_period_end).getTime() / 1000) - T0;
  }

  async stripeCustomerId(): Promise<string> {
    const [row] = await queryRows<{ id: string }>(
      this.sys.deps.db,
      sql`select stripe_customer_id as id from users where id = ${this.userId}`,
    );
    return row!.id;
  }

  async setCard(card: string) {
    await this.sys.control('POST', `/_emulator/customers/${await this.stripeCustomerId()}/card`, { card });
  }

  async payments(): Promise<Any[]> {
    return (await this.ok('GET', 'payments?limit=100')).data;
  }
}

export interface Lifecycle {
  name: string;
  run(c: Customer): Promise<void>;
  /** What the lifecycle must have produced, checked after every run (the in-order one included). */
  verify(c: Customer): Promise<void>;
}

/** The facts a run ends with, in one comparable value. */
export async function facts(c: Customer) {
  const s = await c.status();
  const payments = (await c.payments()).map((p) => `${p.kind} ${p.status} ${p.amount}/${p.amount_refunded}`);
  const balance = await getBalance(c.sys.deps, c.userId, 'ai_tokens');
  const sum = await summary(c.sys.deps, c.userId);
  return {
    subscription: s.status ? `${s.status}${s.has_access ? ' with access' : ''}` : null,
    payments: payments.sort(),
    credits: balance.available,
    tier: sum.tier,
    features: (
      await Promise.all(
        ['advanced_analytics', 'priority_support', 'sso'].map(async (f) =>
          (await can(c.sys.deps, c.userId, f)) ? f : null,
        ),
      )
    ).filter(Boolean),
  };
}

async function paymentFor(c: Customer, lookupKey: string): Promise<Any> {
  const priceId = await c.priceId(lookupKey);
  const p = (await c.payments()).find((x) => x.price_id === priceId && x.status !== 'expired');
  if (!p) throw new Error(`no payment for ${lookupKey}`);
  return p;
}

async function chargeOf(c: Customer, paymentId: string): Promise<string> {
  const [row] = await queryRows<{ charge: string | null; pi: string | null }>(
    c.sys.deps.db,
    sql`select stripe_charge_id as charge, stripe_payment_intent_id as pi from payments where id = ${paymentId}`,
  );
  if (row?.charge) return row.charge;
  const pi = await c.sys.deps.stripe!.paymentIntents.retrieve(row!.pi!);
  return pi.latest_charge as string;
}

async function refund(c: Customer, paymentId: string, amount: number | undefined, reason: string) {
  await c.ok(
    'POST',
    `admin/payments/${paymentId}/refund`,
    { ...(amount ? { amount } : {}), reason },
    202,
    c.sys.adminToken,
  );
  await c.sys.drain();
}

export const LIFECYCLES: Lifecycle[] = [
  {
    name: 'one-time purchase',
    async run(c) {
      await c.sys.at(60);
      await c.buy('credits_10k');
      await c.sys.at(120);
      await c.buy('analytics_addon');
      await c.consume(2500, 'use-1');
      await c.sys.at(DAY);
    },
    async verify(c) {
      expect(await facts(c)).toEqual({
        subscription: null,
        payments: ['checkout succeeded 2900/0', 'checkout succeeded 500/0'],
        credits: 7500,
        tier: 'free',
        features: ['advanced_analytics'],
      });
    },
  },
  {
    name: 'subscription with renewals and a failure',
    async run(c) {
      await c.sys.control('POST', '/_emulator/billing/settings', { retry_days: [3, 9, 12] });
      await c.sys.at(60);
      await c.buy('pro_monthly');
      await c.consume(1000, 'month-1');
      await c.sys.at((await c.periodEndOffset()) + 3600); // renewal 1 succeeds
      await c.consume(2000, 'month-2');
      await c.setCard(FAILING_CARD);
      await c.sys.at((await c.periodEndOffset()) + 3600); // renewal 2 fails: past_due
      await c.setCard(GOOD_CARD);
      const s = await c.status();
      const since = Math.floor(new Date(s.past_due_since ?? s.current_period_start).getTime() / 1000) - T0;
      await c.sys.at(since + 3 * DAY + 7200); // the first retry succeeds: active again
    },
    async verify(c) {
      expect(await facts(c)).toEqual({
        subscription: 'active with access',
        payments: [
          'checkout succeeded 1900/0',
          'subscription_cycle succeeded 1900/0',
          'subscription_cycle succeeded 1900/0',
        ],
        credits: 100_000,
        tier: 'pro',
        features: ['priority_support'],
      });
    },
  },
  {
    name: 'upgrade',
    async run(c) {
      await c.sys.at(60);
      await c.buy('pro_monthly');
      await c.consume(30_000, 'before-upgrade');
      await c.sys.at(10 * DAY);
      const team = await c.priceId('team_monthly');
      await c.ok('POST', 'payments/subscription/preview', { price_id: team });
      await c.ok('POST', 'payments/subscription/change', {
        price_id: team,
        proration_date: new Date((T0 + 10 * DAY) * 1000).toISOString(),
      });
      await c.sys.drain();
      await c.consume(5000, 'after-upgrade');
      await c.sys.at((await c.periodEndOffset()) + 3600); // renews on team
    },
    async verify(c) {
      const f = await facts(c);
      expect(f).toMatchObject({ subscription: 'active with access', credits: 500_000, tier: 'team' });
      expect(f.payments).toEqual([
        'checkout succeeded 1900/0',
        'subscription_cycle succeeded 4900/0',
        expect.stringMatching(/^subscription_update succeeded \d+\/0$/),
      ]);
      expect(f.features).toContain('sso');
    },
  },
  {
    name: 'cancel',
    async run(c) {
      await c.sys.at(60);
      await c.buy('pro_monthly');
      await c.sys.at(5 * DAY);
      await c.ok('POST', 'payments/subscription/cancel', {});
      await c.sys.drain();
      await c.sys.at(6 * DAY);
      await c.ok('POST', 'payments/subscription/resume', {});
      await c.sys.drain();
      await c.sys.at(7 * DAY);
      await c.ok('POST', 'payments/subscription/cancel', {});
      await c.sys.drain();
      await c.sys.at((await c.periodEndOffset()) + 3600); // ended at the period end
    },
    async verify(c) {
      expect(await facts(c)).toEqual({
        subscription: 'canceled',
        payments: ['checkout succeeded 1900/0'],
        credits: 0,
        tier: 'free',
        features: [],
      });
    },
  },
  {
    name: 'refund',
    async run(c) {
      await c.sys.at(60);
      await c.buy('credits_10k');
      await c.consume(2000, 'spent');
      await c.sys.at(DAY);
      const p = await paymentFor(c, 'credits_10k');
      await refund(c, p.id, Math.floor(p.amount / 5), 'requested_by_customer'); // partial: a fifth
      await c.sys.at(2 * DAY);
      await refund(c, p.id, undefined, 'requested_by_customer'); // the rest
      await c.sys.at(3 * DAY);
    },
    async verify(c) {
      // 10,000 granted, 2,000 spent; a fifth refunded claws back 2,000, the rest what is left (policy unused).
      expect(await facts(c)).toEqual({
        subscription: null,
        payments: ['checkout refunded 500/500'],
        credits: 0,
        tier: 'free',
        features: [],
      });
    },
  },
  {
    name: 'dispute',
    async run(c) {
      await c.sys.at(60);
      await c.buy('credits_10k');
      await c.consume(1000, 'spent');
      await c.sys.at(120);
      await c.buy('analytics_addon');
      const pack = await paymentFor(c, 'credits_10k');
      const addon = await paymentFor(c, 'analytics_addon');
      await c.sys.at(DAY);
      const won = await c.sys.control('POST', '/_emulator/disputes', { charge: await chargeOf(c, pack.id) });
      const lost = await c.sys.control('POST', '/_emulator/disputes', {
        charge: await chargeOf(c, addon.id),
      });
      await c.sys.drain();
      await c.sys.at(5 * DAY);
      await c.sys.control('POST', `/_emulator/disputes/${won.id}/close`, { outcome: 'won' });
      await c.sys.control('POST', `/_emulator/disputes/${lost.id}/close`, { outcome: 'lost' });
      await c.sys.drain();
      await c.sys.at(6 * DAY);
    },
    async verify(c) {
      // The pack's dispute was won (its 9,000 credits restored), the add-on's lost (advanced_analytics gone).
      expect(await facts(c)).toEqual({
        subscription: null,
        payments: ['checkout disputed 2900/0', 'checkout succeeded 500/0'],
        credits: 9000,
        tier: 'free',
        features: [],
      });
    },
  },
];

export interface FaultKind {
  name: string;
  faults: Any;
}

/** The delivery faults of issue 13 (and all of them together), each on both instances for a whole lifecycle. */
export const FAULT_KINDS: FaultKind[] = [
  { name: 'duplicated', faults: { delivery: { duplicate: 2 } } },
  { name: 'shuffled', faults: { delivery: { shuffle: true } } },
  { name: 'delayed', faults: { delivery: { delay_ms: 40 } } },
  { name: 'failed-then-retried', faults: { delivery: { fail_first: 2 } } },
  {
    name: 'all of these at once',
    faults: { delivery: { duplicate: 1, shuffle: true, delay_ms: 10, fail_first: 1 } },
  },
];
