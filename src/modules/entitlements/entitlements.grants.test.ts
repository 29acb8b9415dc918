import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, countRows, createTestApp } from '../../../test/harness';
import { can, grantFromPrice, limit, transact } from './entitlements.service';
import { DAY, HOUR, TABLES, type EntitlementsEnv, entitlementsEnv } from './entitlements-kit';

/** Entitlements: what answers yes, revocation, credit grants and explain. */

let e: EntitlementsEnv;
let t: EntitlementsEnv['t'];
let call: EntitlementsEnv['call'];
let admin: EntitlementsEnv['admin'];
let alice: EntitlementsEnv['alice'];
let bob: EntitlementsEnv['bob'];

const freshUser = () => e.freshUser();
const grantAs: EntitlementsEnv['grantAs'] = (...args) => e.grantAs(...args);
const grantOk: EntitlementsEnv['grantOk'] = (body) => e.grantOk(body);
const checkFeature: EntitlementsEnv['checkFeature'] = (...args) => e.checkFeature(...args);

beforeAll(async () => {
  e = await entitlementsEnv(14);
  ({ t, call, admin, alice, bob } = e);
});
afterAll(() => t.close());

describe('can: each route to yes', () => {
  it('a feature unlock answers yes for that feature only, and only for its user', async () => {
    const g = await grantOk({
      user_id: alice.user.id,
      entitlement_type: 'feature_unlock',
      feature: 'beta_reports',
    });
    expect(g).toMatchObject({
      entitlement_type: 'feature_unlock',
      feature: 'beta_reports',
      status: 'active',
    });
    expect(await checkFeature(alice.token, 'beta_reports')).toEqual({
      has_access: true,
      total_available_quantity: null,
      expires_at: null,
      limitations: {},
    });
    expect((await checkFeature(alice.token, 'other_feature')).has_access).toBe(false);
    expect((await checkFeature(bob.token, 'beta_reports')).has_access).toBe(false);
    expect(await can(t.deps, alice.user.id, 'beta_reports')).toBe(true);
  });

  it('a tier grant answers yes for the tier’s features and gives its limits', async () => {
    const u = freshUser();
    expect((await checkFeature(u.token, 'advanced_analytics')).has_access).toBe(false);
    await grantOk({ user_id: u.user.id, entitlement_type: 'TIER_ACCESS', tier: 'PRO' });
    expect((await checkFeature(u.token, 'advanced_analytics')).has_access).toBe(true);
    expect((await checkFeature(u.token, 'beta_reports')).has_access).toBe(false);
    expect(await limit(t.deps, u.user.id, 'projects')).toBe(10);
    expect(await limit(t.deps, u.user.id, 'unknown_limit')).toBeNull();
    const summary = (await call('GET', 'entitlements/summary', { token: u.token })).body;
    expect(summary).toMatchObject({ tier: 'pro', has_active_subscription: false, limits: { projects: 10 } });
    expect(summary.features).toContain('export');
    expect(summary.active_entitlements).toHaveLength(1);
    expect(summary.active_entitlements[0].entitlement_type).toBe('tier_access');
  });

  it('temporary access answers yes inside its window and no after it (clock moved, not slept)', async () => {
    const u = freshUser();
    const expires = new Date(t.clock.now().getTime() + DAY);
    await grantOk({
      user_id: u.user.id,
      entitlement_type: 'temporary_access',
      features: ['priority_support'],
      tier: 'pro',
      expires_at: expires.toISOString(),
    });
    const yes = await checkFeature(u.token, 'priority_support');
    expect(yes).toMatchObject({ has_access: true, expires_at: expires.toISOString() });
    expect((await checkFeature(u.token, 'export')).has_access).toBe(true);
    t.clock.advance(DAY - 1);
    expect((await checkFeature(u.token, 'priority_support')).has_access).toBe(true);
    t.clock.advance(1);
    const no = await checkFeature(u.token, 'priority_support');
    expect(no).toMatchObject({ has_access: false, limitations: { reason: 'no_active_entitlement' } });
    expect((await checkFeature(u.token, 'export')).has_access).toBe(false);
  });

  it('a grant starting in the future answers no until its granted_at', async () => {
    const u = freshUser();
    const starts = new Date(t.clock.now().getTime() + HOUR);
    await grantOk({
      user_id: u.user.id,
      entitlement_type: 'feature_unlock',
      feature: 'launch_day',
      granted_at: starts.toISOString(),
    });
    const before = await checkFeature(u.token, 'launch_day');
    expect(before).toMatchObject({ has_access: false, limitations: { reason: 'not_yet_active' } });
    expect(before.limitations.starts_at).toBe(starts.toISOString());
    t.clock.advance(HOUR);
    expect((await checkFeature(u.token, 'launch_day')).has_access).toBe(true);
  });

  it('check by type and quantity answers from usage allowances', async () => {
    const u = freshUser();
    await grantOk({
      user_id: u.user.id,
      entitlement_type: 'usage_allowance',
      feature: 'exports',
      quantity_granted: 5,
    });
    expect(await checkFeature(u.token, 'exports', '&quantity=5')).toMatchObject({
      has_access: true,
      total_available_quantity: 5,
    });
    expect(await checkFeature(u.token, 'exports', '&quantity=6')).toMatchObject({
      has_access: false,
      total_available_quantity: 5,
      limitations: { reason: 'insufficient_quantity', needed: 6, available: 5 },
    });
    const byType = (await call('GET', 'entitlements/check?type=USAGE_ALLOWANCE', { token: u.token })).body;
    expect(byType).toMatchObject({ has_access: true, total_available_quantity: 5 });
    const none = (await call('GET', 'entitlements/check?type=api_access', { token: u.token })).body;
    expect(none.has_access).toBe(false);
  });
});

describe('revocation', () => {
  it('a revoked grant answers no at once on this instance', async () => {
    const u = freshUser();
    const g = await grantOk({ user_id: u.user.id, entitlement_type: 'feature_unlock', feature: 'soon_gone' });
    expect((await checkFeature(u.token, 'soon_gone')).has_access).toBe(true); // now cached
    const del = await call('DELETE', `entitlements/${g.id}?reason=abuse`, { token: admin.token });
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ status: 'revoked', revoke_reason: 'abuse' });
    expect((await checkFeature(u.token, 'soon_gone')).has_access).toBe(false);
    // Revoking again changes nothing.
    const again = await call('DELETE', `entitlements/${g.id}`, { token: admin.token, body: { reason: 'x' } });
    expect(again.status).toBe(200);
    expect(again.body.revoke_reason).toBe('abuse');
    const one = await call('GET', `entitlements/${g.id}`, { token: admin.token });
    expect(one.body).toMatchObject({ id: g.id, status: 'revoked' });
  });

  it('a revoke is seen by a second app instance on the same database within a second', async () => {
    const second = await createTestApp({ database: t.deps.database, clock: t.clock });
    try {
      const call2 = api(second.app);
      const u = freshUser();
      const g = await grantOk({ user_id: u.user.id, entitlement_type: 'feature_unlock', feature: 'shared' });
      const ask2 = async () =>
        (await call2('GET', 'entitlements/check?feature=shared', { token: u.token })).body.has_access;
      expect(await ask2()).toBe(true); // cached on the second instance
      expect(await ask2()).toBe(true);
      await call('DELETE', `entitlements/${g.id}`, { token: admin.token });
      const started = Date.now();
      let answer = true;
      while (answer && Date.now() - started < 1000) {
        answer = await ask2();
        if (answer) await new Promise((r) => setTimeout(r, 10));
      }
      expect(answer).toBe(false);
    } finally {
      await second.close();
    }
  });

  it('revoke-by-reference revokes every grant from one Stripe object', async () => {
    const u = freshUser();
    const ref = `pi_${Date.now()}`;
    await grantOk({
      user_id: u.user.id,
      entitlement_type: 'feature_unlock',
      feature: 'r1',
      reference_id: ref,
    });
    await grantOk({ user_id: u.user.id, entitlement_type: 'tier_access', tier: 'pro', reference_id: ref });
    await grantOk({ user_id: u.user.id, entitlement_type: 'feature_unlock', feature: 'r3' });
    expect((await checkFeature(u.token, 'export')).has_access).toBe(true);
    const res = await call('POST', 'entitlements/revoke-by-reference', {
      token: admin.token,
      body: { reference_id: ref, reason: 'refund' },
    });
    expect(res.status).toBe(200);
    expect(res.body.revoked_count).toBe(2);
    expect((await checkFeature(u.token, 'r1')).has_access).toBe(false);
    expect((await checkFeature(u.token, 'export')).has_access).toBe(false);
    expect((await checkFeature(u.token, 'r3')).has_access).toBe(true);
  });
});

describe('credit grants through /entitlements/grant', () => {
  it('creates the ledger bucket with the entitlement; deleting the entitlement removes what is left', async () => {
    const u = freshUser();
    const g = await grantOk({
      user_id: u.user.id,
      entitlement_type: 'CREDIT_GRANT',
      credit_type: 'ai_tokens',
      quantity_granted: 250,
      grant_reason: 'bonus',
      notes: 'compensation',
    });
    expect(g).toMatchObject({ entitlement_type: 'credit_grant', quantity_granted: 250 });
    expect(g.credit_bucket_id).toBeTruthy();
    const ask = (q: string) =>
      call('GET', `entitlements/check?credit_type=ai_tokens${q}`, { token: u.token });
    expect((await ask('&quantity=250')).body).toMatchObject({
      has_access: true,
      total_available_quantity: 250,
    });
    expect((await ask('&quantity=251')).body.has_access).toBe(false);
    const balance = await call('GET', 'credits/balance?credit_type=ai_tokens', { token: u.token });
    expect(balance.body.available).toBe(250);
    expect((await call('GET', 'entitlements/summary', { token: u.token })).body.credits_available).toEqual({
      ai_tokens: 250,
    });
    await call('DELETE', `entitlements/${g.id}?reason=mistake`, { token: admin.token });
    expect((await ask('')).body).toMatchObject({ has_access: false, total_available_quantity: 0 });
  });

  it('an unknown credit type gets 400 and writes nothing', async () => {
    const before = await countRows(t.deps.database, TABLES);
    const res = await grantAs(admin.token, {
      user_id: alice.user.id,
      entitlement_type: 'credit_grant',
      credit_type: 'moon_dust',
      quantity_granted: 5,
      grant_reason: 'bonus',
    });
    expect(res.status).toBe(400);
    expect(await countRows(t.deps.database, TABLES)).toEqual(before);
    expect(
      (await call('GET', 'entitlements/check?credit_type=moon_dust', { token: alice.token })).status,
    ).toBe(400);
  });
});

describe('explain', () => {
  it('names each grant that answers yes, with payment, subscription, Stripe event and price version', async () => {
    const u = freshUser();
    const price = {
      id: '01900000-0000-7000-8000-0000000000aa',
      version: 3,
      extraMetadata: { entitlements: [{ type: 'tier_access' as const, tier: 'pro' }] },
    };
    await transact(t.deps, (tx) =>
      grantFromPrice(t.deps, tx, {
        userId: u.user.id,
        price,
        source: {
          key: `checkout:cs_explain_${u.user.id}`,
          referenceId: 'cs_explain',
          paymentId: 'pay_local_1',
          subscriptionId: 'sub_explain',
          stripeEventId: 'evt_explain',
        },
      }),
    );
    await grantOk({
      user_id: u.user.id,
      entitlement_type: 'feature_unlock',
      feature: 'export',
      notes: 'goodwill',
    });
    const res = await call('GET', 'entitlements/explain?feature=export', { token: u.token });
    expect(res.status).toBe(200);
    expect(res.body.allowed).toBe(true);
    expect(res.body.grants).toHaveLength(2);
    const viaTier = res.body.grants.find((g: { via: string }) => g.via === 'tier:pro');
    expect(viaTier).toMatchObject({
      entitlement_type: 'tier_access',
      payment_id: 'pay_local_1',
      subscription_id: 'sub_explain',
      stripe_event_id: 'evt_explain',
      price_id: price.id,
      price_version: 3,
      reference_id: 'cs_explain',
    });
    const direct = res.body.grants.find((g: { via: string }) => g.via === 'feature_unlock');
    expect(direct).toMatchObject({ notes: 'goodwill', granted_by: admin.user.id });
    const no = await call('GET', 'entitlements/explain?feature=nothing_here', { token: u.token });
    expect(no.body).toMatchObject({ allowed: false, grants: [] });
  });
});
