import type { Db } from '../../db/client';
import type { Deps } from '../../deps';
import { requireStripe } from '../../stripe/client';
import { type PullResult, pullCatalog } from '../catalog/sync';
import { catchUpEvents, type EventsResult } from './events';
import {
  syncCharges,
  syncCheckouts,
  syncCustomers,
  syncDisputes,
  syncInvoices,
  syncSubscriptions,
} from './objects';
import { readOnlyStripe } from './read-only-stripe';
import type { ObjectCounts, Progress, SyncFailure } from './sync.types';

export type { Progress, SyncPhase } from './sync.types';

export interface SyncOptions {
  /** Compute everything inside one transaction that is rolled back, with Stripe read-only. */
  dryRun?: boolean;
  onProgress?: Progress;
  /** List events created since then instead of since the stored cursor (null: all Stripe keeps). */
  since?: Date | null;
}

export interface SyncSummary {
  dry_run: boolean;
  catalog: Pick<PullResult, 'products' | 'prices'>;
  customers: ObjectCounts;
  events: EventsResult;
  subscriptions: ObjectCounts;
  checkouts: ObjectCounts;
  invoices: ObjectCounts;
  charges: ObjectCounts;
  disputes: ObjectCounts;
  /** Everything this run changed (or, in a dry run, would have): 0 when local state was converged. */
  changes: number;
  failures: SyncFailure[];
  warnings: string[];
}

class RollBack extends Error {}

/**
 * `paywire sync`: brings local state to what Stripe says, after a webhook outage or on first install
 * against an existing account. In order:
 * 1. the catalog (products, prices: `pullCatalog`);
 * 2. customers linked to users (the link, metadata.user_id, or the email);
 * 3. Stripe's events since the stored cursor, oldest first, through the inbox and handlers exactly as if
 *    delivered (missed events are applied once; ones already handled are no-ops by id);
 * 4. object re-reads for what no listed event covers: subscriptions, pending checkouts, invoices,
 *    refunded charges, disputes - through the same handlers, skipped when already consistent.
 * A second run right after changes nothing. Safe while instances serve traffic (the same locks as
 * concurrent webhook deliveries).
 */
export async function syncFromStripe(deps: Deps, opts: SyncOptions = {}): Promise<SyncSummary> {
  const stripe = requireStripe(deps);
  if (!opts.dryRun) return run(deps, opts);
  let summary: SyncSummary | undefined;
  try {
    await deps.db.transaction(async (tx) => {
      // Everything, nested transactions included (savepoints), happens in this one and is undone.
      summary = await run({ ...deps, db: tx as unknown as Db, stripe: readOnlyStripe(stripe) }, opts);
      throw new RollBack();
    });
  } catch (err) {
    if (!(err instanceof RollBack)) throw err;
  }
  return { ...summary!, dry_run: true };
}

async function run(deps: Deps, opts: SyncOptions): Promise<SyncSummary> {
  const failures: SyncFailure[] = [];
  const progress = opts.onProgress;
  const catalog = await pullCatalog(deps, { onProgress: progress });
  const customers = await syncCustomers(deps, failures, progress);
  const events = await catchUpEvents(deps, { since: opts.since, onProgress: progress });
  const subscriptions = await syncSubscriptions(deps, failures, progress);
  const checkouts = await syncCheckouts(deps, failures, progress);
  const invoices = await syncInvoices(deps, failures, progress);
  const charges = await syncCharges(deps, failures, progress);
  const disputes = await syncDisputes(deps, failures, progress);
  const objects = [customers, subscriptions, checkouts, invoices, charges, disputes];
  const changes =
    catalog.products.created +
    catalog.products.updated +
    catalog.prices.created +
    catalog.prices.updated +
    events.processed +
    objects.reduce((n, c) => n + c.changed, 0);
  deps.logger.info({ changes, failures: failures.length, events: events.listed }, 'stripe sync finished');
  return {
    dry_run: false,
    catalog: { products: catalog.products, prices: catalog.prices },
    customers,
    events,
    subscriptions,
    checkouts,
    invoices,
    charges,
    disputes,
    changes,
    failures,
    warnings: catalog.warnings,
  };
}
