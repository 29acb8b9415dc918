import { and, eq, ne } from 'drizzle-orm';
import type { Queryable } from '../../db/client';
import { isUniqueViolation } from '../../db/errors';
import { AppError, invalid } from '../../lib/errors';
import { newId } from '../../lib/ids';
import { requireStripe } from '../../stripe/client';
import {
  type BillingInterval,
  type PriceRow,
  type PriceType,
  type ProductRow,
  prices,
  tiers,
} from './catalog.tables';
import { requirePrice, requireProduct } from './catalog.service';
import { withConveniences } from './conveniences';
import { EMPTY_GRANTS, type ExtraMetadata, grantsEqual, normalizeGrants, referencedTiers } from './grants';
import { mirrorPrice, recordVersion, tierKeysById } from './mirror';
import type { CatalogDeps } from './products.service';
import { forCreate, type PriceFields, priceCreateParams, priceMetadata } from './stripe-params';

/** Admin input (API field names); extra_metadata is already shape-checked by the zod schema. */
export interface PriceInput {
  product_id: string;
  unit_amount: number;
  currency: string;
  price_type: PriceType;
  billing_interval?: BillingInterval | null;
  billing_interval_count?: number | null;
  trial_period_days?: number | null;
  lookup_key?: string | null;
  nickname?: string | null;
  extra_metadata?: ExtraMetadata;
  is_active?: boolean;
  local_only?: boolean;
  transfer_lookup_key?: boolean;
}
export type PricePatch = Partial<Omit<PriceInput, 'product_id' | 'local_only'>>;

const IMMUTABLE = [
  'unit_amount',
  'currency',
  'price_type',
  'billing_interval',
  'billing_interval_count',
] as const;

const fieldError = (path: string, message: string) =>
  invalid(`${path}: ${message}`, { fields: [{ path, message }] });

/** Checks that the interval matches the price type and that every tier a grant names exists. */
async function checkPrice(q: Queryable, f: Omit<PriceFields, 'id' | 'stripeProductId'>) {
  if (f.priceType === 'recurring' && !f.billingInterval) {
    throw fieldError('billing_interval', 'a recurring price needs a billing_interval');
  }
  if ((f.priceType === 'one_time' || f.priceType === 'credit_pack') && f.billingInterval) {
    throw fieldError('billing_interval', `a ${f.priceType} price has no billing_interval`);
  }
  if (f.trialPeriodDays && !f.billingInterval) {
    throw fieldError('trial_period_days', 'only a recurring price can have a trial');
  }
  const known = new Set((await q.select({ key: tiers.key }).from(tiers)).map((t) => t.key));
  for (const { index, tier } of referencedTiers(f.grants)) {
    if (!known.has(tier)) {
      throw fieldError(
        `extra_metadata.entitlements.${index}.tier`,
        `item ${index}: tier "${tier}" does not exist`,
      );
    }
  }
  priceMetadata({ ...f, id: '', stripeProductId: '' }); // throws 400 when the grants cannot fit Stripe metadata
}

async function assertLookupKeyFree(q: Queryable, key: string | null, transfer: boolean, exceptId?: string) {
  if (!key || transfer) return;
  const [holder] = await q
    .select({ id: prices.id })
    .from(prices)
    .where(
      and(
        eq(prices.lookupKey, key),
        eq(prices.isActive, true),
        exceptId ? ne(prices.id, exceptId) : undefined,
      ),
    );
  if (holder) {
    throw new AppError(
      'conflict',
      `The lookup key "${key}" belongs to another active price; pass transfer_lookup_key`,
      {
        price_id: holder.id,
      },
    );
  }
}

function fieldsOf(
  id: string,
  product: ProductRow,
  input: Omit<PriceInput, 'product_id'>,
  grants: ExtraMetadata,
) {
  const interval = input.billing_interval ?? null;
  return {
    id,
    stripeProductId: product.stripeProductId ?? '',
    unitAmount: input.unit_amount,
    currency: input.currency.toLowerCase(),
    priceType: input.price_type,
    billingInterval: interval,
    billingIntervalCount: interval ? (input.billing_interval_count ?? 1) : null,
    trialPeriodDays: input.trial_period_days ?? null,
    lookupKey: input.lookup_key ?? null,
    nickname: input.nickname ?? null,
    isActive: input.is_active ?? true,
    grants: normalizeGrants(grants, { recurring: !!interval }),
    replacesPriceId: null as string | null,
  } satisfies PriceFields;
}

const localValues = (f: PriceFields, productId: string) => ({
  productId,
  unitAmount: f.unitAmount,
  currency: f.currency,
  priceType: f.priceType,
  billingInterval: f.billingInterval,
  billingIntervalCount: f.billingIntervalCount,
  trialPeriodDays: f.trialPeriodDays,
  lookupKey: f.lookupKey,
  nickname: f.nickname,
  isActive: f.isActive,
  extraMetadata: f.grants,
  replacesPriceId: f.replacesPriceId,
});

/**
 * Creates a price. The product's conveniences become extra_metadata items (the single-source rule);
 * everything is validated before Stripe is called, so a refused price writes nothing anywhere.
 */
export async function createPrice(deps: CatalogDeps, input: PriceInput): Promise<PriceRow> {
  const product = await requireProduct(deps.db, input.product_id);
  const tierKeys = await tierKeysById(deps.db);
  const grants = withConveniences(
    input.extra_metadata ?? EMPTY_GRANTS,
    product,
    (id) => tierKeys.get(id),
    !!input.billing_interval,
  );
  const fields = fieldsOf(newId(), product, input, grants);
  await checkPrice(deps.db, fields);
  await assertLookupKeyFree(deps.db, fields.lookupKey, !!input.transfer_lookup_key);
  if (input.local_only) return insertLocal(deps, fields, product.id);
  return createInStripe(deps, fields, product);
}

async function insertLocal(deps: CatalogDeps, f: PriceFields, productId: string, archive?: PriceRow) {
  try {
    await deps.db.transaction(async (tx) => {
      if (archive) {
        await tx
          .update(prices)
          .set({ isActive: false, lookupKey: null, updatedAt: new Date() })
          .where(eq(prices.id, archive.id));
      }
      if (f.lookupKey) {
        await tx
          .update(prices)
          .set({ lookupKey: null, updatedAt: new Date() })
          .where(eq(prices.lookupKey, f.lookupKey));
      }
      await tx.insert(prices).values({ id: f.id, ...localValues(f, productId), version: 1 });
      await recordVersion(tx, f.id, 1, f.grants);
    });
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError('conflict', 'The lookup key was taken by another price meanwhile');
    throw err;
  }
  return requirePrice(deps.db, f.id);
}

async function createInStripe(deps: CatalogDeps, f: PriceFields, product: ProductRow, archive?: PriceRow) {
  if (!product.stripeProductId) {
    throw fieldError('local_only', 'the product exists only locally; its prices must be local_only too');
  }
  const stripe = requireStripe(deps);
  const asOf = deps.wallClock.now();
  // Transferring is safe here: the local rule (one active price per lookup key) was checked above.
  const created = await stripe.prices.create(priceCreateParams(f, true), {
    idempotencyKey: `paywire-price-${f.id}`,
  });
  const archived = archive?.stripePriceId
    ? await stripe.prices.update(archive.stripePriceId, { active: false })
    : undefined;
  try {
    const outcome = await deps.db.transaction(async (tx) => {
      if (archived) await mirrorPrice(tx, archived, asOf);
      return mirrorPrice(tx, created, asOf);
    });
    for (const w of outcome.warnings) deps.logger.warn({ price: created.id }, w);
    return requirePrice(deps.db, outcome.id!);
  } catch (err) {
    // Do not leave a sellable Stripe price without its local row.
    await stripe.prices.update(created.id, { active: false }).catch(() => {});
    throw err;
  }
}

/** The admin input a price row corresponds to. */
export const inputOf = (p: PriceRow): Omit<PriceInput, 'product_id'> => ({
  unit_amount: p.unitAmount,
  currency: p.currency,
  price_type: p.priceType,
  billing_interval: p.billingInterval,
  billing_interval_count: p.billingIntervalCount,
  trial_period_days: p.trialPeriodDays,
  lookup_key: p.lookupKey,
  nickname: p.nickname,
  extra_metadata: p.extraMetadata,
  is_active: p.isActive,
});

/**
 * Updates a price. Stripe prices are immutable in amount, currency and interval: changing one makes a
 * new Stripe price and a new local row (`replaces_price_id` -> the old one, lookup key moved), and
 * archives the old one, so subscriptions on it still find what they grant. A replacement keeps the
 * old grants unless extra_metadata is given. Changed grants bump `version`.
 */
export async function updatePrice(
  deps: CatalogDeps,
  id: string,
  patch: PricePatch,
): Promise<{ price: PriceRow; replaced: PriceRow | null }> {
  const existing = await requirePrice(deps.db, id);
  const product = await requireProduct(deps.db, existing.productId);
  if (patch.currency) patch = { ...patch, currency: patch.currency.toLowerCase() };
  const merged = { ...inputOf(existing), ...patch };
  const replace = IMMUTABLE.some((k) => patch[k] !== undefined && patch[k] !== existing[camel(k)]);
  const grants = patch.extra_metadata ?? existing.extraMetadata;
  if (replace) {
    const fields = { ...fieldsOf(newId(), product, merged, grants), replacesPriceId: existing.id };
    await checkPrice(deps.db, fields);
    await assertLookupKeyFree(deps.db, fields.lookupKey, !!patch.transfer_lookup_key, existing.id);
    const price = existing.stripePriceId
      ? await createInStripe(deps, fields, product, existing)
      : await insertLocal(deps, fields, product.id, existing);
    return { price, replaced: await requirePrice(deps.db, existing.id) };
  }
  const fields = {
    ...fieldsOf(existing.id, product, merged, grants),
    replacesPriceId: existing.replacesPriceId,
  };
  await checkPrice(deps.db, fields);
  await assertLookupKeyFree(deps.db, fields.lookupKey, !!patch.transfer_lookup_key, existing.id);
  if (!existing.stripePriceId) {
    await updateLocal(deps, existing, fields);
    return { price: await requirePrice(deps.db, id), replaced: null };
  }
  const stripe = requireStripe(deps);
  const asOf = deps.wallClock.now();
  const previous = priceMetadata({ ...fields, grants: existing.extraMetadata }); // its keys: what to unset
  const updated = await stripe.prices.update(existing.stripePriceId, {
    active: fields.isActive,
    nickname: fields.nickname ?? '',
    ...(fields.lookupKey !== existing.lookupKey
      ? { lookup_key: fields.lookupKey ?? '', ...(fields.lookupKey ? { transfer_lookup_key: true } : {}) }
      : {}),
    metadata: priceMetadata(fields, forCreate(previous)),
  });
  const outcome = await deps.db.transaction((tx) => mirrorPrice(tx, updated, asOf));
  for (const w of outcome.warnings) deps.logger.warn({ price: updated.id }, w);
  return { price: await requirePrice(deps.db, id), replaced: null };
}

async function updateLocal(deps: CatalogDeps, existing: PriceRow, f: PriceFields) {
  const changed = !grantsEqual(existing.extraMetadata, f.grants);
  const version = changed ? existing.version + 1 : existing.version;
  try {
    await deps.db.transaction(async (tx) => {
      if (f.lookupKey && f.lookupKey !== existing.lookupKey) {
        await tx
          .update(prices)
          .set({ lookupKey: null, updatedAt: new Date() })
          .where(eq(prices.lookupKey, f.lookupKey));
      }
      await tx
        .update(prices)
        .set({ ...localValues(f, existing.productId), version, updatedAt: new Date() })
        .where(eq(prices.id, existing.id));
      if (changed) await recordVersion(tx, existing.id, version, f.grants);
    });
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError('conflict', 'The lookup key belongs to another active price');
    throw err;
  }
}

export const archivePrice = (deps: CatalogDeps, id: string) => updatePrice(deps, id, { is_active: false });

const camel = (k: (typeof IMMUTABLE)[number]) =>
  ({
    unit_amount: 'unitAmount',
    currency: 'currency',
    price_type: 'priceType',
    billing_interval: 'billingInterval',
    billing_interval_count: 'billingIntervalCount',
  })[k] as 'unitAmount' | 'currency' | 'priceType' | 'billingInterval' | 'billingIntervalCount';
