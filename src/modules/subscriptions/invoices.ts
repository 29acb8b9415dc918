import type Stripe from 'stripe';
import type { Tx } from '../../db/client';
import type { Deps } from '../../deps';
import { countDiscountCycle } from '../discounts/subscription-discounts';
import { applyAdjustments } from '../payments/adjustments';
import { recordInvoicePayment } from '../payments/payments.service';
import type { PaymentKind } from '../payments/payments.tables';
import { findUserByStripeCustomer } from '../users/users.service';
import { grantPaidPeriod } from './periods';
import { idOf, paymentIntentOfInvoice, subscriptionIdOfInvoice } from './stripe-shapes';
import type { SubscriptionRow } from './subscriptions.tables';
import { syncSubscription } from './sync';

const KINDS: Record<string, PaymentKind> = {
  subscription_create: 'subscription_create',
  subscription_cycle: 'subscription_cycle',
  subscription_update: 'subscription_update',
};

export const isDiscounted = (inv: Stripe.Invoice) =>
  (inv.total_discount_amounts ?? []).some((d) => d.amount > 0) || (inv.discounts ?? []).length > 0;

/**
 * The invoice's user: the synced subscription's, else its customer's. `synced` is the subscription
 * syncSubscription was given: when it found no user (row null), it already looked its customer up, so
 * the same customer is not read a second time in the same transaction.
 */
async function ownerOf(
  tx: Tx,
  row: SubscriptionRow | null,
  inv: Stripe.Invoice,
  synced: Stripe.Subscription | null,
): Promise<string | null> {
  if (row) return row.userId;
  const customer = idOf(inv.customer as string | Stripe.Customer | null);
  if (!customer) return null;
  if (synced && idOf(synced.customer as string | Stripe.Customer) === customer) return null;
  return (await findUserByStripeCustomer(tx, customer))?.id ?? null;
}

/**
 * An invoice was paid (`invoice.paid`; SPEC section 5): its payment is recorded once (unique on the
 * invoice id), the subscription synced from Stripe, the period it bills granted once (proration invoices
 * grant nothing) and a subscription discount's cycle counted.
 */
export async function applyPaidInvoice(
  deps: Deps,
  tx: Tx,
  input: { invoice: Stripe.Invoice; sub: Stripe.Subscription | null; asOf: Date; stripeEventId?: string },
): Promise<void> {
  const { invoice } = input;
  const row = input.sub ? await syncSubscription(deps, tx, input.sub, input.asOf) : null;
  const userId = await ownerOf(tx, row, invoice, input.sub);
  if (!userId) {
    deps.logger.warn({ invoice: invoice.id }, 'paid invoice of no Paywire user; not recorded');
    return;
  }
  const payment = await recordInvoicePayment(tx, {
    invoice,
    userId,
    kind: KINDS[invoice.billing_reason ?? ''] ?? 'invoice',
    subscriptionId: row?.id ?? null,
    priceId: row?.priceId ?? null,
    paymentIntentId: paymentIntentOfInvoice(invoice),
    outcome: 'paid',
    now: deps.clock.now(),
  });
  if (row) {
    await grantPaidPeriod(deps, tx, row, invoice, {
      paymentId: payment.id,
      stripeEventId: input.stripeEventId,
    });
    if (isDiscounted(invoice)) {
      await countDiscountCycle(tx, {
        stripeSubscriptionId: row.stripeSubscriptionId,
        invoiceId: invoice.id!,
        now: deps.clock.now(),
      });
    }
  }
  await applyAdjustments(deps, tx, payment);
}

/**
 * A renewal could not be charged (`invoice.payment_failed`, `invoice.payment_action_required`): the
 * subscription (now past_due in Stripe) is synced, which starts the grace period, and the invoice's
 * payment is recorded as failed unless it has been paid meanwhile.
 */
export async function applyFailedInvoice(
  deps: Deps,
  tx: Tx,
  input: { invoice: Stripe.Invoice; sub: Stripe.Subscription | null; asOf: Date; actionRequired: boolean },
): Promise<void> {
  const { invoice } = input;
  // Re-read after the event: a retry may have paid it since.
  if (invoice.status === 'paid') return applyPaidInvoice(deps, tx, input);
  const row = input.sub ? await syncSubscription(deps, tx, input.sub, input.asOf) : null;
  if (!subscriptionIdOfInvoice(invoice) && !row) return;
  const userId = await ownerOf(tx, row, invoice, input.sub);
  if (!userId) return;
  await recordInvoicePayment(tx, {
    invoice,
    userId,
    kind: KINDS[invoice.billing_reason ?? ''] ?? 'invoice',
    subscriptionId: row?.id ?? null,
    priceId: row?.priceId ?? null,
    paymentIntentId: paymentIntentOfInvoice(invoice),
    outcome: input.actionRequired ? 'action_required' : 'failed',
    now: deps.clock.now(),
  });
}
