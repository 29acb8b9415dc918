import type Stripe from 'stripe';
import type { EmulatorContext } from '../context';
import { invalidParam, missingParam, stripeError } from '../errors';
import { emitEvent, previousAttributes } from '../events';
import { compileSearch, newestFirst, paginate, searchPage } from '../lists';
import type { ApiRouter } from '../router';
import type { Wire } from '../shapes';
import {
  type Params,
  applyMetadata,
  matchesRange,
  optArray,
  optBool,
  optEnum,
  optInt,
  optObject,
  optString,
  reqString,
} from '../wire';

export type ProductRecord = Wire<Stripe.Product>;
export type PriceRecord = Wire<Stripe.Price>;

const INTERVALS = ['day', 'week', 'month', 'year'] as const;

// ---------------------------------------------------------------- products

export function createProduct(ctx: EmulatorContext, p: Params): ProductRecord {
  const name = reqString(p, 'name');
  const customId = optString(p, 'id');
  if (customId && ctx.store.has('products', customId)) {
    throw stripeError(400, {
      code: 'resource_already_exists',
      param: 'id',
      message: 'Product already exists.',
    });
  }
  const now = ctx.clock.nowSeconds();
  const product: ProductRecord = {
    id: customId ?? ctx.store.newId('prod'),
    object: 'product',
    active: optBool(p, 'active') ?? true,
    created: now,
    default_price: null,
    description: optString(p, 'description') ?? null,
    images: (optArray(p, 'images') as string[] | undefined) ?? [],
    livemode: false,
    marketing_features: ((optArray(p, 'marketing_features') ?? []) as Array<{ name?: string }>).map((f) => ({
      name: f.name ?? '',
    })),
    metadata: applyMetadata({}, p),
    name,
    package_dimensions: null,
    shippable: optBool(p, 'shippable') ?? null,
    statement_descriptor: optString(p, 'statement_descriptor') ?? null,
    tax_code: optString(p, 'tax_code') ?? null,
    tax_details: null,
    type: 'service',
    unit_label: optString(p, 'unit_label') ?? null,
    updated: now,
    url: optString(p, 'url') ?? null,
  } satisfies ProductRecord;
  ctx.store.insert('products', product);
  emitEvent(ctx, 'product.created', product);
  const dpd = optObject(p, 'default_price_data');
  if (dpd) {
    const price = createPrice(ctx, { ...dpd, product: product.id });
    const before = structuredClone(product);
    product.default_price = price.id;
    ctx.store.save('products', product);
    emitEvent(ctx, 'product.updated', product, previousAttributes(before, product));
  }
  return product;
}

function updateProduct(ctx: EmulatorContext, id: string, p: Params): ProductRecord {
  const product = ctx.store.require<ProductRecord>('products', id, 'product');
  const before = structuredClone(product);
  const name = optString(p, 'name');
  if (name === null) throw invalidParam('name', 'You cannot unset the name of a product.');
  if (name !== undefined) product.name = name;
  for (const f of ['description', 'statement_descriptor', 'unit_label', 'url', 'tax_code'] as const) {
    const v = optString(p, f);
    if (v !== undefined) product[f] = v;
  }
  const active = optBool(p, 'active');
  if (active !== undefined) product.active = active;
  const images = optArray(p, 'images');
  if (images !== undefined) product.images = (images ?? []) as string[];
  const dp = optString(p, 'default_price');
  if (dp !== undefined) {
    if (dp) {
      const price = ctx.store.require<PriceRecord>('prices', dp, 'price', 'default_price');
      if (price.product !== product.id)
        throw invalidParam('default_price', 'The price must belong to this product.');
    }
    product.default_price = dp;
  }
  product.metadata = applyMetadata(product.metadata, p);
  const prev = previousAttributes(before, product);
  if (Object.keys(prev).length) {
    product.updated = ctx.clock.nowSeconds();
    emitEvent(ctx, 'product.updated', product, prev);
  }
  ctx.store.save('products', product);
  return product;
}

// ---------------------------------------------------------------- prices

/** Creates a price (also used for checkout `price_data`, which makes inline, inactive prices). */
export function createPrice(ctx: EmulatorContext, p: Params, opts: { inline?: boolean } = {}): PriceRecord {
  const currency = reqString(p, 'currency').toLowerCase();
  let productId = optString(p, 'product');
  const productData = optObject(p, 'product_data');
  if (!productId && productData) productId = createProduct(ctx, productData).id;
  if (!productId) throw missingParam('product');
  ctx.store.require('products', productId, 'product', 'product');
  const unitAmount = optInt(p, 'unit_amount');
  const decimal = optString(p, 'unit_amount_decimal');
  const customUnit = optObject(p, 'custom_unit_amount');
  if ((unitAmount === undefined || unitAmount === null) && !decimal && !customUnit)
    throw missingParam('unit_amount');
  if (unitAmount !== undefined && unitAmount !== null && unitAmount < 0) {
    throw invalidParam(
      'unit_amount',
      'This value must be greater than or equal to 0.',
      'parameter_invalid_integer',
    );
  }
  const amount = unitAmount ?? (decimal ? Math.round(Number(decimal)) : null);
  const rec = optObject(p, 'recurring');
  let recurring: PriceRecord['recurring'] = null;
  if (rec) {
    const interval = optEnum(rec, 'interval', INTERVALS);
    if (!interval) throw missingParam('recurring[interval]');
    recurring = {
      interval,
      interval_count: optInt(rec, 'interval_count') ?? 1,
      meter: optString(rec, 'meter') ?? null,
      trial_period_days: optInt(rec, 'trial_period_days') ?? null,
      usage_type: optEnum(rec, 'usage_type', ['licensed', 'metered'] as const) ?? 'licensed',
    };
  }
  const lookupKey = optString(p, 'lookup_key') ?? null;
  if (lookupKey) claimLookupKey(ctx, lookupKey, optBool(p, 'transfer_lookup_key') ?? false);
  const price: PriceRecord = {
    id: ctx.store.newId('price'),
    object: 'price',
    active: opts.inline ? false : (optBool(p, 'active') ?? true),
    billing_scheme: 'per_unit',
    created: ctx.clock.nowSeconds(),
    currency,
    custom_unit_amount: null,
    livemode: false,
    lookup_key: lookupKey,
    metadata: applyMetadata({}, p),
    nickname: optString(p, 'nickname') ?? null,
    product: productId,
    recurring,
    tax_behavior:
      optEnum(p, 'tax_behavior', ['exclusive', 'inclusive', 'unspecified'] as const) ?? 'unspecified',
    tiers_mode: null,
    transform_quantity: null,
    type: recurring ? 'recurring' : 'one_time',
    unit_amount: amount,
    unit_amount_decimal: amount === null ? null : (decimal ?? String(amount)),
  } satisfies PriceRecord;
  ctx.store.insert('prices', price);
  if (!opts.inline) emitEvent(ctx, 'price.created', price);
  return price;
}

/** A lookup key belongs to one price; `transfer_lookup_key` moves it, otherwise it is a 400. */
function claimLookupKey(ctx: EmulatorContext, key: string, transfer: boolean): void {
  const holder = ctx.store.all<PriceRecord>('prices').find((x) => x.lookup_key === key);
  if (!holder) return;
  if (!transfer) {
    throw invalidParam(
      'lookup_key',
      `A price (\`${holder.id}\`) already uses that lookup key. Pass \`transfer_lookup_key=true\` to transfer it to this price.`,
    );
  }
  const before = structuredClone(holder);
  holder.lookup_key = null;
  ctx.store.save('prices', holder);
  emitEvent(ctx, 'price.updated', holder, previousAttributes(before, holder));
}

const IMMUTABLE_PRICE_PARAMS = [
  'unit_amount',
  'unit_amount_decimal',
  'currency',
  'product',
  'recurring',
  'billing_scheme',
];

function updatePrice(ctx: EmulatorContext, id: string, p: Params): PriceRecord {
  const price = ctx.store.require<PriceRecord>('prices', id, 'price');
  for (const f of IMMUTABLE_PRICE_PARAMS) {
    if (p[f] !== undefined) throw invalidParam(f, `Received unknown parameter: ${f}`, 'parameter_unknown');
  }
  const before = structuredClone(price);
  const active = optBool(p, 'active');
  if (active !== undefined) price.active = active;
  const nickname = optString(p, 'nickname');
  if (nickname !== undefined) price.nickname = nickname;
  const lookupKey = optString(p, 'lookup_key');
  if (lookupKey !== undefined && lookupKey !== price.lookup_key) {
    if (lookupKey) claimLookupKey(ctx, lookupKey, optBool(p, 'transfer_lookup_key') ?? false);
    price.lookup_key = lookupKey;
  }
  const tb = optEnum(p, 'tax_behavior', ['exclusive', 'inclusive', 'unspecified'] as const);
  if (tb) price.tax_behavior = tb;
  price.metadata = applyMetadata(price.metadata, p);
  ctx.store.save('prices', price);
  const prev = previousAttributes(before, price);
  if (Object.keys(prev).length) emitEvent(ctx, 'price.updated', price, prev);
  return price;
}

export function registerCatalogRoutes(ctx: EmulatorContext, r: ApiRouter): void {
  r.post('/v1/products', (req) => createProduct(ctx, req.params));
  r.get('/v1/products/search', (req) => {
    const match = compileSearch(optString(req.params, 'query') ?? '');
    const items = newestFirst(ctx.store.all<ProductRecord>('products')).filter((x) =>
      match(x as Record<string, unknown>),
    );
    return searchPage(items, req.params, req.url);
  });
  r.get(
    '/v1/products/:id',
    (req) => ctx.store.get('_deleted', req.path.id) ?? ctx.store.require('products', req.path.id, 'product'),
  );
  r.post('/v1/products/:id', (req) => updateProduct(ctx, req.path.id, req.params));
  r.delete('/v1/products/:id', (req) => {
    const product = ctx.store.require<ProductRecord>('products', req.path.id, 'product');
    if (ctx.store.all<PriceRecord>('prices').some((x) => x.product === product.id && x.active)) {
      throw invalidParam(
        'id',
        'This product cannot be deleted because it has one or more user-created prices.',
        'product_has_prices',
      );
    }
    ctx.store.delete('products', product.id);
    const tombstone = {
      id: product.id,
      object: 'product' as const,
      deleted: true as const,
    } satisfies Stripe.DeletedProduct;
    ctx.store.insert('_deleted', tombstone);
    emitEvent(ctx, 'product.deleted', product);
    return tombstone;
  });
  r.get('/v1/products', (req) => {
    const active = optBool(req.params, 'active');
    const ids = optArray(req.params, 'ids') as string[] | undefined;
    const items = ctx.store
      .all<ProductRecord>('products')
      .filter((x) => (active === undefined || x.active === active) && (!ids || ids.includes(x.id)))
      .filter((x) => matchesRange(x.created, req.params.created));
    return paginate(newestFirst(items), req.params, req.url);
  });

  r.post('/v1/prices', (req) => createPrice(ctx, req.params));
  r.get('/v1/prices/search', (req) => {
    const match = compileSearch(optString(req.params, 'query') ?? '');
    const items = newestFirst(ctx.store.all<PriceRecord>('prices')).filter((x) =>
      match(x as Record<string, unknown>),
    );
    return searchPage(items, req.params, req.url);
  });
  r.get('/v1/prices/:id', (req) => ctx.store.require('prices', req.path.id, 'price'));
  r.post('/v1/prices/:id', (req) => updatePrice(ctx, req.path.id, req.params));
  r.get('/v1/prices', (req) => {
    const p = req.params;
    const active = optBool(p, 'active');
    const product = optString(p, 'product');
    const currency = optString(p, 'currency');
    const type = optString(p, 'type');
    const lookupKeys = optArray(p, 'lookup_keys') as string[] | undefined;
    const interval = optObject(p, 'recurring')?.interval as string | undefined;
    const items = ctx.store
      .all<PriceRecord>('prices')
      .filter(
        (x) =>
          (active === undefined || x.active === active) &&
          (!product || x.product === product) &&
          (!currency || x.currency === currency) &&
          (!type || x.type === type) &&
          (!lookupKeys || (x.lookup_key !== null && lookupKeys.includes(x.lookup_key))) &&
          (!interval || x.recurring?.interval === interval) &&
          matchesRange(x.created, p.created),
      );
    return paginate(newestFirst(items), p, req.url);
  });
}
