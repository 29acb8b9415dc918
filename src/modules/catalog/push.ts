import type Stripe from 'stripe';
import type { Queryable } from '../../db/client';
import { AppError } from '../../lib/errors';
import { formatMoney } from '../../lib/money';
import type { CatalogFile, FilePriceEntry, FileProductEntry } from './catalog-file';
import { listTiers } from './catalog.service';
import type { PriceRow, ProductRow, TierRow } from './catalog.tables';
import { withConveniences } from './conveniences';
import { canonicalJson, EMPTY_GRANTS, referencedTiers } from './grants';
import { mirrorPrice, mirrorProduct } from './mirror';
import { archivePrice, createPrice, updatePrice } from './prices.service';
import { createProduct, type ProductInput, updateProduct } from './products.service';
import { findPriceByLookupKey, findProductByKey, StripeIndex } from './push-lookup';
import type { SyncDeps } from './sync';
import { createTier, updateTier } from './tiers.service';

/**
 * Pushes a catalog file: tiers, then each product and its prices, matched on keys (tier key, product
 * key, price lookup key). One code path makes both the push and the dry run (diff), so the diff is
 * exactly what the push would do. Objects that exist in Stripe (by `paywire_key` / lookup key) but not
 * locally are imported first rather than created twice. Nothing absent from the file is removed.
 */
export interface SyncAction {
  kind: 'create' | 'update' | 'replace' | 'archive' | 'import';
  object: 'tier' | 'product' | 'price';
  key: string;
  detail: string;
}

export interface PushResult {
  dryRun: boolean;
  actions: SyncAction[];
  counts: Record<SyncAction['object'], Record<SyncAction['kind'], number>>;
  warnings: string[];
}

const ROLLBACK = Symbol('dry-run rollback');

export async function pushCatalog(
  deps: SyncDeps,
  file: CatalogFile,
  opts: { dryRun?: boolean } = {},
): Promise<PushResult> {
  const dryRun = !!opts.dryRun;
  const result: PushResult = { dryRun, actions: [], counts: emptyCounts(), warnings: [] };
  await checkTierReferences(deps.db, file);
  if (!dryRun) {
    await new Pusher(deps, deps.db, result).run(file);
    return result;
  }
  // A dry run executes nothing; imports from Stripe are simulated in a transaction that is rolled back.
  await deps.db
    .transaction(async (tx) => {
      await new Pusher(deps, tx, result).run(file);
      throw ROLLBACK;
    })
    .catch((err) => {
      if (err !== ROLLBACK) throw err;
    });
  return result;
}

export const diffCatalog = (deps: SyncDeps, file: CatalogFile) => pushCatalog(deps, file, { dryRun: true });

function emptyCounts(): PushResult['counts'] {
  const kinds = () => ({ create: 0, update: 0, replace: 0, archive: 0, import: 0 });
  return { tier: kinds(), product: kinds(), price: kinds() };
}

/** Every tier a product or a grant names must be in the file or already in the catalog. */
async function checkTierReferences(q: Queryable, file: CatalogFile) {
  const known = new Set([...file.tiers.map((t) => t.key), ...(await listTiers(q)).map((t) => t.key)]);
  file.products.forEach((p, i) => {
    for (const field of ['tier', 'grants_tier', 'requires_tier'] as const) {
      const key = p[field];
      if (key && !known.has(key)) {
        throw new AppError(
          'invalid_request',
          `products.${i}.${field}: tier "${key}" is not in the file or the catalog`,
        );
      }
    }
    p.prices.forEach((price, j) => {
      for (const { index, tier } of referencedTiers(price.extra_metadata ?? EMPTY_GRANTS)) {
        if (!known.has(tier)) {
          throw new AppError(
            'invalid_request',
            `products.${i}.prices.${j}.extra_metadata.entitlements.${index}.tier: tier "${tier}" is not in the file or the catalog`,
          );
        }
      }
    });
  });
}

const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);

/** Field-by-field differences: the names of the fields whose desired value differs. */
function changes<T extends Record<string, unknown>>(current: T, desired: T): Array<keyof T & string> {
  return (Object.keys(desired) as Array<keyof T & string>).filter((k) => !same(current[k], desired[k]));
}

class Pusher {
  private tiers: TierRow[] = [];
  private readonly stripeIndex: StripeIndex | null;
  private readonly asOf: Date;

  constructor(
    private readonly deps: SyncDeps,
    private readonly q: Queryable,
    private readonly result: PushResult,
  ) {
    this.stripeIndex = deps.stripe ? new StripeIndex(deps.stripe) : null;
    this.asOf = deps.wallClock.now();
  }

  private record(object: SyncAction['object'], kind: SyncAction['kind'], key: string, detail: string) {
    this.result.actions.push({ object, kind, key, detail });
    this.result.counts[object][kind]++;
  }

  /** Imports run in their own transaction on a push; a dry run is already inside one. */
  private inTx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.execute ? this.deps.db.transaction((tx) => fn(tx)) : fn(this.q);
  }

  private get execute() {
    return !this.result.dryRun;
  }

  private tierKey = (id: string | null) => (id ? (this.tiers.find((t) => t.id === id)?.key ?? null) : null);
  private tierId = (key: string | null | undefined) =>
    key ? (this.tiers.find((t) => t.key === key)?.id ?? null) : null;

  async run(file: CatalogFile) {
    for (const tier of file.tiers) await this.tier(tier);
    this.tiers = await listTiers(this.q);
    for (const product of file.products) await this.product(product);
  }

  private async tier(t: CatalogFile['tiers'][number]) {
    const current = (await listTiers(this.q)).find((x) => x.key === t.key);
    const desired = {
      name: t.name,
      description: t.description ?? null,
      rank: t.rank ?? 0,
      features: [...new Set(t.features ?? [])],
      limits: t.limits ?? {},
    };
    if (!current) {
      this.record('tier', 'create', t.key, `+ tier ${t.key} (${t.name})`);
      if (this.execute) await createTier(this.q, { key: t.key, ...desired });
      return;
    }
    const diff = changes(current as unknown as typeof desired, desired);
    if (!diff.length) return;
    this.record('tier', 'update', t.key, `~ tier ${t.key}: ${diff.join(', ')}`);
    if (this.execute)
      await updateTier(this.q, current.id, Object.fromEntries(diff.map((k) => [k, desired[k]])));
  }

  private productDesired(p: FileProductEntry) {
    return {
      name: p.name,
      description: p.description ?? null,
      product_type: p.product_type,
      tier: p.tier ?? null,
      grants_tier: p.grants_tier ?? null,
      credit_amount: p.credit_amount ?? null,
      credit_type: p.credit_amount ? (p.credit_type ?? null) : null,
      feature_access: p.feature_access?.length ? [...new Set(p.feature_access)] : null,
      access_duration_days: p.access_duration_days ?? null,
      requires_subscription: p.requires_subscription ?? false,
      requires_tier: p.requires_tier ?? null,
      is_active: p.active ?? true,
    };
  }

  private productCurrent(row: ProductRow): ReturnType<Pusher['productDesired']> {
    return {
      name: row.name,
      description: row.description,
      product_type: row.productType,
      tier: this.tierKey(row.tierId),
      grants_tier: this.tierKey(row.grantsTierId),
      credit_amount: row.creditAmount,
      credit_type: row.creditType,
      feature_access: row.featureAccess?.length ? row.featureAccess : null,
      access_duration_days: row.accessDurationDays,
      requires_subscription: row.requiresSubscription,
      requires_tier: this.tierKey(row.requiresTierId),
      is_active: row.isActive,
    };
  }

  private toInput(d: ReturnType<Pusher['productDesired']>): Omit<ProductInput, 'local_only'> {
    const { tier, grants_tier, requires_tier, ...rest } = d;
    return {
      ...rest,
      tier_id: this.tierId(tier),
      grants_tier_id: this.tierId(grants_tier),
      requires_tier_id: this.tierId(requires_tier),
    };
  }

  private async product(p: FileProductEntry) {
    let row = await findProductByKey(this.q, p.key);
    if (!row && this.stripeIndex) {
      const sp = await this.stripeIndex.productByKey(p.key);
      if (sp) {
        this.record('product', 'import', p.key, `< product ${p.key}: import ${sp.id} from Stripe`);
        await this.inTx((q) => mirrorProduct(q, sp, this.asOf));
        row = await findProductByKey(this.q, p.key);
      }
    }
    const desired = this.productDesired(p);
    if (!row) {
      this.record('product', 'create', p.key, `+ product ${p.key} (${p.name}, ${p.product_type})`);
      if (!this.execute) {
        for (const price of p.prices) this.recordPriceCreate(p, price);
        return;
      }
      row = await createProduct(this.deps, {
        key: p.key,
        ...this.toInput(desired),
        local_only: !this.deps.stripe,
      });
    } else {
      const diff = changes(this.productCurrent(row), desired);
      if (diff.length) {
        const archiving = diff.length === 1 && diff[0] === 'is_active' && !desired.is_active;
        this.record(
          'product',
          archiving ? 'archive' : 'update',
          p.key,
          `~ product ${p.key}: ${diff.join(', ')}`,
        );
        if (this.execute) row = await updateProduct(this.deps, row.id, this.toInput(desired));
      }
    }
    for (const price of p.prices) await this.price(p, row, price);
  }

  private recordPriceCreate(p: FileProductEntry, x: FilePriceEntry) {
    const every = x.billing_interval
      ? ` / ${(x.billing_interval_count ?? 1) > 1 ? `${x.billing_interval_count} ` : ''}${x.billing_interval}`
      : '';
    this.record(
      'price',
      'create',
      x.lookup_key,
      `+ price ${x.lookup_key} (${p.key}): ${formatMoney(x.unit_amount, x.currency)}${every}`,
    );
  }

  private priceDesired(p: FileProductEntry, product: ProductRow, x: FilePriceEntry) {
    const interval = x.billing_interval ?? null;
    const conveniences = {
      creditAmount: p.credit_amount ?? null,
      creditType: p.credit_amount ? (p.credit_type ?? null) : null,
      grantsTierId: p.grants_tier ?? null, // a key here: tierKeyOf below is the identity
      featureAccess: p.feature_access?.length ? p.feature_access : null,
      accessDurationDays: p.access_duration_days ?? null,
    };
    return {
      immutable: {
        product_id: product.id,
        unit_amount: x.unit_amount,
        currency: x.currency,
        price_type: x.price_type,
        billing_interval: interval,
        billing_interval_count: interval ? (x.billing_interval_count ?? 1) : null,
      },
      mutable: {
        trial_period_days: x.trial_period_days ?? null,
        nickname: x.nickname ?? null,
        extra_metadata: withConveniences(
          x.extra_metadata ?? EMPTY_GRANTS,
          conveniences,
          (k) => k,
          !!interval,
        ),
        is_active: x.active ?? true,
      },
    };
  }

  private async price(p: FileProductEntry, product: ProductRow, x: FilePriceEntry) {
    let row = await findPriceByLookupKey(this.q, x.lookup_key);
    if (!row && this.stripeIndex) {
      const sp = await this.stripeIndex.priceByLookupKey(x.lookup_key);
      if (sp) {
        this.record('price', 'import', x.lookup_key, `< price ${x.lookup_key}: import ${sp.id} from Stripe`);
        await this.inTx(async (q) => {
          if (typeof sp.product === 'object') await mirrorProduct(q, sp.product as Stripe.Product, this.asOf);
          await mirrorPrice(q, sp, this.asOf);
        });
        row = await findPriceByLookupKey(this.q, x.lookup_key);
      }
    }
    const desired = this.priceDesired(p, product, x);
    if (!row) {
      this.recordPriceCreate(p, x);
      if (this.execute) {
        await createPrice(this.deps, {
          ...desired.immutable,
          ...desired.mutable,
          extra_metadata: x.extra_metadata ?? EMPTY_GRANTS, // the service adds the product's conveniences
          lookup_key: x.lookup_key,
          local_only: !product.stripeProductId,
          transfer_lookup_key: true,
        });
      }
      return;
    }
    const current = priceCurrent(row);
    const fixed = changes(current.immutable, desired.immutable);
    const mutable = changes(current.mutable, desired.mutable);
    if (fixed.length) {
      const moving = fixed.includes('product_id');
      this.record(
        'price',
        'replace',
        x.lookup_key,
        `± price ${x.lookup_key}: ${fixed.join(', ')} changed (a new price; the old one is archived)`,
      );
      if (!this.execute) return;
      const { product_id: _p, ...immutable } = desired.immutable;
      if (moving) {
        await archivePrice(this.deps, row.id);
        await createPrice(this.deps, {
          ...desired.immutable,
          ...desired.mutable,
          lookup_key: x.lookup_key,
          local_only: !product.stripeProductId,
          transfer_lookup_key: true,
        });
      } else {
        await updatePrice(this.deps, row.id, { ...immutable, ...desired.mutable, transfer_lookup_key: true });
      }
      return;
    }
    if (!mutable.length) return;
    const archiving = mutable.length === 1 && mutable[0] === 'is_active' && !desired.mutable.is_active;
    this.record(
      'price',
      archiving ? 'archive' : 'update',
      x.lookup_key,
      `~ price ${x.lookup_key}: ${mutable.join(', ')}`,
    );
    if (this.execute) {
      await updatePrice(this.deps, row.id, Object.fromEntries(mutable.map((k) => [k, desired.mutable[k]])));
    }
  }
}

function priceCurrent(row: PriceRow) {
  return {
    immutable: {
      product_id: row.productId,
      unit_amount: row.unitAmount,
      currency: row.currency,
      price_type: row.priceType,
      billing_interval: row.billingInterval,
      billing_interval_count: row.billingInterval ? row.billingIntervalCount : null,
    },
    mutable: {
      trial_period_days: row.trialPeriodDays,
      nickname: row.nickname,
      extra_metadata: row.extraMetadata,
      is_active: row.isActive,
    },
  };
}
