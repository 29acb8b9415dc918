import { describe, expect, it } from 'vitest';
import { withConveniences } from './conveniences';
import { canonicalJson, extraMetadataSchema, grantsEqual, normalizeGrants } from './grants';
import { decodeJson, encodeJson, METADATA_VALUE_LIMIT } from './stripe-metadata';

describe('extra_metadata items', () => {
  it('accepts every entitlement type in upper or lower case and stores them lower-case', () => {
    const parsed = extraMetadataSchema.parse({
      entitlements: [
        { type: 'SUBSCRIPTION' },
        { type: 'Product_Access' },
        { type: 'credit_grant', credit_type: 'ai_tokens', quantity: 1 },
        { type: 'FEATURE_UNLOCK', feature: 'x' },
        { type: 'tier_access', tier: 'pro' },
        { type: 'API_ACCESS' },
        { type: 'usage_allowance', feature: 'reports', quantity: 10, consumption_type: 'renewable' },
        { type: 'TEMPORARY_ACCESS', duration_days: 7, tier: 'pro' },
      ],
    });
    expect(parsed.entitlements.map((e) => e.type)).toEqual([
      'subscription',
      'product_access',
      'credit_grant',
      'feature_unlock',
      'tier_access',
      'api_access',
      'usage_allowance',
      'temporary_access',
    ]);
  });

  it('fills the credit pool from the price kind and compares regardless of key order', () => {
    const raw = { entitlements: [{ type: 'credit_grant' as const, credit_type: 'ai_tokens', quantity: 5 }] };
    expect(normalizeGrants(raw, { recurring: true }).entitlements[0]).toMatchObject({
      pool: 'subscription_allowance',
    });
    expect(normalizeGrants(raw, { recurring: false }).entitlements[0]).toMatchObject({ pool: 'purchased' });
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
    const a = normalizeGrants(raw, { recurring: false });
    const reordered = {
      entitlements: [{ quantity: 5, pool: 'purchased', credit_type: 'ai_tokens', type: 'credit_grant' }],
    };
    expect(grantsEqual(a, reordered as never)).toBe(true);
  });

  it('adds product conveniences once, keeping items the price already has for the same target', () => {
    const merged = withConveniences(
      { entitlements: [{ type: 'credit_grant', credit_type: 'ai_tokens', quantity: 7 } as never] },
      {
        creditAmount: 100,
        creditType: null,
        grantsTierId: 't1',
        featureAccess: ['f'],
        accessDurationDays: 30,
      },
      (id) => (id === 't1' ? 'pro' : undefined),
      false,
    );
    expect(merged.entitlements).toEqual([
      { type: 'credit_grant', credit_type: 'ai_tokens', pool: 'purchased', quantity: 7 },
      { type: 'tier_access', duration_days: 30, tier: 'pro' },
      { type: 'feature_unlock', duration_days: 30, feature: 'f' },
    ]);
  });
});

describe('grants in Stripe metadata', () => {
  it('keeps a short value in one key and splits a long one over numbered keys, read back intact', () => {
    const small = encodeJson('paywire_grants', [{ type: 'tier_access', tier: 'pro' }]);
    expect(Object.keys(small)).toEqual(['paywire_grants']);
    const big = Array.from({ length: 40 }, (_, i) => ({
      type: 'feature_unlock',
      feature: `feature_number_${i}`,
    }));
    const parts = encodeJson('paywire_grants', big);
    expect(Object.values(parts).every((v) => v.length <= METADATA_VALUE_LIMIT)).toBe(true);
    expect(parts.paywire_grants_parts).toBe(String(Object.keys(parts).length - 1));
    expect(decodeJson(parts, 'paywire_grants')).toEqual({ value: big });
  });

  it('unsets stale keys of a previous encoding (an empty value deletes a key in Stripe)', () => {
    const big = Array.from({ length: 40 }, (_, i) => ({
      type: 'feature_unlock',
      feature: `feature_number_${i}`,
    }));
    const previous = encodeJson('paywire_grants', big);
    const next = encodeJson('paywire_grants', [{ type: 'api_access' }], previous);
    expect(next.paywire_grants).toBe('[{"type":"api_access"}]');
    expect(next.paywire_grants_0).toBe('');
    expect(next.paywire_grants_parts).toBe('');
    expect(decodeJson({ paywire_grants_parts: '2', paywire_grants_0: '[' }, 'paywire_grants')).toEqual({
      error: 'paywire_grants: chunk 1 of 2 is missing',
    });
    expect(decodeJson({}, 'paywire_grants')).toBeUndefined();
  });
});
