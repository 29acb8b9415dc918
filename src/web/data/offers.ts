import type { Queryable } from '../../db/client';
import { grantsOfPrice, listPrices, listProducts, listTiers } from '../../modules/catalog/catalog.service';
import type { PriceRow, ProductRow, TierRow } from '../../modules/catalog/catalog.tables';
import { count, creditTypeLabel, featureLabel } from '../format';

/** One thing a person can buy, as the pricing, billing and try pages show it. */
export interface Offer {
  priceId: string;
  lookupKey: string | null;
  productId: string;
  productName: string;
  productDescription: string | null;
  productType: ProductRow['productType'];
  nickname: string | null;
  amount: number;
  currency: string;
  interval: string | null;
  intervalCount: number;
  recurring: boolean;
  trialDays: number | null;
  /** The tier the plan puts the buyer on, if any (its features are listed). */
  tier: TierRow | null;
  /** Sentences: what buying it grants. */
  highlights: string[];
}

function highlightsOf(
  price: PriceRow,
  tiersByKey: Map<string, TierRow>,
): { tier: TierRow | null; lines: string[] } {
  const lines: string[] = [];
  let tier: TierRow | null = null;
  const n = price.billingIntervalCount ?? 1;
  const every = price.billingInterval
    ? ` every ${n > 1 ? `${n} ${price.billingInterval}s` : price.billingInterval}`
    : '';
  for (const item of grantsOfPrice(price)) {
    switch (item.type) {
      case 'credit_grant':
        lines.push(`${count(item.quantity)} ${creditTypeLabel(item.credit_type)}${every}`);
        break;
      case 'tier_access':
      case 'subscription': {
        const t = item.tier ? tiersByKey.get(item.tier) : undefined;
        if (t && (!tier || t.rank > tier.rank)) tier = t;
        break;
      }
      case 'feature_unlock':
      case 'usage_allowance':
      case 'api_access':
        if (item.feature) {
          const qty = item.type === 'usage_allowance' ? `${count(item.quantity)} × ` : '';
          const days = item.duration_days ? ` for ${item.duration_days} days` : '';
          lines.push(`${qty}${featureLabel(item.feature)}${days}`);
        } else if (item.type === 'api_access') lines.push('API access');
        break;
      case 'temporary_access':
        lines.push(
          `${item.tier ? (tiersByKey.get(item.tier)?.name ?? item.tier) : featureLabel(item.feature ?? '')} for ${item.duration_days} days`,
        );
        break;
      case 'product_access':
        lines.push('Product access');
        break;
    }
  }
  if (tier) lines.unshift(...tier.features.map((f) => featureLabel(f)));
  return { tier, lines };
}

export interface OfferCatalog {
  tiers: TierRow[];
  /** Recurring prices (plans), cheapest tier first. */
  plans: Offer[];
  /** One-time purchases: credit packs, add-ons, lifetime deals. */
  extras: Offer[];
  byPriceId: Map<string, Offer>;
}

/** The active catalog, through the catalog service, shaped for pages. */
export async function loadOffers(db: Queryable): Promise<OfferCatalog> {
  const [tiers, products, prices] = await Promise.all([listTiers(db), listProducts(db), listPrices(db)]);
  const tiersByKey = new Map(tiers.map((t) => [t.key, t]));
  const productById = new Map(products.map((p) => [p.id, p]));
  const offers: Offer[] = [];
  for (const price of prices) {
    const product = productById.get(price.productId);
    if (!product) continue; // an active price of an archived product is not for sale
    const { tier, lines } = highlightsOf(price, tiersByKey);
    const productTier = product.tierId ? (tiers.find((t) => t.id === product.tierId) ?? null) : null;
    offers.push({
      priceId: price.id,
      lookupKey: price.lookupKey,
      productId: product.id,
      productName: product.name,
      productDescription: product.description,
      productType: product.productType,
      nickname: price.nickname,
      amount: price.unitAmount,
      currency: price.currency,
      interval: price.billingInterval,
      intervalCount: price.billingIntervalCount ?? 1,
      recurring: price.priceType === 'recurring' || !!price.billingInterval,
      trialDays: price.trialPeriodDays,
      tier: tier ?? productTier,
      highlights: lines,
    });
  }
  const rank = (o: Offer) => o.tier?.rank ?? 0;
  const plans = offers.filter((o) => o.recurring).sort((a, b) => rank(a) - rank(b) || a.amount - b.amount);
  const extras = offers.filter((o) => !o.recurring).sort((a, b) => a.amount - b.amount);
  return { tiers, plans, extras, byPriceId: new Map(offers.map((o) => [o.priceId, o])) };
}

/** "Pro · monthly" style label of an offer (product name plus the price's nickname when it adds something). */
export function offerLabel(o: Offer): string {
  if (o.nickname && o.nickname !== o.productName) return o.nickname;
  return o.productName;
}
