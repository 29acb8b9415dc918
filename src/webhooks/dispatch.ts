import type { Deps } from '../deps';
import type { HandlerRegistry } from './handler';
import { billingHandlers } from './handlers/billing';
import priceCreated from './handlers/price.created';
import priceDeleted from './handlers/price.deleted';
import priceUpdated from './handlers/price.updated';
import productCreated from './handlers/product.created';
import productDeleted from './handlers/product.deleted';
import productUpdated from './handlers/product.updated';

/**
 * Event type -> handler: one file per type in handlers/. Types not listed here are stored and
 * acknowledged. Later capabilities add their handlers here.
 */
export const defaultHandlers: HandlerRegistry = {
  'product.created': productCreated,
  'product.updated': productUpdated,
  'product.deleted': productDeleted,
  'price.created': priceCreated,
  'price.updated': priceUpdated,
  'price.deleted': priceDeleted,
  ...billingHandlers,
};

// Test-only: a registry swapped in for one app's deps (a failing handler, a counting handler).
const overrides = new WeakMap<Deps, HandlerRegistry>();

/** Replaces the handlers used for `deps` (tests only); null restores the defaults. */
export function overrideHandlers(deps: Deps, registry: HandlerRegistry | null): void {
  if (registry) overrides.set(deps, registry);
  else overrides.delete(deps);
}

export const handlersFor = (deps: Deps): HandlerRegistry => overrides.get(deps) ?? defaultHandlers;
