import type Stripe from 'stripe';

/**
 * The JSON shape of an SDK type. The SDK turns decimal strings (`unit_amount_decimal`) into `Decimal`
 * objects only after parsing, so on the wire (and in the store) those fields are strings.
 * Build objects as `{...} satisfies Wire<Stripe.Price>`.
 */
export type Wire<T> = T extends Stripe.Decimal
  ? string
  : T extends string | number | boolean | null | undefined
    ? T
    : T extends (infer U)[]
      ? Wire<U>[]
      : T extends object
        ? { [K in keyof T]: Wire<T[K]> }
        : T;

export type Metadata = Record<string, string>;

export const emptyAddress = (): Stripe.Address => ({
  city: null,
  country: null,
  line1: null,
  line2: null,
  postal_code: null,
  state: null,
});

/** Stripe's `shipping` param -> the stored shape (every address field present). */
export function shippingFrom(p: unknown): {
  address: Stripe.Address;
  carrier: string | null;
  name: string;
  phone: string | null;
  tracking_number: string | null;
} | null {
  if (!p || typeof p !== 'object') return null;
  const s = p as Record<string, unknown>;
  const a = (s.address ?? {}) as Record<string, string>;
  return {
    address: { ...emptyAddress(), ...Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v || null])) },
    carrier: (s.carrier as string) || null,
    name: String(s.name ?? ''),
    phone: (s.phone as string) || null,
    tracking_number: (s.tracking_number as string) || null,
  };
}
