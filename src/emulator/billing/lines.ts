import type Stripe from 'stripe';
import type { EmulatorContext } from '../context';
import { prorate } from './periods';
import { renderDeps } from './state';
import type { InvoiceItemRecord, ItemRecord, LineRecord, SubscriptionRecord, Wire } from './types';

type PriceWire = Wire<Stripe.Price>;

export const priceOf = (ctx: EmulatorContext, id: string): PriceWire => renderDeps(ctx).price(id);

export function productName(ctx: EmulatorContext, price: PriceWire): string {
  const productId = typeof price.product === 'string' ? price.product : price.product.id;
  const product = ctx.store.get<{ id: string; name?: string }>('products', productId);
  return product?.name ?? productId;
}

function money(amount: number, currency: string): string {
  const major = (amount / 100).toFixed(2);
  return currency.toLowerCase() === 'usd' ? `$${major}` : `${major} ${currency.toUpperCase()}`;
}

const dateLabel = (t: number) =>
  new Date(t * 1000).toLocaleDateString('en-GB', {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone: 'UTC',
  });

export const unitAmount = (p: PriceWire) => p.unit_amount ?? 0;

/** The line billing one subscription item for one period (Stripe's "1 × Pro (at $15.00 / month)"). */
export function itemLine(
  ctx: EmulatorContext,
  sub: SubscriptionRecord,
  item: Pick<ItemRecord, 'id' | 'price' | 'quantity'>,
  period: { start: number; end: number },
  trial = false,
): LineRecord {
  const price = priceOf(ctx, item.price);
  const name = productName(ctx, price);
  const interval = price.recurring?.interval ?? 'month';
  return {
    id: ctx.store.newId('il'),
    amount: trial ? 0 : unitAmount(price) * item.quantity,
    currency: price.currency,
    description: trial
      ? `Trial period for ${name}`
      : `${item.quantity} × ${name} (at ${money(unitAmount(price), price.currency)} / ${interval})`,
    discountable: true,
    discount_amounts: [],
    metadata: {},
    period,
    price: item.price,
    quantity: item.quantity,
    proration: false,
    invoice_item: null,
    subscription: sub.id,
    subscription_item: item.id,
  };
}

export interface ItemChange {
  item: string;
  oldPrice: string | null;
  oldQuantity: number;
  newPrice: string | null;
  newQuantity: number;
}

/**
 * Time-based proration at `at` within the item's current period: a credit for the unused time on the
 * old price and a charge for the remaining time on the new one, each rounded on its own.
 */
export function prorationItems(
  ctx: EmulatorContext,
  sub: SubscriptionRecord,
  changes: ItemChange[],
  at: number,
  period: { start: number; end: number },
): InvoiceItemRecord[] {
  const out: InvoiceItemRecord[] = [];
  const base = {
    customer: sub.customer,
    date: at,
    invoice: null,
    metadata: {},
    period: { start: at, end: period.end },
    proration: true,
    subscription: sub.id,
    test_clock: sub.test_clock,
    discountable: true,
  };
  for (const c of changes) {
    if (c.oldPrice) {
      const p = priceOf(ctx, c.oldPrice);
      const amount = -prorate(unitAmount(p) * c.oldQuantity, at, period.start, period.end);
      if (amount !== 0) {
        out.push({
          ...base,
          id: ctx.store.newId('ii'),
          amount,
          currency: p.currency,
          description: `Unused time on ${c.oldQuantity > 1 ? `${c.oldQuantity} × ` : ''}${productName(ctx, p)} after ${dateLabel(at)}`,
          price: c.oldPrice,
          quantity: c.oldQuantity,
          subscription_item: c.item,
        });
      }
    }
    if (c.newPrice) {
      const p = priceOf(ctx, c.newPrice);
      const amount = prorate(unitAmount(p) * c.newQuantity, at, period.start, period.end);
      if (amount !== 0) {
        out.push({
          ...base,
          id: ctx.store.newId('ii'),
          amount,
          currency: p.currency,
          description: `Remaining time on ${c.newQuantity > 1 ? `${c.newQuantity} × ` : ''}${productName(ctx, p)} after ${dateLabel(at)}`,
          price: c.newPrice,
          quantity: c.newQuantity,
          subscription_item: c.item,
        });
      }
    }
  }
  return out;
}

/** An invoice item as an invoice line (for previews, where nothing is stored). */
export function lineFromInvoiceItem(ctx: EmulatorContext, ii: InvoiceItemRecord): LineRecord {
  return {
    id: ctx.store.newId('il'),
    amount: ii.amount,
    currency: ii.currency,
    description: ii.description,
    discountable: ii.discountable,
    discount_amounts: [],
    metadata: ii.metadata,
    period: ii.period,
    price: ii.price,
    quantity: ii.quantity,
    proration: ii.proration,
    invoice_item: ii.id,
    subscription: ii.subscription,
    subscription_item: ii.subscription_item,
  };
}
