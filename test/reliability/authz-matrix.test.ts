import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getPriceByLookupKey } from '../../src/modules/catalog/catalog.service';
import { setRole } from '../../src/modules/users/users.service';
import { type ApiCaller, PASSWORD, signupUser } from '../harness';
import { allCounts, countChanges } from './kit/db';
import { body, concrete, loadRoutes, type Route } from './kit/openapi';
import { count, mismatch, registerSecret } from './kit/report';
import { ADMIN_EMAIL, startSystem, type System } from './kit/system';

/**
 * The authorization matrix (issue 13, item 4): every operation of /openapi.json, called by every kind of
 * caller, must answer exactly what its declared `x-paywire-access` allows. The expectation table is built
 * from the document: anonymous -> 401 unless public; a credential lacking the scope or the admin role ->
 * 403; everyone allowed -> the same answer as the admin gets for the same request (the probe names ids
 * that do not exist and sends an empty body, so an allowed caller gets a 200, 400 or 404, never 401/403).
 */
const USER_SCOPES = ['billing:read', 'billing:write', 'credits:read', 'credits:write', 'entitlements:read'];

interface Role {
  name: string;
  token: (() => string) | null;
  userRole: 'user' | 'admin';
  scopes: string[];
}

let sys: System;
let call: ApiCaller;
let routes: Route[];
const users: Record<string, { token: string; id: string; email: string }> = {};
const keys: Record<string, { id: string; key: string }> = {};
let roles: Role[];

async function key(token: string, name: string, scopes: string[], onBehalf = false) {
  const res = await call('POST', 'api-keys', { token, body: { name, scopes, on_behalf: onBehalf } });
  expect(res.status, `creating ${name}`).toBe(201);
  registerSecret('api_key', res.body.key);
  return { id: res.body.id as string, key: res.body.key as string };
}

beforeAll(async () => {
  sys = await startSystem({ template: inject('templateDb'), label: 'authz', instances: 1, fixedTime: false });
  call = sys.instances[0]!.call;
  for (const n of ['a', 'b']) {
    const u = await signupUser(call, `${n}-authz@reliability.test`);
    users[n] = { token: u.token, id: u.user.id, email: u.email };
    registerSecret('session_token', u.token);
  }
  users.admin = { token: sys.adminToken, id: '', email: ADMIN_EMAIL };
  for (const scope of USER_SCOPES) keys[scope] = await key(users.a!.token, `a ${scope}`, [scope]);
  keys.service = await key(sys.adminToken, 'service', USER_SCOPES, true);
  keys.admin = await key(sys.adminToken, 'admin key', ['admin']);
  roles = [
    { name: 'anonymous', token: null, userRole: 'user', scopes: [] },
    { name: 'user A', token: () => users.a!.token, userRole: 'user', scopes: USER_SCOPES },
    { name: 'user B', token: () => users.b!.token, userRole: 'user', scopes: USER_SCOPES },
    ...USER_SCOPES.map((s) => ({
      name: `A's key ${s}`,
      token: () => keys[s]!.key,
      userRole: 'user' as const,
      scopes: [s],
    })),
    { name: 'service key', token: () => keys.service!.key, userRole: 'admin', scopes: USER_SCOPES },
    { name: 'admin key', token: () => keys.admin!.key, userRole: 'admin', scopes: ['admin'] },
    { name: 'admin', token: () => sys.adminToken, userRole: 'admin', scopes: [...USER_SCOPES, 'admin'] },
  ];
  routes = await loadRoutes(call);
}, 120_000);
afterAll(() => sys?.close());

/** What the declared access rule says a role gets: allowed, or the refusal status. */
function rule(route: Route, role: Role): 'allowed' | 401 | 403 {
  if (route.access === 'public') return 'allowed';
  if (!role.token) return 401;
  if (route.access === 'user') return 'allowed';
  if (route.access === 'admin')
    return role.userRole === 'admin' && role.scopes.includes('admin') ? 'allowed' : 403;
  const scope = route.access.replace(/^user:/, '');
  return role.scopes.includes(scope) ? 'allowed' : 403;
}

async function probe(route: Route, token: string | null) {
  const res = await call(route.method, concrete(route), {
    token: token ?? undefined,
    body: route.body ? {} : undefined,
  });
  return res;
}

describe('the authorization matrix over every route of /openapi.json', () => {
  it('declares an access rule on every operation, and admin routes live under /api/v1/admin/ (or the documented entitlement paths)', () => {
    expect(routes.length).toBeGreaterThan(50);
    for (const r of routes) {
      expect(
        ['public', 'user', 'admin'].includes(r.access) || /^user:[a-z]+:[a-z]+$/.test(r.access),
        `${r.method} ${r.path}`,
      ).toBe(true);
      if (r.access === 'admin') {
        expect(
          r.path.startsWith('/api/v1/admin/') || r.path.startsWith('/api/v1/entitlements/'),
          r.path,
        ).toBe(true);
      }
    }
  });

  it('every (route, role) answers exactly what the declared access allows, and nothing is written', async () => {
    const before = await allCounts(sys.database);
    const failures: string[] = [];
    const table: string[] = [];
    // Logging out ends the caller's session: probed last, with fresh sessions.
    const ordered = [...routes].sort(
      (x, y) => Number(x.path.endsWith('/logout')) - Number(y.path.endsWith('/logout')),
    );
    for (const route of ordered) {
      if (route.path.endsWith('/logout')) await freshSessions();
      const reference = await probe(route, route.access === 'public' ? null : sys.adminToken);
      if (reference.status === 401 || reference.status === 403 || reference.status >= 500) {
        failures.push(
          `${route.method} ${route.path}: the reference call got ${reference.status} ${JSON.stringify(reference.body)}`,
        );
      }
      if (route.path.endsWith('/logout')) await freshSessions();
      const row: string[] = [];
      for (const role of roles) {
        const expected = rule(route, role);
        const want = expected === 'allowed' ? reference.status : expected;
        const res = await probe(route, role.token ? role.token() : null);
        row.push(`${role.name}=${res.status}`);
        if (res.status !== want) {
          failures.push(
            mismatch(
              `${route.method} ${route.path} as ${role.name}: expected ${want} (${expected}), got ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`,
            ),
          );
        }
        if (res.status >= 400 && res.status !== 405) {
          if (typeof res.body?.error?.code !== 'string')
            failures.push(`${route.method} ${route.path} as ${role.name}: no error envelope`);
        }
      }
      table.push(`${route.method} ${route.path} [${route.access}]: ${row.join(' ')}`);
    }
    count(
      'route_role_checks',
      routes.length * roles.length,
      `${routes.length} routes x ${roles.length} roles`,
    );
    expect(failures, table.join('\n')).toEqual([]);
    // Refused and invalid calls wrote nothing (the sessions made for the log-out probe aside).
    const changes = countChanges(before, await allCounts(sys.database)).filter(
      (c) => !c.startsWith('sessions:'),
    );
    expect(changes).toEqual([]);
  });
});

async function freshSessions() {
  for (const n of ['a', 'b'] as const) {
    const res = await call('POST', 'auth/login', { body: { email: users[n]!.email, password: PASSWORD } });
    users[n]!.token = res.body.token;
    registerSecret('session_token', res.body.token);
  }
  const res = await call('POST', 'auth/login', { body: { email: ADMIN_EMAIL, password: PASSWORD } });
  sys.adminToken = res.body.token;
  registerSecret('session_token', res.body.token);
}

describe('ownership: B cannot read or change what is A’s', () => {
  let reservationId: string;
  let reservationOfB: string;
  let sessionId: string;

  beforeAll(async () => {
    await freshSessions();
    const grant = await call('POST', 'admin/credits/grant', {
      token: sys.adminToken,
      body: { user_id: users.a!.id, credit_type: 'ai_tokens', amount: 100, pool: 'bonus', reason: 'authz' },
    });
    expect(grant.status).toBe(201);
    const grantB = await call('POST', 'admin/credits/grant', {
      token: sys.adminToken,
      body: { user_id: users.b!.id, credit_type: 'ai_tokens', amount: 100, pool: 'bonus', reason: 'authz' },
    });
    expect(grantB.status).toBe(201);
    const hold = await call('POST', 'credits/reserve', {
      token: users.a!.token,
      body: { credit_type: 'ai_tokens', amount: 10, idempotency_key: 'a-hold', ttl_seconds: 600 },
    });
    expect(hold.status).toBe(201);
    reservationId = hold.body.reservation_id;
    const holdB = await call('POST', 'credits/reserve', {
      token: users.b!.token,
      body: { credit_type: 'ai_tokens', amount: 10, idempotency_key: 'b-hold', ttl_seconds: 600 },
    });
    reservationOfB = holdB.body.reservation_id;
    const price = await getPriceByLookupKey(sys.deps.db, 'credits_10k');
    const checkout = await call('POST', 'payments/checkout', {
      token: users.a!.token,
      body: { price_id: price!.id },
    });
    expect(checkout.status).toBe(201);
    sessionId = checkout.body.session_id;
  });

  const asB = (method: string, path: string, b?: unknown) => {
    count('ownership_checks');
    return call(method, path, { token: users.b!.token, body: b });
  };

  it("A's reservation, checkout session and API key are invisible to B (404) and unchanged", async () => {
    const before = await allCounts(sys.database);
    expect((await asB('GET', `credits/reservations/${reservationId}`)).status).toBe(404);
    expect((await asB('POST', `credits/reservations/${reservationId}/commit`, {})).status).toBe(404);
    expect((await asB('POST', `credits/reservations/${reservationId}/release`, {})).status).toBe(404);
    // Another user's checkout session is refused (403 here; reservations and keys answer 404).
    const session = await asB('GET', `payments/checkout/${sessionId}`);
    expect([403, 404]).toContain(session.status);
    expect(JSON.stringify(session.body)).not.toContain(users.a!.id);
    expect((await asB('DELETE', `api-keys/${keys['credits:read']!.id}`)).status).toBe(404);
    expect(countChanges(before, await allCounts(sys.database))).toEqual([]);
    const mine = await call('GET', `credits/reservations/${reservationId}`, { token: users.a!.token });
    expect(mine.body.status).toBe('held');
    expect((await call('GET', 'me', { token: keys['credits:read']!.key })).status).toBe(200);
  });

  it("B's lists never include A's payments, credits or keys", async () => {
    const payments = await asB('GET', 'payments');
    expect(payments.status).toBe(200);
    expect(payments.body.data).toEqual([]);
    const balance = await asB('GET', 'credits/balance?credit_type=ai_tokens');
    expect(balance.body.available).toBe(90); // 100 granted, 10 on hold
    const ledger = await asB('GET', 'credits/transactions');
    expect(ledger.body.data.every((t: { user_id?: string }) => !t.user_id || t.user_id === users.b!.id)).toBe(
      true,
    );
    expect(JSON.stringify(ledger.body)).not.toContain('a-hold');
    const keyList = await asB('GET', 'api-keys');
    expect(keyList.body.data).toEqual([]);
  });

  /**
   * Every non-admin route that takes a `user_id` (query or body), found in the document: B (session or
   * key) naming A gets 403 and nothing is written; a service key naming A is served; a service key
   * naming an admin is refused.
   */
  it('naming another user_id: 403 for users and their keys, allowed for a service key, never an admin', async () => {
    const dict = {
      price_id: (await getPriceByLookupKey(sys.deps.db, 'pro_monthly'))!.id,
      credit_type: 'ai_tokens',
      amount: 1,
      idempotency_key: () => `own-${Math.random().toString(36).slice(2)}`,
      feature: 'sso',
    };
    const targets = routes.filter(
      (r) =>
        r.access !== 'admin' &&
        r.access !== 'public' &&
        (r.params.some((p) => p.in === 'query' && p.name === 'user_id') || !!r.body?.properties?.user_id),
    );
    expect(targets.length).toBeGreaterThan(10);
    const failures: string[] = [];
    await bKey('user:credits:read'); // made before counting: creating them writes rows
    await otherAdminId();
    const before = await allCounts(sys.database);
    for (const route of targets) {
      const send = (token: string, userId: string) => {
        const inQuery = route.params.some((p) => p.in === 'query' && p.name === 'user_id');
        const query = new URLSearchParams({ ...(inQuery ? { user_id: userId } : {}) });
        for (const p of route.params.filter((x) => x.in === 'query' && x.name !== 'user_id')) {
          const v = dict[p.name as keyof typeof dict];
          if (v !== undefined || p.required)
            query.set(p.name, String(typeof v === 'function' ? v() : (v ?? 'x')));
        }
        // B's own reservation: the refusal must come from naming A, not from the reservation's owner.
        const path = `${concrete(route, { id: reservationOfB })}${query.size ? `?${query}` : ''}`;
        count('ownership_checks');
        return call(route.method, path, {
          token,
          body: route.body
            ? { ...body(route.body, dict, Object.keys(dict)), ...(inQuery ? {} : { user_id: userId }) }
            : undefined,
        });
      };
      for (const [who, token] of [
        ['user B', users.b!.token],
        ["B's key", null],
      ] as const) {
        const t = token ?? (await bKey(route.access));
        const res = await send(t, users.a!.id);
        // A reservation route may also answer 404: "another user's reservation is reported as not found".
        const ok = res.status === 403 || (res.status === 404 && route.path.includes('{id}'));
        if (!ok) failures.push(mismatch(`${route.method} ${route.path}: ${who} naming A got ${res.status}`));
      }
      const admin = await send(keys.service!.key, await otherAdminId());
      if (admin.status !== 403 && admin.status !== 404) {
        failures.push(
          mismatch(`${route.method} ${route.path}: a service key naming an admin got ${admin.status}`),
        );
      }
      const served = await send(keys.service!.key, users.a!.id);
      if (served.status === 401 || served.status === 403 || served.status >= 500) {
        failures.push(mismatch(`${route.method} ${route.path}: a service key naming A got ${served.status}`));
      }
    }
    expect(failures).toEqual([]);
    // Only the service key's own successful calls may have written (a consumption, a hold for A).
    const changes = countChanges(before, await allCounts(sys.database));
    expect(
      changes.every((c) => /^(credit_|stripe_events)/.test(c)),
      changes.join(', '),
    ).toBe(true);
  });

  it('a user cannot mint an admin key or a service key; a revoked key stops working', async () => {
    const before = await allCounts(sys.database);
    for (const b of [
      { name: 'x', scopes: ['admin'] },
      { name: 'x', scopes: ['credits:read'], on_behalf: true },
    ]) {
      count('ownership_checks');
      const res = await call('POST', 'api-keys', { token: users.b!.token, body: b });
      expect(res.status, JSON.stringify(b)).toBe(403);
    }
    expect(countChanges(before, await allCounts(sys.database))).toEqual([]);
    const k = await key(users.b!.token, 'short-lived', ['credits:read']);
    expect((await call('GET', 'credits/balance', { token: k.key })).status).toBe(200);
    expect((await call('DELETE', `api-keys/${k.id}`, { token: users.b!.token })).status).toBe(200);
    expect((await call('GET', 'credits/balance', { token: k.key })).status).toBe(401);
  });
});

let bKeys: Record<string, string> | null = null;
async function bKey(access: string): Promise<string> {
  if (!bKeys) {
    bKeys = {};
    for (const s of USER_SCOPES) bKeys[s] = (await key(users.b!.token, `b ${s}`, [s])).key;
  }
  return bKeys[access.replace(/^user:/, '')] ?? bKeys['credits:read']!;
}

let otherAdmin: string | null = null;
/** An admin other than the service key's creator (acting for its own creator is what any key does). */
async function otherAdminId(): Promise<string> {
  if (otherAdmin) return otherAdmin;
  const u = await signupUser(call, 'second-admin@reliability.test');
  registerSecret('session_token', u.token);
  await setRole(sys.deps.db, u.user.id, 'admin');
  otherAdmin = u.user.id as string;
  return otherAdmin;
}

describe('pages', () => {
  const PUBLIC = ['/', '/pricing', '/checkout/cancel'];
  const GUEST_ONLY = ['/login', '/signup'];
  const SIGNED_IN = ['/account/billing', '/try', '/checkout/success'];
  const ADMIN = [
    '/admin',
    '/admin/catalog',
    '/admin/discounts',
    '/admin/customers',
    '/admin/payments',
    '/admin/events',
    '/admin/jobs',
  ];

  it('each page answers each kind of visitor as it should (redirect to log in, 403 page, or the page)', async () => {
    await freshSessions();
    const visitors = [
      { name: 'anonymous', token: null as string | null },
      { name: 'user A', token: users.a!.token },
      { name: 'admin', token: sys.adminToken },
    ];
    const failures: string[] = [];
    for (const page of [...PUBLIC, ...GUEST_ONLY, ...SIGNED_IN, ...ADMIN]) {
      for (const v of visitors) {
        const res = await sys.instances[0]!.fetch(page, {
          redirect: 'manual',
          headers: v.token ? { authorization: `Bearer ${v.token}` } : {},
        });
        count('ownership_checks');
        let want: number;
        if (PUBLIC.includes(page)) want = 200;
        else if (GUEST_ONLY.includes(page)) want = v.token ? 303 : 200;
        else if (!v.token) want = 303;
        else if (ADMIN.includes(page) && v.name !== 'admin') want = 403;
        else want = 200;
        if (res.status !== want)
          failures.push(mismatch(`page ${page} as ${v.name}: expected ${want}, got ${res.status}`));
        if (want === 303 && !v.token) {
          expect(res.headers.get('location')).toBe(`/login?next=${encodeURIComponent(page)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
