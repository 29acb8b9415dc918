import { sql } from 'drizzle-orm';
import { type Queryable, queryRows } from '../db/client';
import { PAID_STATUSES } from '../modules/payments/payments.service';
import { RECORDED_WHEN_PAID } from './handlers/billing-fetch';

/**
 * Settled on arrival: a new delivery whose work is already done is stored handled by the INSERT that
 * stores it (src/webhooks/inbox-batch.ts), the way an event without a handler is stored ignored - one
 * statement and one commit, no `prepare`, no handler transaction.
 *
 * A handler opts in with `settledBy(event)` (src/webhooks/handler.ts), naming one of the checks below and
 * the Stripe id it is about. Each check is the SQL twin of the "already done" test its handler's `prepare`
 * makes before answering NOTHING_TO_APPLY, and tests hold the two to the same answers (settled.test.ts):
 * - `checkout_fulfilled`: the checkout session's payment is fulfilled (checkout.session.completed and
 *   async_payment_succeeded; billing-fetch.ts `fulfilledCheckout`);
 * - `invoice_recorded`: the invoice is the first one of a fulfilled checkout, or its payment is recorded
 *   paid by the invoice handler (invoice.paid);
 * - `subscription_watermark`: the subscription's event watermark is at or past `after` (the event's
 *   `created` plus the margin; customer.subscription.*, subscription-sync.ts).
 *
 * Every check is monotonic - nothing clears `fulfilled_at`, a paid payment only moves between paid
 * statuses, the watermark only rises - so the answer read by the INSERT stays true: evaluating it there
 * is the same as evaluating it in `prepare` a moment later. The INSERT reads committed rows (the
 * statement's snapshot), and a copy of the event already in the inbox is not inserted (ON CONFLICT DO
 * NOTHING): it takes the usual way, with its row lock.
 */
export const SETTLED_CHECKS = ['checkout_fulfilled', 'invoice_recorded', 'subscription_watermark'] as const;
export type SettledCheck = (typeof SETTLED_CHECKS)[number];

/** What a handler's `settledBy` names for one event. */
export interface SettledProbe {
  check: SettledCheck;
  /** The Stripe id the check is about (session, invoice, subscription). */
  key: string;
  /** The bound the check compares with, when it has one. */
  after?: Date;
}

const literals = (values: Iterable<string>) => [...values].map((v) => `'${v}'`).join(', ');

const fulfilledCheckoutPayment = `p.kind = 'checkout' and p.fulfilled_at is not null`;

/** Each check as a boolean SQL expression over the inbox row `v` (its settle_key and settle_after). */
const PREDICATES: Record<SettledCheck, string> = {
  checkout_fulfilled: `exists (select 1 from payments p where p.stripe_checkout_session_id = v.settle_key
    and ${fulfilledCheckoutPayment})`,
  invoice_recorded: `exists (select 1 from payments p where p.stripe_invoice_id = v.settle_key
    and ((${fulfilledCheckoutPayment})
      or (p.kind in (${literals(RECORDED_WHEN_PAID)}) and p.status in (${literals(PAID_STATUSES)}))))`,
  subscription_watermark: `exists (select 1 from subscriptions s where s.stripe_subscription_id = v.settle_key
    and s.event_watermark >= v.settle_after)`,
};

/**
 * Whether inbox row `v` is settled: the named check, and only that one, is evaluated (CASE), false for a
 * row without a check.
 */
export const SETTLED_SQL = `case v.settle_check ${SETTLED_CHECKS.map(
  (c) => `when '${c}' then ${PREDICATES[c]}`,
).join('\n    ')} else false end`;

/** Whether a check holds now, by the same SQL the inbox INSERT runs (tests, diagnostics). */
export async function settledNow(q: Queryable, probe: SettledProbe): Promise<boolean> {
  const [row] = await queryRows<{ settled: boolean }>(
    q,
    sql`select ${sql.raw(SETTLED_SQL)} as settled from (values (${probe.check}::text, ${probe.key}::text,
      ${probe.after?.toISOString() ?? null}::timestamptz)) v (settle_check, settle_key, settle_after)`,
  );
  return row!.settled;
}
