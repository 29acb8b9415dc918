import type Stripe from 'stripe';
import {
  archiveStripePrice,
  archiveStripeProduct,
  mirrorPrice,
  mirrorProduct,
} from '../../modules/catalog/catalog.service';
import { CATALOG_LOCK_SQL, type ProductOutcome } from '../../modules/catalog/mirror';
import { priceGuard, productGuard } from '../../modules/catalog/mirror-guard';
import { defineHandler } from '../handler';
import { type Fresh, freshPrice, freshProduct } from './catalog-fetch';

/**
 * The catalog lock every mirror write takes first (mirror.ts) travels with the handler transaction's
 * BEGIN (`openWith`): one round trip fewer per catalog event.
 */
const locked = { catalogLocked: true };

/**
 * A re-read that finds the product or price as the local row has it (a redelivery, an edit of a field
 * Paywire does not mirror) travels as a guarded raise of its watermark (mirror-guard.ts): the catalog lock,
 * the raise and the mark in one round trip, instead of reading and locking the rows first. When the row
 * differs, nothing is written and `apply` mirrors it.
 */
const guardedProduct = (product: Stripe.Product | Stripe.DeletedProduct, asOf: Date) =>
  'deleted' in product && product.deleted ? null : productGuard(product as Stripe.Product, asOf);

/** product.created / product.updated: mirror the product as Stripe has it now. */
export const productSync = defineHandler<Fresh<Stripe.Product>>({
  prepare: (event, deps, context) => freshProduct(event, deps, context?.arrivedAt),
  openWith: CATALOG_LOCK_SQL,
  guarded(_event, fresh) {
    const guard = fresh.object && guardedProduct(fresh.object, fresh.asOf);
    return guard ? [guard] : null;
  },
  async apply(tx, event, fresh, deps) {
    const id = (event.data.object as Stripe.Product).id;
    if (!fresh.object) {
      await archiveStripeProduct(tx, id, fresh.asOf);
      return;
    }
    const outcome = await mirrorProduct(tx, fresh.object, fresh.asOf, locked);
    for (const w of outcome.warnings) deps.logger.warn({ event: event.id }, w);
  },
});

/** price.created / price.updated: mirror the price (and its product, when new) as Stripe has them now. */
export const priceSync = defineHandler<Fresh<Stripe.Price>>({
  prepare: (event, deps, context) => freshPrice(event, deps, context?.arrivedAt),
  openWith: CATALOG_LOCK_SQL,
  guarded(_event, fresh) {
    const price = fresh.object;
    if (!price) return null;
    // The price's product, when the read expanded it, is mirrored first by `apply`: guarded too.
    const product =
      typeof price.product === 'object' && price.product ? guardedProduct(price.product, fresh.asOf) : '';
    const guard = priceGuard(price, fresh.asOf);
    if (product === null || !guard) return null;
    return product ? [product, guard] : [guard];
  },
  async apply(tx, event, fresh, deps) {
    const id = (event.data.object as Stripe.Price).id;
    const price = fresh.object;
    if (!price) {
      await archiveStripePrice(tx, id, fresh.asOf);
      return;
    }
    const product = price.product;
    let mirrored: ProductOutcome | undefined;
    if (typeof product === 'object' && product && !('deleted' in product && product.deleted)) {
      mirrored = await mirrorProduct(tx, product as Stripe.Product, fresh.asOf, locked);
      for (const w of mirrored.warnings) deps.logger.warn({ event: event.id }, w);
    }
    const outcome = await mirrorPrice(tx, price, fresh.asOf, mirrored, locked);
    for (const w of outcome.warnings) deps.logger.warn({ event: event.id }, w);
  },
});
