import type { Db, Tx } from '../../db/client';
import type { Deps } from '../../deps';
import type { PriceRow } from '../catalog/catalog.tables';
import { grantsOfPrice } from '../catalog/catalog.service';
import type { EntitlementItem } from '../catalog/grants';

/**
 * A subscription price's grant items fall in two kinds:
 * - access items (a tier, a feature, a product: no quantity, no duration) are held while the
 *   subscription is entitled, granted once per (subscription, price) and revoked when it leaves the price;
 * - period items (credit grants and anything with a quantity or a duration) are granted per paid period.
 */
export const isPeriodItem = (it: EntitlementItem): boolean => {
  const r = it as { quantity?: number | null; duration_days?: number | null };
  return it.type === 'credit_grant' || r.quantity != null || r.duration_days != null;
};

export type PriceLike = Pick<PriceRow, 'id' | 'version' | 'extraMetadata'>;

export function withItems(price: PriceLike, keep: (it: EntitlementItem) => boolean): PriceLike {
  return {
    id: price.id,
    version: price.version,
    extraMetadata: { entitlements: grantsOfPrice(price).filter(keep) },
  };
}

export const accessItemsOf = (price: PriceLike) => withItems(price, (it) => !isPeriodItem(it));
export const periodItemsOf = (price: PriceLike) => withItems(price, isPeriodItem);

/** Credit allowance per credit type of one period of a price. */
export function creditAllowancesOf(price: PriceLike): Map<string, number> {
  const out = new Map<string, number>();
  for (const it of grantsOfPrice(price)) {
    if (it.type !== 'credit_grant') continue;
    const ct = (it as { credit_type: string }).credit_type;
    out.set(ct, (out.get(ct) ?? 0) + ((it as { quantity: number }).quantity ?? 0));
  }
  return out;
}

/**
 * Dependencies whose `db` is the open transaction: services that read through `deps.db` (a tier check,
 * the tier table) then stay inside it (on PGlite a second connection would wait for this transaction).
 */
export const inTx = (deps: Deps, tx: Tx): Deps => ({ ...deps, db: tx as unknown as Db });
