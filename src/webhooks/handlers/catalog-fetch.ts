import type Stripe from 'stripe';
import type { Deps } from '../../deps';

/**
 * Catalog events are applied from the object as Stripe has it now (read before the transaction), not
 * from the payload, so late or out-of-order deliveries converge. `asOf` is when that read started.
 * Without a Stripe client (STRIPE_ENABLED=false) the payload is used, dated by the event.
 */
export interface Fresh<T> {
  object: T | null; // null: deleted in Stripe
  asOf: Date;
}

const isMissing = (err: unknown) => (err as { statusCode?: number }).statusCode === 404;

export async function freshProduct(event: Stripe.Event, deps: Deps): Promise<Fresh<Stripe.Product>> {
  const payload = event.data.object as Stripe.Product;
  if (!deps.stripe) return { object: payload, asOf: new Date(event.created * 1000) };
  const asOf = deps.wallClock.now();
  try {
    const product = (await deps.stripe.products.retrieve(payload.id)) as
      | Stripe.Product
      | Stripe.DeletedProduct;
    return { object: 'deleted' in product && product.deleted ? null : (product as Stripe.Product), asOf };
  } catch (err) {
    if (isMissing(err)) return { object: null, asOf };
    throw err;
  }
}

export async function freshPrice(event: Stripe.Event, deps: Deps): Promise<Fresh<Stripe.Price>> {
  const payload = event.data.object as Stripe.Price;
  if (!deps.stripe) return { object: payload, asOf: new Date(event.created * 1000) };
  const asOf = deps.wallClock.now();
  try {
    const price = await deps.stripe.prices.retrieve(payload.id, { expand: ['product'] });
    return { object: price, asOf };
  } catch (err) {
    if (isMissing(err)) return { object: null, asOf };
    throw err;
  }
}
