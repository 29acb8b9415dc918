import type Stripe from 'stripe';
import type { Tx } from '../db/client';
import type { Deps } from '../deps';

/**
 * One webhook event type's work. `prepare` runs before any transaction opens and is where Stripe is
 * read (never inside the transaction); `apply` writes inside the inbox transaction that also marks
 * the event handled, so it must use `tx` only (on PGlite, a query on `deps.db` would wait forever).
 */
export interface WebhookHandler<P = unknown> {
  prepare?(event: Stripe.Event, deps: Deps): Promise<P>;
  apply(tx: Tx, event: Stripe.Event, prepared: P, deps: Deps): Promise<void>;
}

/** Event type -> handler. */
// biome-ignore lint/suspicious/noExplicitAny: each handler has its own prepared type
export type HandlerRegistry = Readonly<Record<string, WebhookHandler<any>>>;

export const defineHandler = <P>(handler: WebhookHandler<P>): WebhookHandler<P> => handler;
