import { describe, expect, it } from 'vitest';
import { createLogger, scrub } from '../../src/lib/logger';
import { looksLikeCard, scanText } from './kit/secrets';

/**
 * The log scan of the global teardown (issue 13, item 6) checked against planted leaks, so that "leaks:
 * 0" in the summary means something. The scan itself runs over every log the suite captured.
 */
describe('the secrets scan', () => {
  const known = [
    { kind: 'password', value: 'correct horse battery' },
    { kind: 'webhook_secret', value: 'whsec_knownsecretvalue123' },
  ];

  it('finds known secrets and secret-shaped strings in log lines', () => {
    const lines = [
      '{"msg":"login","password":"correct horse battery"}',
      '{"token":"pws_0123456789abcdefghijklmnop"}',
      '{"key":"pwk_abcdefghijklmnop0123456789"}',
      'signed with whsec_AnotherSecretNobodyRegistered',
      'stripe key sk_live_51Habcdefghijkl',
      'Stripe-Signature: t=1,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd',
      'card 4242 4242 4242 4242 declined',
      '{"number":"4000000000000341"}',
    ].join('\n');
    const kinds = scanText(lines, known).map((f) => f.kind);
    expect(kinds).toEqual([
      'password',
      'session_token',
      'api_key',
      'webhook_secret',
      'stripe_key',
      'stripe_signature',
      'card_number',
      'card_number',
    ]);
  });

  it('does not flag what is not a secret: redactions, ids, timestamps, UUIDs', () => {
    const lines = [
      '{"level":20,"time":1795952622163,"request_id":"0cac14c5-255e-442e-b384-098813850096","msg":"request"}',
      '{"password":"[redacted]","token":"[redacted]","secret":"whsec_[redacted]"}',
      '{"event_id":"evt_1rcwmU3cmlJk6VC743VKDNu1","amount":1900}',
      '{"customer":"cus_1U4FsvUESUWu1GyeN5cZrcWG","key":"sk_test_[redacted]"}',
    ].join('\n');
    expect(scanText(lines, known)).toEqual([]);
    expect(looksLikeCard('1795952622163')).toBe(false);
    expect(looksLikeCard('4242424242424241')).toBe(false); // fails Luhn
  });

  it("the app's logger and scrub() leave nothing for it to find", () => {
    const out: string[] = [];
    const logger = createLogger({ level: 'trace', destination: { write: (s: string) => void out.push(s) } });
    logger.info(
      {
        password: 'correct horse battery',
        token: 'pws_0123456789abcdefghijklmnop',
        headers: { authorization: 'Bearer pwk_abcdefghijklmnop0123456789' },
        card: { number: '4242424242424242' },
      },
      'attempt',
    );
    logger.error(
      {
        error: scrub(
          'charge failed for 4242424242424242 with sk_test_abcdefghijklmnop and whsec_knownsecretvalue123',
        ),
      },
      'x',
    );
    expect(scanText(out.join(''), known)).toEqual([]);
  });
});
