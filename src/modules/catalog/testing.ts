import type Stripe from 'stripe';

/** Stripe catalog objects as a read returns them, for the mirror's tests: the fields it reads. */
export const stripeProduct = (id: string, fields: Partial<Stripe.Product> = {}): Stripe.Product =>
  ({
    id,
    object: 'product',
    name: 'Plan',
    description: null,
    active: true,
    metadata: {},
    ...fields,
  }) as never;

export const stripePrice = (
  id: string,
  productId: string,
  fields: Partial<Stripe.Price> = {},
): Stripe.Price =>
  ({
    id,
    object: 'price',
    product: productId,
    unit_amount: 1500,
    currency: 'usd',
    recurring: null,
    type: 'one_time',
    lookup_key: null,
    nickname: null,
    active: true,
    metadata: {},
    ...fields,
  }) as never;
