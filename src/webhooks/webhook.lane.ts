import { isUtf8 } from 'node:buffer';
import type Stripe from 'stripe';
import type { Deps } from '../deps';
import { type BodyLane, laneError, singleHeader } from '../http/lanes';
import { receiveEvent } from './inbox';
import { verifyStripeEvent } from './verify';

/**
 * `POST /webhooks/stripe` as a lane (src/http/lanes.ts): the body read straight from Node's request, the
 * route's decisions on the way to its work - valid UTF-8 (the app's check on JSON bodies), a single
 * Stripe-Signature header that verifies - then the route's work (`receiveEvent`), answered as the route
 * answers it: 200 with the status, or the error of that work (409 while another copy is processed, 500
 * when the handler failed) as the app renders errors. A request with a credential or a cookie (the app
 * judges those first), a body it does not take, or a signature that does not verify (400, nothing written)
 * is left to the app from the start. On the webhook benchmark the lane saved about 15% of the app's CPU
 * per event without a handler and 7% on the mix (docs/benchmarks.md).
 */
export function webhookLane(deps: Deps, path: string): BodyLane {
  return {
    path,
    accepts: (req) => req.headers.authorization === undefined && req.headers.cookie === undefined,
    async answer(req, body, requestId) {
      if (!isUtf8(body)) return null;
      let event: Stripe.Event;
      try {
        event = await verifyStripeEvent(deps, body, singleHeader(req, 'stripe-signature'));
      } catch {
        return null;
      }
      const gauge = deps.metrics?.webhooksInFlight;
      gauge?.inc();
      try {
        return {
          status: 200,
          body: { received: true, status: await receiveEvent(deps, event, body.toString()) },
        };
      } catch (err) {
        return laneError(deps, err, requestId);
      } finally {
        gauge?.dec();
      }
    },
  };
}
