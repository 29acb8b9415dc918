import { expect } from 'vitest';
import { api, createTestApp, signupUser, type TestApp } from '../../../test/harness';
import { createTier } from '../catalog/tiers.service';
import { setRole } from '../users/users.service';

/** What the entitlements route tests share: an app with the free and pro tiers, users and a service key. */

type User = Awaited<ReturnType<typeof signupUser>>;
type Body = Awaited<ReturnType<ReturnType<typeof api>>>['body'];

export const TABLES = ['entitlements', 'entitlement_usage', 'credit_grants', 'credit_transactions'];
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const UNKNOWN_ID = '01900000-0000-7000-8000-000000000000';

export interface EntitlementsEnv {
  t: TestApp;
  call: ReturnType<typeof api>;
  admin: User;
  alice: User;
  bob: User;
  otherAdmin: User;
  /** An admin's service key (entitlements:read, credits:read, on behalf of users). */
  serviceKey: string;
  /** A user no other test has touched. */
  freshUser(): User;
  grantAs(
    token: string,
    body: Record<string, unknown>,
    headers?: Record<string, string>,
  ): ReturnType<ReturnType<typeof api>>;
  /** An admin grant that must succeed (201); its body. */
  grantOk(body: Record<string, unknown>): Promise<Body>;
  checkFeature(token: string, feature: string, extra?: string): Promise<Body>;
}

export async function entitlementsEnv(users: number): Promise<EntitlementsEnv> {
  const t = await createTestApp({ env: { ADMIN_EMAIL: 'ent-admin@example.com' } });
  const call = api(t.app);
  const admin = await signupUser(call, 'ent-admin@example.com');
  // Sign-ups hash a password: make every user the file needs at once, in parallel.
  const [alice, bob, ...spare] = await Promise.all(Array.from({ length: users }, () => signupUser(call)));
  const otherAdmin = spare.pop()!;
  await setRole(t.deps.db, otherAdmin.user.id, 'admin');
  await createTier(t.deps.db, {
    key: 'free',
    name: 'Free',
    rank: 0,
    features: ['basic'],
    limits: { projects: 1 },
  });
  await createTier(t.deps.db, {
    key: 'pro',
    name: 'Pro',
    rank: 10,
    features: ['basic', 'advanced_analytics', 'export'],
    limits: { projects: 10, seats: 3 },
  });
  const key = await call('POST', 'api-keys', {
    token: admin.token,
    body: { name: 'backend', scopes: ['entitlements:read', 'credits:read'], on_behalf: true },
  });
  const grantAs: EntitlementsEnv['grantAs'] = (token, body, headers) =>
    call('POST', 'entitlements/grant', { token, body, headers });
  return {
    t,
    call,
    admin,
    alice: alice!,
    bob: bob!,
    otherAdmin,
    serviceKey: key.body.key,
    freshUser() {
      const u = spare.pop();
      if (!u) throw new Error('ask entitlementsEnv for more users');
      return u;
    },
    grantAs,
    async grantOk(body) {
      const res = await grantAs(admin.token, { grant_reason: 'manual', ...body });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body;
    },
    checkFeature: async (token, feature, extra = '') =>
      (await call('GET', `entitlements/check?feature=${feature}${extra}`, { token })).body,
  };
}
