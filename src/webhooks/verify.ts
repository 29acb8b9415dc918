import type Stripe from 'stripe';
import type { Deps } from '../deps';
import { AppError } from '../lib/errors';
import { webhookVerifier } from '../stripe/client';

/** Stripe's default: a signature timestamp more than 5 minutes old is refused (replay protection). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * Verifies a webhook against every configured secret (several during a rotation) and returns the
 * event. The body must be the raw bytes as received. Any failure is a 400 and nothing is written.
 */
export async function verifyStripeEvent(
  deps: Pick<Deps, 'config' | 'stripe'>,
  rawBody: Buffer,
  signature: string | undefined,
): Promise<Stripe.Event> {
  const secrets = deps.config.webhookSecrets;
  if (!secrets.length) {
    throw new AppError('webhook_not_configured', 'No webhook secret is configured (STRIPE_WEBHOOK_SECRET)');
  }
  if (!signature) throw new AppError('invalid_request', 'Missing Stripe-Signature header');
  const webhooks = webhookVerifier(deps);
  let reason = 'signature mismatch';
  for (const secret of secrets) {
    try {
      const event = await webhooks.constructEventAsync(
        rawBody,
        signature,
        secret,
        SIGNATURE_TOLERANCE_SECONDS,
      );
      if (
        typeof event?.id !== 'string' ||
        typeof event.type !== 'string' ||
        typeof event.created !== 'number'
      ) {
        throw new AppError('invalid_request', 'The payload is not a Stripe event');
      }
      return event;
    } catch (err) {
      if (err instanceof AppError) throw err;
      const type = (err as { type?: string }).type;
      if (type !== 'StripeSignatureVerificationError') {
        // The signature matched but the body is not JSON.
        throw new AppError('invalid_request', 'Invalid webhook payload');
      }
      reason = (err as Error).message;
    }
  }
  throw new AppError('invalid_request', 'Webhook signature verification failed', {
    reason: /timestamp/i.test(reason) ? 'timestamp outside the tolerance zone' : 'no matching signature',
  });
}
