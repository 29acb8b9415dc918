import type { Queryable } from '../../db/client';
import type { PriceRow } from '../catalog/catalog.tables';
import { getPrice, getPriceByStripeId } from '../catalog/catalog.service';
import { intervalInMonths, type PriceFacts } from './discounts.rules';

/**
 * What the discount rules need from the catalog, through its service. A price with a billing interval
 * is bought by subscribing (recurring, and usage/seat/hybrid prices billed per period); anything else
 * (one_time, credit_pack) is a one-time purchase.
 */
export function factsOf(p: PriceRow): PriceFacts {
  const subscription = p.billingInterval !== null;
  return {
    id: p.id,
    unitAmount: p.unitAmount,
    currency: p.currency.toLowerCase(),
    kind: subscription ? 'subscription' : 'one_time',
    intervalMonths: subscription ? intervalInMonths(p.billingInterval, p.billingIntervalCount) : null,
  };
}

export async function priceFacts(deps: { db: Queryable }, priceId: string): Promise<PriceFacts | null> {
  const row = await getPrice(deps.db, priceId);
  return row ? factsOf(row) : null;
}

export async function priceFactsByStripeId(deps: { db: Queryable }, stripePriceId: string) {
  const row = await getPriceByStripeId(deps.db, stripePriceId);
  return row ? factsOf(row) : null;
}

export async function missingPriceIds(deps: { db: Queryable }, ids: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const id of ids) if (!(await getPrice(deps.db, id))) missing.push(id);
  return missing;
}
