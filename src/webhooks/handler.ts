import type Stripe from 'stripe';
import type { Tx } from '../db/client';
import type { Deps } from '../deps';
import type { Moment } from '../stripe/shared-read';
import type { SettledProbe } from './settled';

/**
 * One webhook event type's work. `prepare` runs before any transaction opens and is where Stripe is
 * read (never inside the transaction); `apply` writes inside the inbox transaction that also marks
 * the event handled, so it must use `tx` only (on PGlite, a query on `deps.db` would wait forever).
 * `context` says when the delivery arrived, which decides whose in-flight Stripe reads it may share
 * (src/stripe/shared-read.ts); callers that do not pass it (`paywire sync`) share only reads started
 * after the call.
 */
export interface WebhookHandler<P = unknown> {
  /**
   * The SQL twin of the "already done" test behind prepare's NOTHING_TO_APPLY, for the inbox to run inside
   * the INSERT of a new delivery (src/webhooks/settled.ts): when it holds, the row goes in handled and the
   * delivery is answered with no prepare and no transaction. null: no check for this event.
   */
  settledBy?(event: Stripe.Event): SettledProbe | null;
  prepare?(event: Stripe.Event, deps: Deps, context?: PrepareContext): Promise<P | NothingToApply>;
  /**
   * A statement (SQL text without parameters: a lock) that `apply` needs first: the inbox runs it at the
   * start of the handler transaction, right after the inbox row lock - on PostgreSQL in the same round
   * trip as BEGIN and that lock - so `apply` can count on it having run.
   */
  openWith?: string;
  apply(tx: Tx, event: Stripe.Event, prepared: P, deps: Deps): Promise<void>;
  /**
   * The work as guarded writes, when `prepare`'s result allows: data-modifying statements (SQL text, values
   * inlined) that each return one row when their guard holds. The inbox sends them after the row lock and
   * `openWith`, with the mark, in one round trip (inbox-transaction.ts `markHandled`); the event is marked
   * only when every one returned its row, else `apply` runs as usual. A statement that matched while
   * another did not has been written, so each must, alone, write only what `apply` would write for its row.
   * null: `apply` (src/modules/catalog/mirror-guard.ts has the catalog's).
   */
  guarded?(event: Stripe.Event, prepared: P): string[] | null;
}

/**
 * What `prepare` returns when the event needs no work - its work is already done (a fulfilled checkout, a
 * paid invoice already recorded) or a later event covers it: `apply` is not called, and the inbox marks the
 * event handled without a handler transaction, in one round trip (src/webhooks/inbox.ts).
 */
export const NOTHING_TO_APPLY: unique symbol = Symbol('nothing to apply');
export type NothingToApply = typeof NOTHING_TO_APPLY;

/** What `prepare` learns about its delivery besides the event. */
export interface PrepareContext {
  /**
   * When the delivery arrived (the webhook route), or when processing started (replays, the retry job):
   * in-flight Stripe reads started after it may be shared.
   */
  arrivedAt: Moment;
  /**
   * The handler's `settledBy` check ran in the INSERT of this delivery and did not hold: `prepare` may skip
   * making the same test again (were it true by now, skipping costs only the work it would have saved).
   */
  settledChecked?: boolean;
}

/** Event type -> handler. */
// biome-ignore lint/suspicious/noExplicitAny: each handler has its own prepared type
export type HandlerRegistry = Readonly<Record<string, WebhookHandler<any>>>;

export const defineHandler = <P>(handler: WebhookHandler<P>): WebhookHandler<P> => handler;
