import { AsyncLocalStorage } from 'node:async_hooks';
import type { EmulatorClock } from './clock';
import type { FaultState } from './faults';
import type { IdempotencyStore } from './idempotency';
import type { Mutex } from './lock';
import type { Store } from './store';
import type { WebhookDispatcher } from './webhooks';

export const API_VERSION = '2026-10-28.endive';

export interface EmulatorLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
}

/** What the current API request is, for `event.request` (set by the router, read by emitEvent). */
export interface RequestInfo {
  requestId: string;
  idempotencyKey: string | null;
}

/**
 * Everything a resource handler needs. One per emulator instance; passed explicitly (no singletons),
 * so several emulators can run in one process (tests do).
 */
export interface EmulatorContext {
  store: Store;
  clock: EmulatorClock;
  /** The state lock (see lock.ts). API handlers already run inside it. */
  lock: Mutex;
  webhooks: WebhookDispatcher;
  faults: FaultState;
  idempotency: IdempotencyStore;
  logger: EmulatorLogger;
  /** Public base URL of this emulator (`http://127.0.0.1:12111`), set once listening. */
  baseUrl: string;
  /** Signing secret for the `forwardTo` target (stable across restarts with a data file). */
  forwardSecret: string;
  forwardTo: string | null;
  requestInfo: AsyncLocalStorage<RequestInfo>;
  /** Ask for the state file to be written soon (debounced). No-op without a data file. */
  persistSoon(): void;
  /**
   * Hooks run by `POST /_emulator/reset` after the store was cleared, and by persistence on load,
   * so modules can reset private caches. Most modules keep everything in the store and need none.
   */
  resetHooks: Array<() => void>;
  /**
   * Expansion of fields that are not plain ids of stored objects, keyed `<object>.<field>`, e.g.
   * `checkout.session.line_items`. Called with the parent object (as served) when that path is expanded.
   */
  expanders: Map<string, (parent: Record<string, unknown>) => unknown>;
  /**
   * Cross-module reactions, run synchronously inside the lock. Billing pushes its handlers:
   * customerDeleted (cancel the customer's subscriptions), customerCardChanged (the control route
   * `POST /_emulator/customers/{id}/card` made `paymentMethodId` the default of the customer and of
   * each of its subscriptions: billing must update its own subscription records).
   */
  hooks: {
    customerDeleted: Array<(customerId: string) => void>;
    customerCardChanged: Array<(customerId: string, paymentMethodId: string) => void>;
  };
}

export function newRequestInfo(): AsyncLocalStorage<RequestInfo> {
  return new AsyncLocalStorage<RequestInfo>();
}
