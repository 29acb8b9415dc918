import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows } from '../../../test/harness';
import { TABLES, UNKNOWN_ID, type EntitlementsEnv, entitlementsEnv } from './entitlements-kit';

/** Entitlements: who may see and change what, and bad input. */

let e: EntitlementsEnv;
let t: EntitlementsEnv['t'];
let call: EntitlementsEnv['call'];
let admin: EntitlementsEnv['admin'];
let alice: EntitlementsEnv['alice'];
let bob: EntitlementsEnv['bob'];
let otherAdmin: EntitlementsEnv['otherAdmin'];
let serviceKey: string;
const freshUser = () => e.freshUser();
const grantAs: EntitlementsEnv['grantAs'] = (...args) => e.grantAs(...args);
const grantOk: EntitlementsEnv['grantOk'] = (body) => e.grantOk(body);

beforeAll(async () => {
  e = await entitlementsEnv(8);
  ({ t, call, admin, alice, bob, otherAdmin, serviceKey } = e);
  // Alice holds a feature, so that there is something of hers to see and to refuse to others.
  await grantOk({ user_id: alice.user.id, entitlement_type: 'feature_unlock', feature: 'beta_reports' });
});
afterAll(() => t.close());

describe('who may see what', () => {
  it('a user sees only their own entitlements; naming another user is 403', async () => {
    const mine = (await call('GET', 'entitlements', { token: alice.token })).body.data;
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((e: { user_id: string }) => e.user_id === alice.user.id)).toBe(true);
    for (const path of [
      `entitlements?user_id=${bob.user.id}`,
      `entitlements/check?feature=x&user_id=${bob.user.id}`,
      `entitlements/summary?user_id=${bob.user.id}`,
      `entitlements/explain?feature=x&user_id=${bob.user.id}`,
    ]) {
      const res = await call('GET', path, { token: alice.token });
      expect(res.status, path).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    expect((await call('GET', 'entitlements', {})).status).toBe(401);
  });

  it('a service key may ask about any non-admin user', async () => {
    const res = await call('GET', `entitlements/check?feature=beta_reports&user_id=${alice.user.id}`, {
      token: serviceKey,
    });
    expect(res.status).toBe(200);
    expect(res.body.has_access).toBe(true);
    const list = await call('GET', `entitlements?user_id=${alice.user.id}`, { token: serviceKey });
    expect(list.body.data.every((e: { user_id: string }) => e.user_id === alice.user.id)).toBe(true);
    expect(
      (await call('GET', `entitlements/summary?user_id=${otherAdmin.user.id}`, { token: serviceKey })).status,
    ).toBe(403);
    expect(
      (await call('GET', `entitlements/summary?user_id=${UNKNOWN_ID}`, { token: serviceKey })).status,
    ).toBe(404);
  });

  it('a key without entitlements:read is refused', async () => {
    const key = await call('POST', 'api-keys', {
      token: alice.token,
      body: { name: 'k', scopes: ['billing:read'] },
    });
    const res = await call('GET', 'entitlements/check?feature=x', { token: key.body.key });
    expect(res.status).toBe(403);
  });

  it('admin endpoints refuse non-admins and write nothing', async () => {
    const g = (await call('GET', 'entitlements', { token: alice.token })).body.data[0];
    const before = await countRows(t.deps.database, TABLES);
    const attempts: [string, string, unknown?][] = [
      [
        'POST',
        'entitlements/grant',
        { user_id: alice.user.id, entitlement_type: 'feature_unlock', feature: 'x', grant_reason: 'manual' },
      ],
      ['POST', 'entitlements/revoke-by-reference', { reference_id: 'pi_1', reason: 'x' }],
      ['GET', `entitlements/users/${alice.user.id}`],
      ['GET', `entitlements/users/${alice.user.id}/summary`],
      ['GET', `entitlements/${g.id}`],
      ['DELETE', `entitlements/${g.id}`],
    ];
    for (const [method, path, body] of attempts) {
      for (const token of [alice.token, serviceKey]) {
        const res = await call(method, path, { token, body });
        expect(res.status, `${method} ${path}`).toBe(403);
      }
    }
    expect(await countRows(t.deps.database, TABLES)).toEqual(before);
    expect((await call('GET', `entitlements/${g.id}`, { token: admin.token })).body.status).toBe('active');
  });

  it('admins list and summarise any user', async () => {
    const list = await call('GET', `entitlements/users/${alice.user.id}`, { token: admin.token });
    expect(list.status).toBe(200);
    expect(list.body.data.length).toBeGreaterThan(0);
    const sum = await call('GET', `entitlements/users/${alice.user.id}/summary`, { token: admin.token });
    expect(sum.body).toMatchObject({ user_id: alice.user.id, tier: 'free' });
    expect((await call('GET', `entitlements/users/${UNKNOWN_ID}`, { token: admin.token })).status).toBe(404);
  });
});

describe('bad input', () => {
  const base = () => ({ user_id: alice.user.id, grant_reason: 'manual' });
  const bad: [string, Record<string, unknown>, number][] = [
    ['unknown type', { entitlement_type: 'superpower', feature: 'x' }, 400],
    ['feature_unlock without a feature', { entitlement_type: 'feature_unlock' }, 400],
    ['unknown tier', { entitlement_type: 'tier_access', tier: 'platinum' }, 400],
    ['credit_grant without quantity', { entitlement_type: 'credit_grant', credit_type: 'ai_tokens' }, 400],
    ['negative quantity', { entitlement_type: 'usage_allowance', feature: 'x', quantity_granted: -1 }, 400],
    ['huge quantity', { entitlement_type: 'usage_allowance', feature: 'x', quantity_granted: 1e13 }, 400],
    ['unknown field', { entitlement_type: 'feature_unlock', feature: 'x', colour: 'red' }, 400],
    [
      'expiry before start',
      { entitlement_type: 'feature_unlock', feature: 'x', expires_at: '2000-01-01T00:00:00Z' },
      400,
    ],
    ['temporary access without expiry', { entitlement_type: 'temporary_access', feature: 'x' }, 400],
    ['bad feature key', { entitlement_type: 'feature_unlock', feature: 'no spaces please' }, 400],
    ['unknown user', { entitlement_type: 'feature_unlock', feature: 'x', user_id: UNKNOWN_ID }, 404],
    ['malformed user id', { entitlement_type: 'feature_unlock', feature: 'x', user_id: 'nope' }, 400],
    ['unknown product', { entitlement_type: 'product_access', product_id: UNKNOWN_ID }, 404],
  ];
  for (const [name, body, status] of bad) {
    it(`a grant with ${name} gets ${status} and writes nothing`, async () => {
      const before = await countRows(t.deps.database, TABLES);
      const res = await grantAs(admin.token, { ...base(), ...body });
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(res.body.error.code).toBe(status === 404 ? 'not_found' : 'invalid_request');
      expect(await countRows(t.deps.database, TABLES)).toEqual(before);
    });
  }

  it('bad ids, unknown ids and bad questions get 400/404 and write nothing', async () => {
    const before = await countRows(t.deps.database, TABLES);
    const cases: [string, string, number, unknown?][] = [
      ['GET', 'entitlements/not-a-uuid', 400],
      ['GET', `entitlements/${UNKNOWN_ID}`, 404],
      ['DELETE', 'entitlements/not-a-uuid', 400],
      ['DELETE', `entitlements/${UNKNOWN_ID}`, 404],
      ['GET', 'entitlements/users/not-a-uuid', 400],
      ['POST', 'entitlements/revoke-by-reference', 404, { reference_id: 'pi_never_seen', reason: 'refund' }],
      ['POST', 'entitlements/revoke-by-reference', 400, { reference_id: 'pi 1', reason: 'refund' }],
      ['POST', 'entitlements/revoke-by-reference', 400, { reason: 'refund' }],
    ];
    for (const [method, path, status, body] of cases) {
      const res = await call(method, path, { token: admin.token, body });
      expect(res.status, `${method} ${path}`).toBe(status);
    }
    const questions: [string, number][] = [
      ['entitlements/check', 400],
      ['entitlements/check?type=superpower', 400],
      ['entitlements/check?feature=x&quantity=0', 400],
      ['entitlements/check?feature=x&quantity=abc', 400],
      ['entitlements/check?credit_type=Not-A-Type', 400],
      ['entitlements/check?feature=x&user_id=nope', 400],
      ['entitlements/explain', 400],
      ['entitlements?type=superpower', 400],
    ];
    for (const [path, status] of questions) {
      const res = await call('GET', path, { token: alice.token });
      expect(res.status, path).toBe(status);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect(await countRows(t.deps.database, TABLES)).toEqual(before);
  });

  it('an admin grant with an Idempotency-Key counts once', async () => {
    const u = freshUser();
    const body = {
      user_id: u.user.id,
      entitlement_type: 'feature_unlock',
      feature: 'once',
      grant_reason: 'bonus',
    };
    const first = await grantAs(admin.token, body, { 'idempotency-key': `k-${u.user.id}` });
    const second = await grantAs(admin.token, body, { 'idempotency-key': `k-${u.user.id}` });
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    const list = (await call('GET', `entitlements/users/${u.user.id}`, { token: admin.token })).body.data;
    expect(list).toHaveLength(1);
  });
});
