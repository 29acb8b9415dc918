import { setRole } from '../users/users.service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  countRows,
  createTestApp,
  PASSWORD,
  signupUser,
  type TestApp,
  uniqueEmail,
} from '../../../test/harness';

let t: TestApp;
let call: ReturnType<typeof api>;
const TABLES = ['users', 'sessions', 'api_keys'];

beforeAll(async () => {
  t = await createTestApp({ env: { ADMIN_EMAIL: 'boss@example.com', LOGIN_MAX_FAILURES: '3' } });
  call = api(t.app);
});
afterAll(() => t.close());

function cookiesFrom(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of headers.getSetCookie()) {
    const [pair] = line.split(';');
    const [k, v] = pair!.split('=');
    out[k!.trim()] = v ?? '';
  }
  return out;
}

describe('sign-up and log-in', () => {
  it('signs up, answers {token, user} and sets an HttpOnly session cookie', async () => {
    const email = uniqueEmail();
    const res = await call('POST', 'auth/signup', { body: { email, password: PASSWORD, name: 'Ada' } });
    expect(res.status).toBe(201);
    expect(res.body.token).toMatch(/^pws_/);
    expect(res.body.user).toMatchObject({ email, name: 'Ada', role: 'user' });
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('paywire_session='));
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
  });

  it('logs in by Bearer token: me, then log-out invalidates the token', async () => {
    const { email } = await signupUser(call);
    const login = await call('POST', 'auth/login', {
      body: { email: email.toUpperCase(), password: PASSWORD },
    });
    expect(login.status).toBe(200);
    const token = login.body.token;
    const me = await call('GET', 'me', { token });
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe(email);
    expect(me.body.via).toBe('session');
    expect((await call('POST', 'auth/logout', { token })).status).toBe(200);
    expect((await call('GET', 'me', { token })).status).toBe(401);
  });

  it('works by cookie, and a cookie-authenticated POST needs the CSRF token', async () => {
    const { email } = await signupUser(call);
    const login = await call('POST', 'auth/login', { body: { email, password: PASSWORD } });
    const cookies = cookiesFrom(login.headers);
    const cookie = `paywire_session=${cookies.paywire_session}`;
    const me = await call('GET', 'me', { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(me.body.csrf_token).toBe(login.body.csrf_token);

    const before = await countRows(t.deps.database, TABLES);
    const noCsrf = await call('POST', 'api-keys', {
      headers: { cookie },
      body: { name: 'k', scopes: ['credits:read'] },
    });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error.code).toBe('csrf_failed');
    const wrongCsrf = await call('POST', 'auth/logout', { headers: { cookie, 'x-csrf-token': 'nope' } });
    expect(wrongCsrf.status).toBe(403);
    expect(await countRows(t.deps.database, TABLES)).toEqual(before);

    const out = await call('POST', 'auth/logout', {
      headers: { cookie, 'x-csrf-token': login.body.csrf_token },
    });
    expect(out.status).toBe(200);
    expect((await call('GET', 'me', { headers: { cookie } })).status).toBe(401);
  });

  it('refuses a wrong password with 401 and writes nothing', async () => {
    const { email } = await signupUser(call);
    const before = await countRows(t.deps.database, TABLES);
    const res = await call('POST', 'auth/login', { body: { email, password: 'wrong password!' } });
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: 'unauthorized' });
    expect(res.body.error.request_id).toBeTruthy();
    expect(await countRows(t.deps.database, TABLES)).toEqual(before);
  });

  it('refuses a duplicate email in any case with 409 and writes nothing', async () => {
    const { email } = await signupUser(call);
    const before = await countRows(t.deps.database, TABLES);
    const res = await call('POST', 'auth/signup', {
      body: { email: email.toUpperCase(), password: PASSWORD },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('conflict');
    expect(await countRows(t.deps.database, TABLES)).toEqual(before);
  });

  it.each([
    ['an invalid email', { email: 'not-an-email', password: PASSWORD }, 'email'],
    ['a short password', { email: 'short@example.com', password: 'short' }, 'password'],
    ['an unknown field', { email: 'x@example.com', password: PASSWORD, role: 'admin' }, ''],
    ['a wrong type', { email: 'y@example.com', password: 12345678901 }, 'password'],
    ['a missing field', { email: 'z@example.com' }, 'password'],
  ])('refuses %s with 400 naming the field, writing nothing', async (_label, body, field) => {
    const before = await countRows(t.deps.database, TABLES);
    const res = await call('POST', 'auth/signup', { body });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    if (field) expect(res.body.error.details.fields.map((f: { path: string }) => f.path)).toContain(field);
    else expect(res.body.error.message).toMatch(/unrecognized|unknown/i);
    expect(await countRows(t.deps.database, TABLES)).toEqual(before);
  });

  it('refuses malformed JSON with 400', async () => {
    const res = await call('POST', 'auth/signup', { body: '{"email":' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('throttles repeated failed log-ins for one account', async () => {
    const { email } = await signupUser(call);
    for (let i = 0; i < 3; i++) {
      expect(
        (await call('POST', 'auth/login', { body: { email, password: 'wrong password!' } })).status,
      ).toBe(401);
    }
    const blocked = await call('POST', 'auth/login', { body: { email, password: PASSWORD } });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe('rate_limited');
    expect(blocked.headers.get('retry-after')).toBeTruthy();
  });
});

describe('admins and API keys', () => {
  let admin: { token: string };
  let user: { token: string; user: { id: string } };

  beforeAll(async () => {
    admin = await signupUser(call, 'Boss@Example.com');
    user = await signupUser(call);
  });

  it('makes the ADMIN_EMAIL sign-up an admin only while no admin exists', async () => {
    const me = await call('GET', 'me', { token: admin.token });
    expect(me.body.user.role).toBe('admin');
    // The same address again after a soft delete would be the only way; a second sign-up is a conflict,
    // and the bootstrap rule itself is covered in users.test.ts.
  });

  it('refuses non-admins on admin routes with 403 and lets admins in', async () => {
    expect((await call('GET', 'admin/users', { token: user.token })).status).toBe(403);
    expect((await call('GET', 'admin/users')).status).toBe(401);
    const ok = await call('GET', 'admin/users', { token: admin.token });
    expect(ok.status).toBe(200);
    expect(ok.body.data.length).toBeGreaterThanOrEqual(2);
  });

  it('shows a key once, stores it hashed, and enforces its scopes', async () => {
    const created = await call('POST', 'api-keys', {
      token: user.token,
      body: { name: 'ci', scopes: ['billing:read'] },
    });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^pwk_/);
    const list = await call('GET', 'api-keys', { token: user.token });
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);
    const me = await call('GET', 'me', { token: created.body.key });
    expect(me.status).toBe(200);
    expect(me.body.via).toBe('api_key');
    // Creating keys needs no scope, but admin routes need the admin scope.
    expect((await call('GET', 'admin/users', { token: created.body.key })).status).toBe(403);
  });

  it('refuses a revoked key with 401', async () => {
    const created = await call('POST', 'api-keys', {
      token: user.token,
      body: { name: 'tmp', scopes: ['credits:read'] },
    });
    const del = await call('DELETE', `api-keys/${created.body.id}`, { token: user.token });
    expect(del.status).toBe(200);
    expect((await call('GET', 'me', { token: created.body.key })).status).toBe(401);
  });

  it('refuses a user asking for an admin or service key with 403, writing nothing', async () => {
    const before = await countRows(t.deps.database, TABLES);
    const adminKey = await call('POST', 'api-keys', {
      token: user.token,
      body: { name: 'x', scopes: ['admin'] },
    });
    expect(adminKey.status).toBe(403);
    const serviceKey = await call('POST', 'api-keys', {
      token: user.token,
      body: { name: 'x', scopes: ['credits:write'], on_behalf: true },
    });
    expect(serviceKey.status).toBe(403);
    expect(await countRows(t.deps.database, TABLES)).toEqual(before);
  });

  it('lets an admin create a service key, and an admin key works on admin routes', async () => {
    const key = await call('POST', 'api-keys', {
      token: admin.token,
      body: { name: 'backend', scopes: ['admin', 'credits:write'], on_behalf: true },
    });
    expect(key.status).toBe(201);
    expect(key.body.on_behalf).toBe(true);
    expect((await call('GET', 'admin/users', { token: key.body.key })).status).toBe(200);
  });

  it('stops honouring an admin key (even cached) once its creator is no longer an admin', async () => {
    const other = await signupUser(call);
    await setRole(t.deps.db, other.user.id, 'admin');
    const key = await call('POST', 'api-keys', {
      token: other.token,
      body: { name: 'ops', scopes: ['admin'] },
    });
    expect(key.status).toBe(201);
    expect((await call('GET', 'admin/users', { token: key.body.key })).status).toBe(200); // now cached
    await setRole(t.deps.db, other.user.id, 'user', t.deps.invalidation);
    expect((await call('GET', 'admin/users', { token: key.body.key })).status).toBe(401);
    expect((await call('GET', 'admin/users', { token: other.token })).status).toBe(403);
  });

  it('refuses another user’s key id on delete with 404', async () => {
    const created = await call('POST', 'api-keys', {
      token: admin.token,
      body: { name: 'a', scopes: ['credits:read'] },
    });
    expect((await call('DELETE', `api-keys/${created.body.id}`, { token: user.token })).status).toBe(404);
  });

  it('refuses a malformed Authorization header and an unknown token with 401', async () => {
    expect((await call('GET', 'me', { headers: { authorization: 'Basic abc' } })).status).toBe(401);
    expect((await call('GET', 'me', { token: 'pws_unknown' })).status).toBe(401);
  });
});

describe('logs', () => {
  it('never contain passwords, session tokens or API keys', async () => {
    const email = uniqueEmail('logs');
    const password = 'a-very-secret-password-123';
    const signup = await call('POST', 'auth/signup', { body: { email, password } });
    const key = await call('POST', 'api-keys', {
      token: signup.body.token,
      body: { name: 'k', scopes: ['credits:read'] },
    });
    await call('GET', 'me', { token: key.body.key });
    await call('POST', 'auth/login', { body: { email, password: 'wrong-password-xyz' } });
    await call('GET', 'me', { token: 'pws_not-a-real-token-abcdef' });
    const all = t.logs.join('\n');
    expect(t.logs.length).toBeGreaterThan(0);
    for (const secret of [
      password,
      'wrong-password-xyz',
      signup.body.token,
      key.body.key,
      'pws_not-a-real-token-abcdef',
    ]) {
      expect(all).not.toContain(secret);
    }
  });
});
