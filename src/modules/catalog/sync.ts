import type Stripe from 'stripe';
import type { Queryable } from '../../db/client';
import type { Deps } from '../../deps';
import { listAll, requireStripe } from '../../stripe/client';
import { mirrorPrice, mirrorProduct } from './mirror';

export { type PushResult, type SyncAction, diffCatalog, pushCatalog } from './push';

/**
 * Catalog sync, library functions taking deps (the CLI and start-up call them):
 * - pullCatalog: Stripe -> local, every product and price (active or not), matched on Stripe ids,
 *   grants read back from price metadata;
 * - pushCatalog / diffCatalog (push.ts): a catalog file -> Stripe and local, idempotent on keys.
 */
export type SyncDeps = Pick<Deps, 'db' | 'stripe' | 'wallClock' | 'logger'>;

export interface Counts {
  created: number;
  updated: number;
  unchanged: number;
  skipped: number;
}

export interface PullResult {
  products: Counts;
  prices: Counts;
  warnings: string[];
}

export type Progress = (phase: 'products' | 'prices', done: number, total: number) => void;

const zero = (): Counts => ({ created: 0, updated: 0, unchanged: 0, skipped: 0 });

function tally(counts: Counts, outcome: { id: string | null; created: boolean; updated: boolean }) {
  if (!outcome.id) counts.skipped++;
  else if (outcome.created) counts.created++;
  else if (outcome.updated) counts.updated++;
  else counts.unchanged++;
}

/** Imports every Stripe product and price into the local catalog; a second pull creates nothing. */
export async function pullCatalog(deps: SyncDeps, opts: { onProgress?: Progress } = {}): Promise<PullResult> {
  const stripe = requireStripe(deps);
  const result: PullResult = { products: zero(), prices: zero(), warnings: [] };
  const asOf = deps.wallClock.now();
  const productList = await listAll(stripe.products.list({ limit: 100 }));
  await mirrorAll(deps, productList, 'products', result.products, result.warnings, opts.onProgress, (q, p) =>
    mirrorProduct(q, p, asOf),
  );
  const priceList = await listAll(stripe.prices.list({ limit: 100 }));
  await mirrorAll(deps, priceList, 'prices', result.prices, result.warnings, opts.onProgress, (q, p) =>
    mirrorPrice(q, p, asOf),
  );
  for (const w of result.warnings) deps.logger.warn(w);
  return result;
}

async function mirrorAll<T extends Stripe.Product | Stripe.Price>(
  deps: SyncDeps,
  items: T[],
  phase: 'products' | 'prices',
  counts: Counts,
  warnings: string[],
  onProgress: Progress | undefined,
  mirror: (q: Queryable, item: T) => ReturnType<typeof mirrorPrice>,
) {
  onProgress?.(phase, 0, items.length);
  let done = 0;
  // Oldest first, so that a price's lookup key ends up on the newest holder.
  for (const item of [...items].sort((a, b) => a.created - b.created)) {
    const outcome = await deps.db.transaction((tx) => mirror(tx, item));
    tally(counts, outcome);
    warnings.push(...outcome.warnings);
    onProgress?.(phase, ++done, items.length);
  }
}
