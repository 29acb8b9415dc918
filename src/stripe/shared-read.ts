import type Stripe from 'stripe';
import type { Deps } from '../deps';
import { requireStripe } from './client';

/**
 * Single-flight Stripe re-reads for the webhook handlers (their `prepare`, SPEC section 10): deliveries
 * about the same object that are in flight together (a checkout's session, subscription and invoice
 * events arrive within milliseconds of each other) share one read instead of each paying for its own.
 *
 * The rule: a delivery may take the result of a read already in flight only if that read STARTED AFTER
 * the delivery ARRIVED. Stripe applies a change before it sends the event about it, so a read started
 * after the event reached us sees at least that change: it is as good as a read of the delivery's own.
 * A read started before the arrival may predate the change; the delivery starts a new read instead, and
 * that newer read is the one later arrivals join. Nothing is kept once a read settles (no cache): only
 * reads still in flight are shared, and a failed read fails every sharer (each answers 500 and Stripe
 * retries, as with a read of its own).
 *
 * Ordering uses the monotonic clock of this process (`performance.now()`), which wall-clock steps cannot
 * reorder; the watermark handed to the handlers (`asOf`) is the wall time the read started, the same for
 * every sharer, since that is the moment the shared result is known to be at least as new as.
 */

/** A moment on this process's monotonic clock (`performance.now()`). */
export type Moment = number;

/** One Stripe read, possibly shared: its result, and the wall time it started (the watermark). */
export interface Reread<T> {
  value: Promise<T>;
  asOf: Date;
}

interface Flight {
  startedAt: Moment;
  read: Reread<unknown>;
}

// Per Stripe client (so per app instance): reads of one client are never shared with another's.
const inFlight = new WeakMap<Stripe, Map<string, Flight>>();

/**
 * `read()` for `key`, or the result of a read of the same key that started after `arrivedAt` and is
 * still in flight. `key` names the resource, the id and any request options (expand) that shape the
 * result. Without `arrivedAt` (a caller outside webhook processing) the call itself is the arrival.
 * Sharers get the same object: handlers treat Stripe objects as read-only.
 */
export function sharedRead<T>(
  deps: Pick<Deps, 'wallClock'>,
  stripe: Stripe,
  key: string,
  arrivedAt: Moment | undefined,
  read: () => Promise<T>,
): Reread<T> {
  let flights = inFlight.get(stripe);
  if (!flights) {
    flights = new Map();
    inFlight.set(stripe, flights);
  }
  const current = flights.get(key);
  if (current && arrivedAt !== undefined && current.startedAt > arrivedAt) return current.read as Reread<T>;
  return start(deps, flights, key, read);
}

function start<T>(
  deps: Pick<Deps, 'wallClock'>,
  flights: Map<string, Flight>,
  key: string,
  read: () => Promise<T>,
): Reread<T> {
  const startedAt = performance.now();
  const asOf = deps.wallClock.now();
  const value = read();
  const flight: Flight = { startedAt, read: { value, asOf } };
  flights.set(key, flight);
  // Forgotten on settle, unless a newer read of the key already took its place. `then(f, f)` rather than
  // `finally`: a derived promise that rejects would be an unhandled rejection of its own.
  const forget = () => {
    if (flights.get(key) === flight) flights.delete(key);
  };
  value.then(forget, forget);
  return { value, asOf };
}

// The re-reads of the handlers' hot path. The key carries every option that shapes the result.

export function readSubscription(deps: Pick<Deps, 'stripe' | 'wallClock'>, id: string, arrivedAt?: Moment) {
  const stripe = requireStripe(deps);
  return sharedRead(deps, stripe, `subscription:${id}`, arrivedAt, () => stripe.subscriptions.retrieve(id));
}

/** With its payments (not in the payload: the payment intent refunds and disputes are matched on). */
export function readInvoice(deps: Pick<Deps, 'stripe' | 'wallClock'>, id: string, arrivedAt?: Moment) {
  const stripe = requireStripe(deps);
  return sharedRead(deps, stripe, `invoice:${id}?expand=payments`, arrivedAt, () =>
    stripe.invoices.retrieve(id, { expand: ['payments'] }),
  );
}

export function readCheckoutSession(
  deps: Pick<Deps, 'stripe' | 'wallClock'>,
  id: string,
  arrivedAt?: Moment,
) {
  const stripe = requireStripe(deps);
  return sharedRead(deps, stripe, `checkout_session:${id}`, arrivedAt, () =>
    stripe.checkout.sessions.retrieve(id),
  );
}

export function readProduct(deps: Pick<Deps, 'stripe' | 'wallClock'>, id: string, arrivedAt?: Moment) {
  const stripe = requireStripe(deps);
  return sharedRead(deps, stripe, `product:${id}`, arrivedAt, () => stripe.products.retrieve(id));
}

/** With its product expanded (a new price may bring a product not mirrored yet). */
export function readPrice(deps: Pick<Deps, 'stripe' | 'wallClock'>, id: string, arrivedAt?: Moment) {
  const stripe = requireStripe(deps);
  return sharedRead(deps, stripe, `price:${id}?expand=product`, arrivedAt, () =>
    stripe.prices.retrieve(id, { expand: ['product'] }),
  );
}
