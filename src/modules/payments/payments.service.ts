import { and, desc, eq, type SQL, sql } from 'drizzle-orm';
import type Stripe from 'stripe';
import type { Queryable, Tx } from '../../db/client';
import { notFound } from '../../lib/errors';
import { isUuid } from '../../lib/ids';
import {
  type NewPaymentRow,
  type PaymentKind,
  type PaymentRow,
  type PaymentStatus,
  paymentRefunds,
  payments,
} from './payments.tables';

export { paidRevenueByDay } from './reports';

/**
 * The payment record (SPEC sections 4, 5, 13). Rows are written by checkout (pending), by fulfilment
 * and the invoice handlers (succeeded / failed), and by the refund and dispute handlers; every write
 * happens under the row lock or through a unique key, so no payment is recorded twice.
 */

/** The statuses of a payment that was paid (whatever happened to it since). */
export const PAID_STATUSES: ReadonlySet<PaymentStatus> = new Set<PaymentStatus>([
  'succeeded',
  'refunded',
  'partially_refunded',
  'disputed',
]);
export const isPaid = (p: Pick<PaymentRow, 'status'>) => PAID_STATUSES.has(p.status);

/** The status of a paid payment, from what happened to it since: disputes first, then refunds. */
export function paidStatus(
  p: Pick<PaymentRow, 'amount' | 'amountRefunded' | 'disputeStatus'>,
): PaymentStatus {
  if (p.disputeStatus === 'open' || p.disputeStatus === 'lost') return 'disputed';
  if (p.amountRefunded > 0 && p.amountRefunded >= p.amount) return 'refunded';
  if (p.amountRefunded > 0) return 'partially_refunded';
  return 'succeeded';
}

/** The Stripe objects a payment's grants refer to (for refunds, disputes and clawbacks). */
export const referencesOf = (p: PaymentRow): string[] =>
  [p.stripeCheckoutSessionId, p.stripePaymentIntentId, p.stripeInvoiceId].filter((x): x is string => !!x);

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function paymentView(p: PaymentRow) {
  return {
    id: p.id,
    user_id: p.userId,
    status: p.status,
    kind: p.kind,
    mode: p.mode,
    amount: p.amount,
    amount_subtotal: p.amountSubtotal,
    amount_discount: p.amountDiscount,
    amount_refunded: p.amountRefunded,
    currency: p.currency,
    price_id: p.priceId,
    subscription_id: p.subscriptionId,
    quantity: p.quantity,
    discount_code_id: p.discountCodeId,
    stripe_checkout_session_id: p.stripeCheckoutSessionId,
    stripe_invoice_id: p.stripeInvoiceId,
    stripe_payment_intent_id: p.stripePaymentIntentId,
    stripe_subscription_id: p.stripeSubscriptionId,
    dispute_status: p.disputeStatus,
    failure_reason: p.failureReason,
    note: p.note,
    fulfilled: p.fulfilledAt !== null,
    paid_at: iso(p.paidAt),
    fulfilled_at: iso(p.fulfilledAt),
    created_at: p.createdAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
  };
}
export type PaymentView = ReturnType<typeof paymentView>;

export async function getPayment(q: Queryable, id: string): Promise<PaymentRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await q.select().from(payments).where(eq(payments.id, id));
  return row;
}

export async function requirePayment(q: Queryable, id: string): Promise<PaymentRow> {
  const row = await getPayment(q, id);
  if (!row) throw notFound('Payment', { payment_id: id });
  return row;
}

export async function getPaymentBySession(q: Queryable, sessionId: string): Promise<PaymentRow | undefined> {
  const [row] = await q.select().from(payments).where(eq(payments.stripeCheckoutSessionId, sessionId));
  return row;
}

export async function getPaymentByInvoice(q: Queryable, invoiceId: string): Promise<PaymentRow | undefined> {
  const [row] = await q.select().from(payments).where(eq(payments.stripeInvoiceId, invoiceId));
  return row;
}

/** Locks one payment row (by id or by a unique Stripe id) for the rest of the transaction. */
export async function lockPayment(
  tx: Tx,
  by: { id: string } | { sessionId: string } | { invoiceId: string } | { paymentIntentId: string },
): Promise<PaymentRow | undefined> {
  const where =
    'id' in by
      ? isUuid(by.id)
        ? eq(payments.id, by.id)
        : sql`false`
      : 'sessionId' in by
        ? eq(payments.stripeCheckoutSessionId, by.sessionId)
        : 'invoiceId' in by
          ? eq(payments.stripeInvoiceId, by.invoiceId)
          : eq(payments.stripePaymentIntentId, by.paymentIntentId);
  const [row] = await tx.select().from(payments).where(where).for('update');
  return row;
}

export async function insertPayment(q: Queryable, values: NewPaymentRow): Promise<PaymentRow> {
  const [row] = await q.insert(payments).values(values).returning();
  return row!;
}

/** Inserts a checkout's payment row unless its session already has one; returns the row, locked. */
export async function adoptPayment(tx: Tx, values: NewPaymentRow): Promise<PaymentRow | undefined> {
  await tx.insert(payments).values(values).onConflictDoNothing();
  return values.stripeCheckoutSessionId
    ? lockPayment(tx, { sessionId: values.stripeCheckoutSessionId })
    : undefined;
}

export async function updatePayment(
  q: Queryable,
  id: string,
  values: Partial<NewPaymentRow>,
): Promise<PaymentRow> {
  const [row] = await q.update(payments).set(values).where(eq(payments.id, id)).returning();
  return row!;
}

/** Sets a unique Stripe id on a row unless another row already holds it (then leaves it unset). */
export async function claimStripeId(
  tx: Tx,
  id: string,
  column: 'stripeInvoiceId' | 'stripePaymentIntentId',
  value: string | null,
): Promise<void> {
  if (!value) return;
  const col = payments[column];
  const [taken] = await tx.select({ id: payments.id }).from(payments).where(eq(col, value));
  if (taken && taken.id !== id) return;
  await tx
    .update(payments)
    .set({ [column]: value })
    .where(eq(payments.id, id));
}

/** Removes a pending row whose Checkout Session could not be created (it never existed in Stripe). */
export async function deletePendingPayment(tx: Tx, id: string): Promise<void> {
  await tx.delete(payments).where(and(eq(payments.id, id), eq(payments.status, 'pending')));
}

/** Pending payments of a user that an older checkout left open (for superseding). */
export async function pendingCheckouts(q: Queryable, userId: string) {
  return q
    .select()
    .from(payments)
    .where(and(eq(payments.userId, userId), eq(payments.status, 'pending'), eq(payments.kind, 'checkout')));
}

/** Pending checkouts whose session expired before `cutoff` (the stale-checkout job). */
export async function stalePendingCheckouts(q: Queryable, cutoff: Date, limit = 200) {
  return q
    .select()
    .from(payments)
    .where(
      and(
        eq(payments.status, 'pending'),
        eq(payments.kind, 'checkout'),
        sql`${payments.stripeCheckoutSessionId} is not null`,
        sql`${payments.sessionExpiresAt} <= ${cutoff.toISOString()}::timestamptz`,
      ),
    )
    .limit(limit);
}

/** Marks a pending payment expired or failed (an abandoned or failed checkout). False if it was not pending. */
export async function closePending(
  tx: Tx,
  id: string,
  status: 'expired' | 'failed',
  now: Date,
  failureReason?: string,
): Promise<boolean> {
  const rows = await tx
    .update(payments)
    .set({ status, updatedAt: now, ...(failureReason ? { failureReason } : {}) })
    .where(and(eq(payments.id, id), eq(payments.status, 'pending')))
    .returning({ id: payments.id });
  return rows.length > 0;
}

export interface InvoicePaymentInput {
  invoice: Stripe.Invoice;
  userId: string;
  kind: PaymentKind;
  subscriptionId: string | null;
  priceId: string | null;
  paymentIntentId: string | null;
  outcome: 'paid' | 'failed' | 'action_required';
  now: Date;
}

/** Whether a paid row already has these links: re-applying a repeated invoice then writes nothing. */
const unchanged = (
  row: PaymentRow,
  links: Pick<PaymentRow, 'subscriptionId' | 'priceId' | 'stripeSubscriptionId'>,
): boolean =>
  row.subscriptionId === links.subscriptionId &&
  row.priceId === links.priceId &&
  row.stripeSubscriptionId === links.stripeSubscriptionId;

/**
 * The payment of one invoice, unique on the invoice id: created on first sight, then moved by later
 * events (a failed renewal that a retry pays becomes succeeded; a paid one never goes back to failed).
 */
export async function recordInvoicePayment(tx: Tx, input: InvoicePaymentInput): Promise<PaymentRow> {
  const inv = input.invoice;
  const paid = input.outcome === 'paid';
  // A new row is ours (locked by its insert); a copy of a known invoice locks the existing one.
  const [inserted] = await tx
    .insert(payments)
    .values({
      userId: input.userId,
      priceId: input.priceId,
      subscriptionId: input.subscriptionId,
      kind: input.kind,
      status: 'pending',
      amount: paid ? inv.amount_paid : inv.amount_due,
      amountSubtotal: inv.subtotal,
      amountDiscount: Math.max(0, (inv.subtotal ?? 0) - (inv.total ?? 0)),
      currency: inv.currency,
      stripeInvoiceId: inv.id,
      stripeSubscriptionId: null,
      stripeCustomerId: typeof inv.customer === 'string' ? inv.customer : (inv.customer?.id ?? null),
      createdAt: input.now,
      updatedAt: input.now,
    })
    .onConflictDoNothing({ target: payments.stripeInvoiceId })
    .returning();
  const row = inserted ?? (await lockPayment(tx, { invoiceId: inv.id }))!;
  // Already holding this payment intent (a repeated delivery): no other row can hold it.
  if (row.stripePaymentIntentId !== input.paymentIntentId) {
    await claimStripeId(tx, row.id, 'stripePaymentIntentId', input.paymentIntentId);
  }
  const subscriptionStripeId = inv.parent?.subscription_details?.subscription;
  const base = {
    subscriptionId: row.subscriptionId ?? input.subscriptionId,
    priceId: row.priceId ?? input.priceId,
    stripeSubscriptionId:
      typeof subscriptionStripeId === 'string' ? subscriptionStripeId : (subscriptionStripeId?.id ?? null),
    updatedAt: input.now,
  };
  if (paid) {
    if (isPaid(row)) return unchanged(row, base) ? row : updatePayment(tx, row.id, base);
    const amount = inv.amount_paid;
    return updatePayment(tx, row.id, {
      ...base,
      amount,
      status: paidStatus({ amount, amountRefunded: row.amountRefunded, disputeStatus: row.disputeStatus }),
      failureReason: null,
      paidAt: inv.status_transitions?.paid_at ? new Date(inv.status_transitions.paid_at * 1000) : input.now,
    });
  }
  if (isPaid(row)) return row;
  return updatePayment(tx, row.id, {
    ...base,
    amount: inv.amount_due,
    status: 'failed',
    failureReason: input.outcome === 'action_required' ? 'authentication_required' : 'payment_failed',
  });
}

export interface ListPaymentsQuery {
  userId?: string;
  status?: PaymentStatus;
  kind?: PaymentKind;
  priceId?: string;
  subscriptionId?: string;
  stripeId?: string;
  createdGte?: Date;
  createdLt?: Date;
  limit: number;
  startingAfter?: string;
}

/** Newest first, keyset-paginated on (created_at, id). */
export async function listPayments(q: Queryable, query: ListPaymentsQuery) {
  const filters: (SQL | undefined)[] = [
    query.userId ? eq(payments.userId, query.userId) : undefined,
    query.status ? eq(payments.status, query.status) : undefined,
    query.kind ? eq(payments.kind, query.kind) : undefined,
    query.priceId ? eq(payments.priceId, query.priceId) : undefined,
    query.subscriptionId ? eq(payments.subscriptionId, query.subscriptionId) : undefined,
    query.stripeId
      ? sql`${query.stripeId} in (${payments.stripeCheckoutSessionId}, ${payments.stripeInvoiceId}, ${payments.stripePaymentIntentId}, ${payments.stripeSubscriptionId})`
      : undefined,
    query.createdGte
      ? sql`${payments.createdAt} >= ${query.createdGte.toISOString()}::timestamptz`
      : undefined,
    query.createdLt ? sql`${payments.createdAt} < ${query.createdLt.toISOString()}::timestamptz` : undefined,
    query.startingAfter
      ? isUuid(query.startingAfter)
        ? sql`(${payments.createdAt}, ${payments.id}) < (select p.created_at, p.id from payments p where p.id = ${query.startingAfter})`
        : sql`false`
      : undefined,
  ];
  const rows = await q
    .select()
    .from(payments)
    .where(and(...filters))
    .orderBy(desc(payments.createdAt), desc(payments.id))
    .limit(query.limit + 1);
  return { data: rows.slice(0, query.limit), has_more: rows.length > query.limit };
}

export async function refundsOf(q: Queryable, paymentId: string) {
  return q
    .select()
    .from(paymentRefunds)
    .where(eq(paymentRefunds.paymentId, paymentId))
    .orderBy(paymentRefunds.createdAt);
}

export async function getPaymentByPaymentIntent(
  q: Queryable,
  paymentIntentId: string,
): Promise<PaymentRow | undefined> {
  const [row] = await q.select().from(payments).where(eq(payments.stripePaymentIntentId, paymentIntentId));
  return row;
}

/** What a charge (refunded or disputed) says about the payment it belongs to, read before the transaction. */
export interface ChargeRefs {
  chargeId: string;
  paymentIntentId: string | null;
  /** From the payment intent's metadata (one-time checkouts carry our payment id). */
  paymentId: string | null;
  /** The invoice the payment intent paid (subscriptions). */
  invoiceId: string | null;
}

/** The payment a charge belongs to, locked: by payment intent, else our id, else its invoice. */
export async function lockPaymentForCharge(tx: Tx, refs: ChargeRefs): Promise<PaymentRow | undefined> {
  let row = refs.paymentIntentId
    ? await lockPayment(tx, { paymentIntentId: refs.paymentIntentId })
    : undefined;
  row ??= refs.paymentId ? await lockPayment(tx, { id: refs.paymentId }) : undefined;
  row ??= refs.invoiceId ? await lockPayment(tx, { invoiceId: refs.invoiceId }) : undefined;
  if (!row) return undefined;
  if (refs.paymentIntentId && !row.stripePaymentIntentId) {
    await claimStripeId(tx, row.id, 'stripePaymentIntentId', refs.paymentIntentId);
  }
  if (row.stripeChargeId !== refs.chargeId) {
    await tx.update(payments).set({ stripeChargeId: refs.chargeId }).where(eq(payments.id, row.id));
  }
  return lockPayment(tx, { id: row.id });
}
