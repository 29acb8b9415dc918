import type Stripe from 'stripe';
import type { Deps } from '../../deps';
import { type Moment, readPrice, readProduct } from '../../stripe/shared-read';

/**
 * Catalog events are applied from the object as Stripe has it now (read before the transaction), not
 * from the payload, so late or out-of-order deliveries converge. `asOf` is when that read started (a
 * read shared with concurrent deliveries of the same object that arrived before it: shared-read.ts).
 * Without a Stripe client (STRIPE_ENABLED=false) the payload is used, dated by the event.
 */
export interface Fresh<T> {
  object: T | null; // null: deleted in Stripe
  asOf: Date;
}

const isMissing = (err: unknown) => (err as { statusCode?: number }).statusCode === 404;

export async function freshProduct(
  event: Stripe.Event,
  deps: Deps,
  arrivedAt?: Moment,
): Promise<Fresh<Stripe.Product>> {
  const payload = event.data.object as Stripe.Product;
  if (!deps.stripe) return { object: payload, asOf: new Date(event.created * 1000) };
  const read = readProduct(deps, payload.id, arrivedAt);
  try {
    const product = (await read.value) as Stripe.Product | Stripe.DeletedProduct;
    const object = 'deleted' in product && product.deleted ? null : (product as Stripe.Product);
    return { object, asOf: read.asOf };
  } catch (err) {
    if (isMissing(err)) return { object: null, asOf: read.asOf };
    throw err;
  }
}

export async function freshPrice(
  event: Stripe.Event,
  deps: Deps,
  arrivedAt?: Moment,
): Promise<Fresh<Stripe.Price>> {
  const payload = event.data.object as Stripe.Price;
  if (!deps.stripe) return { object: payload, asOf: new Date(event.created * 1000) };
  const read = readPrice(deps, payload.id, arrivedAt);
  try {
    return { object: await read.value, asOf: read.asOf };
  } catch (err) {
    if (isMissing(err)) return { object: null, asOf: read.asOf };
    throw err;
  }
}
