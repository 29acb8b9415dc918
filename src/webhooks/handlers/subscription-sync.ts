import type Stripe from 'stripe';
import type { Deps } from '../../deps';
import { eventWatermarkOf, syncSubscription } from '../../modules/subscriptions/subscriptions.service';
import { defineHandler, NOTHING_TO_APPLY } from '../handler';
import { type FreshSubscription, freshSubscription } from './billing-fetch';

/**
 * How much earlier than a subscription's event watermark an event must have been created to count as
 * covered: `created` is in whole seconds, and Stripe's servers stamp events by their own clocks.
 */
export const EVENT_WATERMARK_MARGIN_MS = 2_000;

interface Prepared extends FreshSubscription {
  /** The event's `created`, when it can raise the watermark (no test clock). */
  created: Date | null;
}

/**
 * Every customer.subscription.* event: the subscription as Stripe has it now (never the payload, which
 * may be older than what was applied), applied under the watermark. A late `updated` therefore cannot
 * bring back a canceled subscription.
 *
 * An event already covered by a later one is not re-read (SPEC section 10: "or compare a monotonic
 * watermark"). The row keeps the newest `created` of the events whose re-read it was written from; that
 * re-read started after its event arrived, so after that event's change, and so after the change of any
 * event created more than EVENT_WATERMARK_MARGIN_MS before it - which the row therefore already holds
 * (the read watermark only moves forward). Such an event is acknowledged with no Stripe read and no
 * write: a new delivery is stored handled by the inbox INSERT itself (`settledBy`, src/webhooks/settled.ts),
 * any other way in (a copy, a retry, a replay) costs one indexed read. Both times are Stripe's `created`, one
 * clock; a subscription on a test clock (whose events carry the clock's simulated time) and `paywire
 * sync`'s stand-in events (dated by this server's clock) neither use nor raise the watermark.
 */
export const subscriptionSync = defineHandler<Prepared>({
  // A new delivery already covered is settled by the inbox INSERT (`subscription_watermark`, settled.ts).
  settledBy(event) {
    const payload = event.data.object as Stripe.Subscription;
    if (!onStripeClock(event, payload)) return null;
    return {
      check: 'subscription_watermark',
      key: payload.id,
      after: new Date(event.created * 1000 + EVENT_WATERMARK_MARGIN_MS),
    };
  },
  async prepare(event, deps, context) {
    const payload = event.data.object as Stripe.Subscription;
    const created = onStripeClock(event, payload) ? new Date(event.created * 1000) : null;
    if (created && !context?.settledChecked && (await coveredByLaterEvent(deps, payload.id, created))) {
      return NOTHING_TO_APPLY;
    }
    return { ...(await freshSubscription(deps, payload.id, context?.arrivedAt)), created };
  },
  async apply(tx, _event, fresh, deps) {
    if (fresh.sub) {
      await syncSubscription(deps, tx, fresh.sub, fresh.asOf, { eventCreated: fresh.created ?? undefined });
    }
  },
});

/**
 * Whether the event's `created` is Stripe's clock: an event Stripe sent (`evt_`, never `paywire sync`'s
 * stand-ins, dated by this server) about a subscription on no test clock.
 */
function onStripeClock(event: Stripe.Event, payload: Stripe.Subscription): boolean {
  return event.id.startsWith('evt_') && !payload.test_clock;
}

/** The TypeScript twin of the `subscription_watermark` check (src/webhooks/settled.ts). */
export async function coveredByLaterEvent(
  deps: Pick<Deps, 'db'>,
  stripeSubscriptionId: string,
  created: Date,
) {
  const watermark = await eventWatermarkOf(deps.db, stripeSubscriptionId);
  return !!watermark && created.getTime() + EVENT_WATERMARK_MARGIN_MS <= watermark.getTime();
}
