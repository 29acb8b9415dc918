import { sql } from 'drizzle-orm';
import type Stripe from 'stripe';
import { beforeAll, describe, expect, it } from 'vitest';
import { allEvents, type BillingApp } from '../../test/billing-app';
import { countRows } from '../../test/harness';
import type { Tx } from '../db/client';
import { queryRows } from '../db/client';
import type { Deps } from '../deps';
import { PAYMENT_KINDS, PAYMENT_STATUSES } from '../modules/payments/payments.tables';
import { subscriptionSuite } from '../modules/subscriptions/testing';
import { overrideHandlers } from './dispatch';
import { defineHandler, type WebhookHandler } from './handler';
import { fulfilledCheckout, invoiceRecorded } from './handlers/billing-fetch';
import checkoutCompleted from './handlers/checkout.session.completed';
import invoicePaid from './handlers/invoice.paid';
import {
  coveredByLaterEvent,
  EVENT_WATERMARK_MARGIN_MS,
  subscriptionSync,
} from './handlers/subscription-sync';
import { type SettledProbe, settledNow } from './settled';

/**
 * Settled on arrival (src/webhooks/settled.ts): a new delivery whose work is already done is stored
 * handled by the INSERT that stores it - no prepare, no Stripe read, no handler transaction - and each SQL
 * check gives the same answer as the test its handler's `prepare` makes.
 */

const kit = subscriptionSuite();
let app: BillingApp;
beforeAll(() => {
  app = kit.app();
});

const TABLES = ['payments', 'subscriptions', 'entitlements', 'credit_grants', 'credit_transactions'];

interface InboxRow {
  handled: boolean;
  ignored: boolean;
  attempts: number;
  last_error: string | null;
}

const inboxRows = (id: string) =>
  queryRows<InboxRow>(
    app.t.deps.db,
    sql`select handled_at is not null as handled, ignored, attempts, last_error from stripe_events where id = ${id}`,
  );

/** A handler with the real one's settle check whose prepare and apply must never run. */
const settleOnly = (real: WebhookHandler): WebhookHandler =>
  defineHandler({
    settledBy: real.settledBy,
    prepare: () => Promise.reject(new Error('prepare ran')),
    apply: () => Promise.reject(new Error('apply ran')),
  });

/** A subscription bought through checkout: the checkout's events as the emulator sent them. */
async function boughtSubscription() {
  const since = (await allEvents(app.stripe)).length;
  const u = await kit.subscribe('pro_monthly');
  const events = (await allEvents(app.stripe)).slice(since);
  const of = (type: string) => {
    const e = events.find((x) => x.type === type);
    expect(e, type).toBeDefined();
    return e!;
  };
  return {
    u,
    completed: of('checkout.session.completed'),
    paid: of('invoice.paid'),
    created: of('customer.subscription.created'),
  };
}

/** Runs `fn` in a transaction that is always rolled back (rows changed for a check leave no trace). */
async function rolledBack(fn: (tx: Tx, deps: Deps) => Promise<void>): Promise<void> {
  const rollback = new Error('rollback');
  await app.t.deps.db
    .transaction(async (tx) => {
      await fn(tx, { ...app.t.deps, db: tx as unknown as Deps['db'] });
      throw rollback;
    })
    .catch((err) => {
      if (err !== rollback) throw err;
    });
}

describe('settled on arrival', () => {
  it('stores a delivery whose work is done handled, in its INSERT, without running its handler', async () => {
    const { completed, paid } = await boughtSubscription();
    const counts = await countRows(app.database, TABLES);
    overrideHandlers(app.t.deps, {
      'checkout.session.completed': settleOnly(checkoutCompleted),
      'invoice.paid': settleOnly(invoicePaid),
    });
    try {
      await app.withReadsFailing(['/v1/'], async () => {
        for (const event of [completed, paid]) {
          const copy = { ...event, id: `${event.id}_settled` };
          const res = await app.deliver(copy);
          expect(res.status, event.type).toBe(200);
          expect((await res.json()).status).toBe('processed');
          expect(await inboxRows(copy.id)).toEqual([
            { handled: true, ignored: false, attempts: 1, last_error: null },
          ]);
          // The same delivery again is a duplicate of a handled event.
          const again = await app.deliver(copy);
          expect((await again.json()).status).toBe('duplicate');
          expect(await inboxRows(copy.id)).toHaveLength(1);
        }
      });
    } finally {
      overrideHandlers(app.t.deps, null);
    }
    expect(await countRows(app.database, TABLES)).toEqual(counts);
  });

  it('hands a delivery whose check does not hold to its handler, which may skip the same test', async () => {
    const { completed } = await boughtSubscription();
    const seen: Array<boolean | undefined> = [];
    let applied = 0;
    overrideHandlers(app.t.deps, {
      'checkout.session.completed': defineHandler({
        // A session with no payment: not fulfilled.
        settledBy: () => ({ check: 'checkout_fulfilled', key: 'cs_not_ours' }),
        prepare: async (_event, _deps, context) => {
          seen.push(context?.settledChecked);
          return 'prepared';
        },
        apply: async () => {
          applied++;
        },
      }),
    });
    try {
      const copy = { ...completed, id: `${completed.id}_unsettled` };
      const res = await app.deliver(copy);
      expect((await res.json()).status).toBe('processed');
      expect(seen).toEqual([true]);
      expect(applied).toBe(1);
      expect(await inboxRows(copy.id)).toEqual([
        { handled: true, ignored: false, attempts: 1, last_error: null },
      ]);
    } finally {
      overrideHandlers(app.t.deps, null);
    }
  });

  it('checks a payment as prepare does, for every kind, status and fulfilment', async () => {
    const { completed, paid } = await boughtSubscription();
    const session = (completed.data.object as Stripe.Checkout.Session).id;
    const invoice = (paid.data.object as Stripe.Invoice).id!;
    const bySession = checkoutCompleted.settledBy!(completed)!;
    const byInvoice = invoicePaid.settledBy!(paid)!;
    expect(bySession).toEqual({ check: 'checkout_fulfilled', key: session });
    expect(byInvoice).toEqual({ check: 'invoice_recorded', key: invoice });
    let held = 0;
    await rolledBack(async (tx, deps) => {
      // One payment row carries both Stripe ids; every combination is written to it in turn.
      const [row] = await queryRows<{ id: string }>(
        tx,
        sql`select id from payments where stripe_checkout_session_id = ${session}`,
      );
      await tx.execute(
        sql`update payments set stripe_invoice_id = null where stripe_invoice_id = ${invoice}`,
      );
      for (const kind of PAYMENT_KINDS) {
        for (const status of PAYMENT_STATUSES) {
          for (const fulfilled of [false, true]) {
            await tx.execute(sql`update payments set kind = ${kind}, status = ${status},
              fulfilled_at = ${fulfilled ? new Date().toISOString() : null}::timestamptz,
              stripe_invoice_id = ${invoice} where id = ${row!.id}`);
            const label = `${kind} ${status} ${fulfilled}`;
            const sessionDone = (await fulfilledCheckout(deps, { sessionId: session })).done;
            expect(await settledNow(tx, bySession), label).toBe(sessionDone);
            const invoiceDone = invoiceRecorded(await fulfilledCheckout(deps, { invoiceId: invoice }));
            expect(await settledNow(tx, byInvoice), label).toBe(invoiceDone);
            held += Number(sessionDone) + Number(invoiceDone);
          }
        }
      }
      // No payment at all.
      for (const probe of [
        { ...bySession, key: 'cs_unknown' },
        { ...byInvoice, key: 'in_unknown' },
      ] satisfies SettledProbe[]) {
        expect(await settledNow(tx, probe)).toBe(false);
      }
    });
    // Both answers occur in the matrix (a check that always says no would pass otherwise).
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(PAYMENT_KINDS.length * PAYMENT_STATUSES.length * 4);
  });

  it('checks a subscription event against the watermark as prepare does', async () => {
    const { created } = await boughtSubscription();
    const sub = created.data.object as Stripe.Subscription;
    const probe = subscriptionSync.settledBy!(created)!;
    const bound = created.created * 1000 + EVENT_WATERMARK_MARGIN_MS;
    expect(probe).toEqual({ check: 'subscription_watermark', key: sub.id, after: new Date(bound) });
    const answers: boolean[] = [];
    await rolledBack(async (tx, deps) => {
      for (const watermark of [null, bound - 1, bound, bound + 1]) {
        await tx.execute(sql`update subscriptions set event_watermark =
          ${watermark === null ? null : new Date(watermark).toISOString()}::timestamptz
          where stripe_subscription_id = ${sub.id}`);
        const covered = await coveredByLaterEvent(deps, sub.id, new Date(created.created * 1000));
        expect(await settledNow(tx, probe), String(watermark)).toBe(covered);
        answers.push(covered);
      }
      expect(await settledNow(tx, { ...probe, key: 'sub_unknown' })).toBe(false);
    });
    expect(answers).toEqual([false, false, true, true]);
    // Events whose `created` is not Stripe's clock have no check.
    expect(subscriptionSync.settledBy!({ ...created, id: 'sync_1' })).toBeNull();
    expect(
      subscriptionSync.settledBy!({
        ...created,
        data: { object: { ...sub, test_clock: 'clock_1' } },
      } as Stripe.Event),
    ).toBeNull();
  });
});
