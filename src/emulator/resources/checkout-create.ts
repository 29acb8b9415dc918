import type { EmulatorContext } from '../context';
import { invalidParam, missingParam } from '../errors';
import { randomToken } from '../store';
import {
  type Params,
  applyMetadata,
  optArray,
  optBool,
  optEnum,
  optInt,
  optObject,
  optString,
} from '../wire';
import { type PriceRecord, createPrice } from './catalog';
import {
  CHECKOUT_PRIVATE,
  type CheckoutLineItem,
  type CheckoutPrivate,
  type SessionRecord,
  applySessionAmounts,
  sessionUrl,
} from './checkout';
import { type CouponRecord, type PromotionCodeRecord, promotionCodeActive, refreshCoupon } from './discounts';

// Checkout Session creation: validation of mode, line items (`price` or inline `price_data`),
// discounts, expiry, and the initial object.
function readLineItems(
  ctx: EmulatorContext,
  p: Params,
  mode: string,
): Array<{ price: PriceRecord; quantity: number }> {
  const raw = optArray(p, 'line_items');
  if (!raw || raw.length === 0) {
    if (mode === 'setup') return [];
    throw missingParam('line_items');
  }
  if (mode === 'setup') throw invalidParam('line_items', 'You cannot pass `line_items` in `setup` mode.');
  return raw.map((entry, i) => {
    const li = (entry ?? {}) as Params;
    const quantity = optInt(li, 'quantity') ?? 1;
    if (quantity < 1)
      throw invalidParam(
        `line_items[${i}][quantity]`,
        'Quantity must be at least 1.',
        'parameter_invalid_integer',
      );
    const priceId = optString(li, 'price');
    const priceData = optObject(li, 'price_data');
    let price: PriceRecord;
    if (priceId) {
      price = ctx.store.require<PriceRecord>('prices', priceId, 'price', `line_items[${i}][price]`);
      if (!price.active) {
        throw invalidParam(
          `line_items[${i}][price]`,
          `The price specified (${priceId}) is inactive. This field only accepts active prices.`,
        );
      }
    } else if (priceData) {
      price = createPrice(ctx, priceData, { inline: true });
    } else {
      throw missingParam(`line_items[${i}][price]`);
    }
    return { price, quantity };
  });
}

/** Validates a `discounts[0]` entry and returns {coupon, promotion_code}. */
export function resolveDiscount(
  ctx: EmulatorContext,
  d: Params,
  param: string,
): { coupon: CouponRecord; promotion_code: string | null } {
  const promo = optString(d, 'promotion_code');
  if (promo) {
    const pc = ctx.store.require<PromotionCodeRecord>(
      'promotion_codes',
      promo,
      'promotion_code',
      `${param}[promotion_code]`,
    );
    if (!promotionCodeActive(ctx, pc))
      throw invalidParam(`${param}[promotion_code]`, `This promotion code is not active: '${pc.code}'.`);
    const coupon = ctx.store.require<CouponRecord>('coupons', pc.promotion.coupon as string, 'coupon');
    return { coupon, promotion_code: pc.id };
  }
  const couponId = optString(d, 'coupon');
  if (!couponId) throw missingParam(`${param}[coupon]`);
  const coupon = refreshCoupon(
    ctx,
    ctx.store.require<CouponRecord>('coupons', couponId, 'coupon', `${param}[coupon]`),
  );
  if (!coupon.valid)
    throw invalidParam(`${param}[coupon]`, `Coupon ${couponId} is no longer valid.`, 'coupon_expired');
  return { coupon, promotion_code: null };
}

export function createSession(ctx: EmulatorContext, p: Params): SessionRecord {
  const mode = optEnum(p, 'mode', ['payment', 'subscription', 'setup'] as const);
  if (!mode) throw missingParam('mode');
  const uiMode = optEnum(p, 'ui_mode', ['hosted', 'embedded', 'custom'] as const) ?? 'hosted';
  const successUrl = optString(p, 'success_url') ?? null;
  if (!successUrl && uiMode === 'hosted') throw missingParam('success_url');
  const customer = optString(p, 'customer') ?? null;
  const customerEmail = optString(p, 'customer_email') ?? null;
  if (customer && customerEmail)
    throw invalidParam(
      'customer_email',
      'You may only specify one of these parameters: customer, customer_email.',
    );
  if (customer) ctx.store.require('customers', customer, 'customer', 'customer');
  const items = readLineItems(ctx, p, mode);
  const currencies = new Set(items.map((i) => i.price.currency));
  if (currencies.size > 1) throw invalidParam('line_items', 'All line items must use the same currency.');
  const recurring = items.filter((i) => i.price.type === 'recurring');
  if (mode === 'payment' && recurring.length) {
    throw invalidParam(
      'line_items',
      'You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.',
    );
  }
  if (mode === 'subscription' && !recurring.length) {
    throw invalidParam(
      'line_items',
      'You must provide at least one recurring price in `subscription` mode when using prices.',
    );
  }
  const allowPromo = optBool(p, 'allow_promotion_codes');
  const discountsRaw = optArray(p, 'discounts') ?? [];
  if (discountsRaw.length > 1) throw invalidParam('discounts', 'You may only specify one discount.');
  if (discountsRaw.length && allowPromo) {
    throw invalidParam(
      'discounts',
      'You may only specify one of these parameters: allow_promotion_codes, discounts.',
    );
  }
  const discount = discountsRaw.length
    ? resolveDiscount(ctx, discountsRaw[0] as Params, 'discounts[0]')
    : null;
  const now = ctx.clock.nowSeconds();
  const expiresAt = optInt(p, 'expires_at') ?? now + 24 * 3600;
  if (expiresAt < now + 30 * 60 - 5 || expiresAt > now + 24 * 3600 + 5) {
    throw invalidParam(
      'expires_at',
      'The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.',
      'parameter_invalid_integer',
    );
  }
  const sd = optObject(p, 'subscription_data') ?? {};
  if (mode !== 'subscription' && optObject(p, 'subscription_data')) {
    throw invalidParam(
      'subscription_data',
      'You can only specify `subscription_data` in `subscription` mode.',
    );
  }
  const trialDays = optInt(sd, 'trial_period_days') ?? null;
  if (trialDays !== null && trialDays < 1)
    throw invalidParam('subscription_data[trial_period_days]', 'Trial period must be at least 1 day.');
  const pid = optObject(p, 'payment_intent_data') ?? {};
  const id = `cs_test_${randomToken(58)}`;
  const session: SessionRecord = {
    id,
    object: 'checkout.session',
    adaptive_pricing: mode === 'payment' ? { enabled: false } : null,
    after_expiration: null,
    allow_promotion_codes: allowPromo ?? null,
    allowed_payment_method_types: null,
    amount_subtotal: null,
    amount_total: null,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection:
      optEnum(p, 'billing_address_collection', ['auto', 'required'] as const) ?? null,
    cancel_url: optString(p, 'cancel_url') ?? null,
    client_reference_id: optString(p, 'client_reference_id') ?? null,
    client_secret: uiMode === 'hosted' ? null : `${id}_secret_${randomToken(24)}`,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created: now,
    currency: items[0]?.price.currency ?? (mode === 'setup' ? (optString(p, 'currency') ?? null) : null),
    currency_conversion: null,
    custom_fields: [],
    custom_text: {
      after_submit: null,
      shipping_address: null,
      submit: null,
      terms_of_service_acceptance: null,
    },
    customer,
    customer_account: null,
    customer_creation: customer
      ? null
      : (optEnum(p, 'customer_creation', ['always', 'if_required'] as const) ??
        (mode === 'payment' ? 'if_required' : 'always')),
    customer_details:
      customer || customerEmail
        ? {
            address: null,
            business_name: null,
            email:
              customerEmail ??
              (customer
                ? (ctx.store.get<{ email: string | null }>('customers', customer)?.email ?? null)
                : null),
            individual_name: null,
            name: null,
            phone: null,
            tax_exempt: 'none',
            tax_ids: null,
          }
        : null,
    customer_email: customerEmail,
    discounts: discount ? [{ coupon: discount.coupon.id, promotion_code: discount.promotion_code }] : [],
    expires_at: expiresAt,
    integration_identifier: null,
    invoice: null,
    invoice_creation:
      mode === 'payment'
        ? {
            enabled: false,
            invoice_data: {
              account_tax_ids: null,
              custom_fields: null,
              description: null,
              footer: null,
              issuer: null,
              metadata: {},
              rendering_options: null,
            },
          }
        : null,
    livemode: false,
    locale: (optString(p, 'locale') as SessionRecord['locale']) ?? null,
    managed_payments: null,
    metadata: applyMetadata({}, p),
    mode,
    origin_context: null,
    payment_intent: null,
    payment_link: null,
    payment_method_collection: mode === 'payment' ? null : 'always',
    payment_method_configuration_details: null,
    payment_method_options: { card: { request_three_d_secure: 'automatic' } },
    payment_method_types: (optArray(p, 'payment_method_types') as string[] | undefined) ?? ['card'],
    payment_status: mode === 'setup' ? 'no_payment_required' : 'unpaid',
    permissions: null,
    phone_number_collection: { enabled: false },
    recovered_from: null,
    saved_payment_method_options: customer
      ? { allow_redisplay_filters: ['always'], payment_method_remove: 'disabled', payment_method_save: null }
      : null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: 'open',
    submit_type: optEnum(p, 'submit_type', ['auto', 'book', 'donate', 'pay', 'subscribe'] as const) ?? null,
    subscription: null,
    success_url: successUrl,
    total_details: null,
    ui_mode: uiMode,
    url: uiMode === 'hosted' ? sessionUrl(ctx, id) : null,
    wallet_options: null,
  } satisfies SessionRecord;
  const priv: CheckoutPrivate = {
    id,
    line_items: items.map(({ price, quantity }) => {
      const amount = (price.unit_amount ?? 0) * quantity;
      const product = ctx.store.get<{ name: string }>('products', price.product as string);
      return {
        id: `li_${randomToken(24)}`,
        object: 'item',
        adjustable_quantity: null,
        amount_discount: 0,
        amount_subtotal: amount,
        amount_tax: 0,
        amount_total: amount,
        currency: price.currency,
        description: product?.name ?? null,
        metadata: {},
        price: structuredClone(price),
        quantity,
      } satisfies CheckoutLineItem;
    }),
    subscription_data: {
      metadata: applyMetadata({}, sd),
      trial_period_days: trialDays,
      trial_end: optInt(sd, 'trial_end') ?? null,
      description: optString(sd, 'description') ?? null,
    },
    payment_intent_data: {
      metadata: applyMetadata({}, pid),
      description: optString(pid, 'description') ?? null,
      setup_future_usage: optEnum(pid, 'setup_future_usage', ['off_session', 'on_session'] as const) ?? null,
      shipping: pid.shipping ?? null,
      receipt_email: optString(pid, 'receipt_email') ?? null,
      statement_descriptor: optString(pid, 'statement_descriptor') ?? null,
    },
  };
  ctx.store.insert(CHECKOUT_PRIVATE, priv);
  applySessionAmounts(ctx, session, priv);
  ctx.store.insert('checkout_sessions', session);
  return session;
}
