import { createHmac } from 'node:crypto';

/**
 * Stripe's webhook signature: HMAC-SHA256 keyed with the whole `whsec_...` string over `"<t>.<body>"`.
 * `t` is always wall-clock seconds (never the emulator clock), so advancing the clock by months never
 * makes a delivery look stale to `constructEvent`'s 300 s tolerance.
 */
export function signPayload(
  body: string,
  secret: string,
  wallSeconds = Math.floor(Date.now() / 1000),
): string {
  const v1 = createHmac('sha256', secret).update(`${wallSeconds}.${body}`, 'utf8').digest('hex');
  return `t=${wallSeconds},v1=${v1}`;
}
