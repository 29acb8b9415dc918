import { REFUSAL_MESSAGES } from '../modules/discounts/discounts.rules';

/**
 * What a person reads for each API error code: one table shared by the server-rendered pages and the
 * browser scripts (served as /assets/messages.js), so no page ever shows an error envelope or raw JSON.
 */
export const MESSAGES: Record<string, string> = {
  invalid_request: 'Some of the information entered is not valid. Please check it and try again.',
  unauthorized: 'Please log in to continue.',
  wrong_credentials: 'That email and password do not match an account.',
  forbidden: 'You do not have permission to do that.',
  csrf_failed: 'This form has expired. Reload the page and try again.',
  not_found: 'We could not find that.',
  conflict: 'That conflicts with something that already exists.',
  email_taken: 'An account with this email already exists. Log in instead.',
  idempotency_conflict: 'This request was already sent.',
  payload_too_large: 'That is too much data to send at once.',
  rate_limited: 'Too many attempts. Please wait a moment and try again.',
  insufficient_credits: 'You do not have enough credits for this.',
  insufficient_quantity: 'You have used up this allowance.',
  card_declined: 'Your card was declined.',
  subscription_exists: 'You already have a subscription: this would change your plan.',
  no_subscription: 'You do not have an active subscription.',
  price_inactive: 'This plan is no longer available.',
  requirement_not_met: 'This purchase needs another plan first.',
  ...REFUSAL_MESSAGES,
  discount_not_found: 'We do not recognise this discount code.',
  stripe_error: 'The payment provider did not answer as expected. Please try again.',
  stripe_disabled: 'Payments are turned off on this server.',
  internal_error: 'Something went wrong on our side. Please try again.',
  not_ready: 'The service is starting up. Please try again in a moment.',
  // Made up by the browser scripts, not by the API:
  route_missing: 'This is not available on this server yet.',
  network: 'Could not reach the server. Check your connection and try again.',
  unexpected: 'Something unexpected happened. Please try again.',
};

/** A sentence for an error code; never the code itself or the API's technical message. */
export const messageFor = (code: string | undefined | null): string =>
  (code && MESSAGES[code]) || MESSAGES.unexpected!;
