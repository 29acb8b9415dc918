import type Stripe from 'stripe';
import type { Deps } from '../../deps';
import { type PreparedCheckout, prepareCheckout } from '../../modules/checkout/fulfil';
import {
  type ChargeRefs,
  getPaymentByInvoice,
  getPaymentByPaymentIntent,
  getPayment,
  getPaymentBySession,
  isPaid,
} from '../../modules/payments/payments.service';
import type { PaymentKind, PaymentRow } from '../../modules/payments/payments.tables';
import { idOf, isMissing, subscriptionIdOfInvoice } from '../../modules/subscriptions/stripe-shapes';
import { requireStripe } from '../../stripe/client';
import { type Moment, readInvoice, readSubscription } from '../../stripe/shared-read';

/**
 * Reads for the billing handlers, before the transaction (SPEC section 10). Handlers never trust the
 * payload: the subscription, invoice, session, charge or dispute is re-read from Stripe, and `asOf` (when
 * the read started) is the watermark the subscription record is compared against. `arrivedAt` (when the
 * delivery arrived) lets the subscription and invoice reads be shared with concurrent deliveries
 * (src/stripe/shared-read.ts).
 */

export interface FreshSubscription {
  sub: Stripe.Subscription | null;
  asOf: Date;
}

export async function freshSubscription(
  deps: Deps,
  id: string | null,
  arrivedAt?: Moment,
): Promise<FreshSubscription> {
  if (!id) return { sub: null, asOf: deps.wallClock.now() };
  const read = readSubscription(deps, id, arrivedAt);
  try {
    return { sub: await read.value, asOf: read.asOf };
  } catch (err) {
    if (isMissing(err)) return { sub: null, asOf: read.asOf };
    throw err;
  }
}

export interface FreshInvoice extends FreshSubscription {
  invoice: Stripe.Invoice;
  /** The first invoice of a subscription made by one of our checkouts: fulfilled as that checkout. */
  checkout: PreparedCheckout | null;
}

/**
 * A checkout's payment that is already fulfilled, found by its session or by its first invoice (read
 * before any Stripe call). Nothing ever clears `fulfilled_at`, so a later event about that checkout
 * (the other of `checkout.session.completed` and the first `invoice.paid`, a retry, a duplicate) has
 * nothing to read and nothing to do.
 */
/**
 * The kinds of payment only applyPaidInvoice marks paid - in the transaction that also syncs the
 * subscription and grants the paid period - so an invoice of one of them recorded paid needs nothing
 * more from invoice.paid. (A plan change's own invoice, `subscription_update`, is also recorded by the
 * change API, which counts no discount cycle, so it is not on the list.)
 */
export const RECORDED_WHEN_PAID: ReadonlySet<PaymentKind> = new Set<PaymentKind>([
  'subscription_cycle',
  'subscription_create',
  'invoice',
]);

export async function fulfilledCheckout(
  deps: Deps,
  by: { sessionId: string } | { invoiceId: string },
): Promise<{ done: boolean; payment: PaymentRow | undefined }> {
  const payment =
    'sessionId' in by
      ? await getPaymentBySession(deps.db, by.sessionId)
      : await getPaymentByInvoice(deps.db, by.invoiceId);
  return { done: !!payment?.fulfilledAt && payment.kind === 'checkout', payment };
}

/**
 * What invoice.paid finds already done (fulfilledCheckout by the invoice): the first invoice of a fulfilled
 * checkout, or an invoice whose payment the invoice handler recorded paid. The TypeScript twin of the
 * `invoice_recorded` check (src/webhooks/settled.ts).
 */
export const invoiceRecorded = ({ done, payment }: { done: boolean; payment: PaymentRow | undefined }) =>
  done || (!!payment && RECORDED_WHEN_PAID.has(payment.kind) && isPaid(payment));

export async function freshInvoice(
  deps: Deps,
  event: Stripe.Event,
  opts: {
    checkout: boolean;
    arrivedAt?: Moment;
    /** The invoice's payment row as the caller just read it (saves reading it again). */
    byInvoice?: PaymentRow | null;
  },
): Promise<FreshInvoice> {
  const payload = event.data.object as Stripe.Invoice;
  const invoice = await readInvoice(deps, payload.id!, opts.arrivedAt).value;
  const fresh = await freshSubscription(deps, subscriptionIdOfInvoice(invoice), opts.arrivedAt);
  let checkout: PreparedCheckout | null = null;
  if (opts.checkout && invoice.billing_reason === 'subscription_create' && fresh.sub) {
    const byInvoice =
      opts.byInvoice !== undefined ? opts.byInvoice : await getPaymentByInvoice(deps.db, invoice.id!);
    const ours = fresh.sub.metadata?.payment_id;
    const payment = byInvoice ?? (ours ? await getPayment(deps.db, ours) : undefined);
    if (payment?.stripeCheckoutSessionId && payment.kind === 'checkout') {
      checkout = await prepareCheckout(
        deps,
        payment.stripeCheckoutSessionId,
        {
          subscription: fresh.sub,
          invoice,
          asOf: fresh.asOf,
        },
        opts.arrivedAt,
      );
    }
  }
  return { ...fresh, invoice, checkout };
}

/** Where a charge's payment is: its payment intent, our payment id in the intent's metadata, its invoice. */
export async function chargeRefs(
  deps: Deps,
  chargeOrId: string | Stripe.Charge,
): Promise<{ charge: Stripe.Charge; refs: ChargeRefs }> {
  const stripe = requireStripe(deps);
  const charge = await stripe.charges.retrieve(typeof chargeOrId === 'string' ? chargeOrId : chargeOrId.id);
  const pi = idOf(charge.payment_intent as string | Stripe.PaymentIntent | null);
  const refs: ChargeRefs = { chargeId: charge.id, paymentIntentId: pi, paymentId: null, invoiceId: null };
  if (!pi || (await getPaymentByPaymentIntent(deps.db, pi))) return { charge, refs };
  const intent = await stripe.paymentIntents.retrieve(pi);
  refs.paymentId = intent.metadata?.payment_id ?? charge.metadata?.payment_id ?? null;
  const paid = await stripe.invoicePayments.list({
    payment: { type: 'payment_intent', payment_intent: pi },
    limit: 1,
  });
  refs.invoiceId = idOf((paid.data[0]?.invoice as string | Stripe.Invoice | undefined) ?? null);
  return { charge, refs };
}
