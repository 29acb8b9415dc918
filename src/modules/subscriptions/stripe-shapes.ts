import type Stripe from 'stripe';

/**
 * Reading the Stripe objects of API version 2026-10-28 (STRIPE-NOTES.md): periods live on subscription
 * items, an invoice points to its subscription through `parent.subscription_details`, invoice lines name
 * their price in `pricing.price_details` and say whether they are prorations in `parent`.
 */

export const fromUnix = (seconds: number | null | undefined): Date | null =>
  seconds === null || seconds === undefined ? null : new Date(seconds * 1000);

export const idOf = (v: string | { id: string } | null | undefined): string | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? v : v.id;

export function firstItem(sub: Stripe.Subscription): Stripe.SubscriptionItem | undefined {
  return sub.items?.data?.[0];
}

export function periodOf(sub: Stripe.Subscription): { start: Date | null; end: Date | null } {
  const item = firstItem(sub);
  return { start: fromUnix(item?.current_period_start), end: fromUnix(item?.current_period_end) };
}

export const stripePriceIdOf = (sub: Stripe.Subscription): string | null =>
  idOf(firstItem(sub)?.price ?? null);

export function subscriptionIdOfInvoice(inv: Stripe.Invoice): string | null {
  const details = inv.parent?.subscription_details;
  return details ? idOf(details.subscription as string | Stripe.Subscription) : null;
}

export function isProration(line: Stripe.InvoiceLineItem): boolean {
  const p = line.parent;
  return !!(p?.subscription_item_details?.proration || p?.invoice_item_details?.proration);
}

export const linePriceId = (line: Stripe.InvoiceLineItem): string | null =>
  idOf((line.pricing?.price_details?.price as string | Stripe.Price | undefined) ?? null);

/** The payment intent that paid an invoice (from `payments`, when expanded). */
export function paymentIntentOfInvoice(inv: Stripe.Invoice): string | null {
  for (const p of inv.payments?.data ?? []) {
    if (p.payment?.type === 'payment_intent' && p.payment.payment_intent) {
      if (p.status === 'paid' || p.status === 'open') return idOf(p.payment.payment_intent);
    }
  }
  return null;
}

/** Statuses after which a subscription never comes back. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['canceled', 'incomplete_expired']);

export const isMissing = (err: unknown): boolean => (err as { statusCode?: number }).statusCode === 404;
