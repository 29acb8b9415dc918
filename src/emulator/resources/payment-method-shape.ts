import type Stripe from 'stripe';
import type { TestCard } from '../cards';
import type { EmulatorContext } from '../context';
import { type Metadata, type Wire, emptyAddress } from '../shapes';
import { createHash } from 'node:crypto';

export type PaymentMethodRecord = Wire<Stripe.PaymentMethod>;

function billingDetails(p: unknown): Stripe.PaymentMethod.BillingDetails {
  const b = (p && typeof p === 'object' ? p : {}) as Record<string, unknown>;
  const a = (b.address ?? {}) as Record<string, string>;
  return {
    address: { ...emptyAddress(), ...Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v || null])) },
    email: (b.email as string) || null,
    name: (b.name as string) || null,
    phone: (b.phone as string) || null,
    tax_id: null,
  };
}

export function buildCardPaymentMethod(
  ctx: EmulatorContext,
  card: TestCard,
  opts: {
    customer?: string | null;
    metadata?: Metadata;
    billing_details?: unknown;
    exp_month?: number;
    exp_year?: number;
  },
): PaymentMethodRecord {
  const year = new Date(ctx.clock.now()).getUTCFullYear();
  return {
    id: ctx.store.newId('pm'),
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: billingDetails(opts.billing_details),
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
      country: card.country,
      display_brand: card.brand,
      exp_month: opts.exp_month ?? 12,
      exp_year: opts.exp_year ?? year + 5,
      fingerprint: createHash('sha256').update(card.number).digest('base64url').slice(0, 16),
      funding: card.funding,
      generated_from: null,
      last4: card.number.slice(-4),
      networks: { available: [card.brand], preferred: null },
      regulated_status: 'unregulated',
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: ctx.clock.nowSeconds(),
    customer: opts.customer ?? null,
    customer_account: null,
    livemode: false,
    metadata: opts.metadata ?? {},
    type: 'card',
  } satisfies PaymentMethodRecord;
}
