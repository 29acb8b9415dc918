import { desc, eq } from 'drizzle-orm';
import type Stripe from 'stripe';
import type { Queryable } from '../../db/client';
import { listAll } from '../../stripe/client';
import { type PriceRow, type ProductRow, prices, products } from './catalog.tables';
import { MD } from './stripe-params';

export async function findProductByKey(q: Queryable, key: string): Promise<ProductRow | undefined> {
  const [row] = await q.select().from(products).where(eq(products.key, key));
  return row;
}

/** The active price holding a lookup key, else the newest archived one that still holds it. */
export async function findPriceByLookupKey(q: Queryable, lookupKey: string): Promise<PriceRow | undefined> {
  const [row] = await q
    .select()
    .from(prices)
    .where(eq(prices.lookupKey, lookupKey))
    .orderBy(desc(prices.isActive), desc(prices.createdAt))
    .limit(1);
  return row;
}

/**
 * What Stripe already has, for objects a push does not find locally (a fresh database against a
 * Stripe account that was pushed to before): products by their `paywire_key` metadata, prices by
 * lookup key. Read lazily, once per push.
 */
export class StripeIndex {
  private productsByKey: Map<string, Stripe.Product> | null = null;

  constructor(private readonly stripe: Stripe) {}

  async productByKey(key: string): Promise<Stripe.Product | undefined> {
    if (!this.productsByKey) {
      const all = await listAll(this.stripe.products.list({ limit: 100 }));
      this.productsByKey = new Map();
      // Oldest first, so an active product wins over an archived one and the newest over older ones.
      for (const p of [...all].sort((a, b) => Number(a.active) - Number(b.active) || a.created - b.created)) {
        const k = p.metadata?.[MD.key];
        if (k) this.productsByKey.set(k, p);
      }
    }
    return this.productsByKey.get(key);
  }

  async priceByLookupKey(lookupKey: string): Promise<Stripe.Price | undefined> {
    const page = await this.stripe.prices.list({
      lookup_keys: [lookupKey],
      limit: 1,
      expand: ['data.product'],
    });
    return page.data[0];
  }
}
