/**
 * Stripe's test cards. A card's behaviour decides what a charge does:
 * - ok: succeeds; dispute: succeeds, then a dispute opens (0259, pm_card_createDispute*);
 * - decline: every charge fails with `code`/`decline_code` (0341 too: attaching works, charging never);
 * - 3ds_always (3184): on-session charges pass after an automatic 3-D Secure approval (the emulator has
 *   no challenge page); off-session charges fail with `authentication_required` (requires_action);
 * - 3ds_setup (3155): authentication on setup/session is auto-approved; later off-session charges succeed.
 */
export type CardBehaviour =
  | { kind: 'ok' }
  | { kind: 'dispute'; reason: 'fraudulent' | 'general'; inquiry: boolean }
  | { kind: 'decline'; code: string; declineCode: string; message: string }
  | { kind: '3ds_always' }
  | { kind: '3ds_setup' };

export interface TestCard {
  number: string;
  brand: 'visa' | 'mastercard' | 'amex' | 'discover';
  funding: 'credit' | 'debit';
  country: string;
  behaviour: CardBehaviour;
}

const DECLINE_MESSAGES: Record<string, string> = {
  generic_decline: 'Your card was declined.',
  insufficient_funds: 'Your card has insufficient funds.',
  lost_card: 'Your card was declined.',
  stolen_card: 'Your card was declined.',
  expired_card: 'Your card has expired.',
  incorrect_cvc: "Your card's security code is incorrect.",
  processing_error: 'An error occurred while processing your card. Try again in a little bit.',
  fraudulent: 'Your card was declined.',
  authentication_required: 'Your card was declined. This transaction requires authentication.',
};

const decline = (code: string, declineCode: string): CardBehaviour => ({
  kind: 'decline',
  code,
  declineCode,
  message: DECLINE_MESSAGES[declineCode] ?? 'Your card was declined.',
});

const card = (
  number: string,
  behaviour: CardBehaviour,
  brand: TestCard['brand'] = 'visa',
  funding: TestCard['funding'] = 'credit',
): TestCard => ({ number, brand, funding, country: 'US', behaviour });

const OK: CardBehaviour = { kind: 'ok' };

export const TEST_CARDS: TestCard[] = [
  card('4242424242424242', OK),
  card('4000056655665556', OK, 'visa', 'debit'),
  card('5555555555554444', OK, 'mastercard'),
  card('2223003122003222', OK, 'mastercard'),
  card('5200828282828210', OK, 'mastercard', 'debit'),
  card('378282246310005', OK, 'amex'),
  card('6011111111111117', OK, 'discover'),
  card('4000000000000077', OK),
  card('4000000000000002', decline('card_declined', 'generic_decline')),
  card('4000000000009995', decline('card_declined', 'insufficient_funds')),
  card('4000000000009987', decline('card_declined', 'lost_card')),
  card('4000000000009979', decline('card_declined', 'stolen_card')),
  card('4100000000000019', decline('card_declined', 'fraudulent')),
  card('4000000000000069', decline('expired_card', 'expired_card')),
  card('4000000000000127', decline('incorrect_cvc', 'incorrect_cvc')),
  card('4000000000000119', decline('processing_error', 'processing_error')),
  card('4000000000000341', decline('card_declined', 'generic_decline')),
  card('4000000000000259', { kind: 'dispute', reason: 'fraudulent', inquiry: false }),
  card('4000000000001976', { kind: 'dispute', reason: 'general', inquiry: true }),
  card('4000002500003155', { kind: '3ds_setup' }),
  card('4000002760003184', { kind: '3ds_always' }),
  card('4000000000003220', { kind: '3ds_always' }),
];

/** Magic payment method ids (and `tok_*` tokens, same suffix) -> card number. */
const MAGIC: Record<string, string> = {
  visa: '4242424242424242',
  visa_debit: '4000056655665556',
  mastercard: '5555555555554444',
  mastercard_debit: '5200828282828210',
  amex: '378282246310005',
  discover: '6011111111111117',
  visa_chargeDeclined: '4000000000000002',
  chargeDeclined: '4000000000000002',
  visa_chargeDeclinedInsufficientFunds: '4000000000009995',
  chargeDeclinedInsufficientFunds: '4000000000009995',
  chargeDeclinedLostCard: '4000000000009987',
  visa_chargeDeclinedLostCard: '4000000000009987',
  chargeDeclinedStolenCard: '4000000000009979',
  visa_chargeDeclinedStolenCard: '4000000000009979',
  chargeDeclinedFraudulent: '4100000000000019',
  visa_chargeDeclinedFraudulent: '4100000000000019',
  chargeDeclinedExpiredCard: '4000000000000069',
  visa_chargeDeclinedExpiredCard: '4000000000000069',
  chargeDeclinedIncorrectCvc: '4000000000000127',
  visa_chargeDeclinedIncorrectCvc: '4000000000000127',
  chargeDeclinedProcessingError: '4000000000000119',
  visa_chargeDeclinedProcessingError: '4000000000000119',
  chargeCustomerFail: '4000000000000341',
  createDispute: '4000000000000259',
  createDisputeInquiry: '4000000000001976',
  authenticationRequiredOnSetup: '4000002500003155',
  authenticationRequired: '4000002760003184',
  threeDSecure2Required: '4000000000003220',
  threeDSecureRequired: '4000000000003220',
};

export function normaliseCardNumber(input: string): string {
  return input.replace(/[\s-]/g, '');
}

/** `pm_card_visa`, `tok_visa`, `tok_chargeDeclined`, or a card number -> the test card, if known. */
export function lookupCard(input: string): TestCard | undefined {
  const s = normaliseCardNumber(input);
  const magic = /^(?:pm_card_|tok_)(.+)$/.exec(s);
  if (magic) {
    const number = MAGIC[magic[1]];
    return number ? lookupCard(number) : undefined;
  }
  const known = TEST_CARDS.find((c) => c.number === s);
  if (known) return known;
  // Any other Luhn-valid number behaves like a plain successful card, branded by its first digit.
  if (/^\d{12,19}$/.test(s) && luhn(s)) {
    const brand = s.startsWith('4')
      ? 'visa'
      : s.startsWith('3')
        ? 'amex'
        : s.startsWith('6')
          ? 'discover'
          : 'mastercard';
    return { number: s, brand, funding: 'credit', country: 'US', behaviour: OK };
  }
  return undefined;
}

export function isMagicPaymentMethod(id: string): boolean {
  return /^(?:pm_card_|tok_)/.test(id);
}

export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function declineMessage(declineCode: string): string {
  return DECLINE_MESSAGES[declineCode] ?? 'Your card was declined.';
}
