import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREDIT_TABLES, expectConsistent } from '../../test/credits-kit';
import {
  api,
  countRows,
  createTestApp,
  PASSWORD,
  signupUser,
  type TestApp,
  uniqueEmail,
} from '../../test/harness';
import { createProduct } from '../modules/catalog/products.service';
import { createPrice } from '../modules/catalog/prices.service';
import { getBalance, listTransactions } from '../modules/credits/credits.queries';
import { grantCredits } from '../modules/credits/credits.service';
import { csrfTokenFor } from '../modules/auth/auth.service';
import { PAGE_CSP } from './render';
import { safeNext } from './session';

/**
 * The pages over `app.request()` (no browser): access rules, the log-in redirect, CSRF on page forms,
 * the /try route guard, escaping and headers. The browser tests in test/e2e/ drive the same pages in Chromium.
 */

let t: TestApp;
let call: ReturnType<typeof api>;
let admin: Awaited<ReturnType<typeof signupUser>>;
let user: Awaited<ReturnType<typeof signupUser>>;

const ADMIN_PAGES = [
  '/admin',
  '/admin/catalog',
  '/admin/discounts',
  '/admin/customers',
  '/admin/payments',
  '/admin/events',
  '/admin/jobs',
];

const get = (path: string, token?: string, headers: Record<string, string> = {}) =>
  t.app.request(path, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });

const cookieOf = (token: string) => `paywire_session=${token}`;

const form = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  t.app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });

beforeAll(async () => {
  t = await createTestApp({ env: { ADMIN_EMAIL: 'web-admin@example.com', LOGIN_MAX_FAILURES: '3' } });
  call = api(t.app);
  admin = await signupUser(call, 'web-admin@example.com');
  user = await signupUser(call);
});
afterAll(() => t.close());

describe('safeNext', () => {
  it('keeps local paths and refuses anything that could leave the site', () => {
    expect(safeNext('/try')).toBe('/try');
    expect(safeNext('/pricing?x=1#pro_monthly')).toBe('/pricing?x=1#pro_monthly');
    for (const bad of [
      '//evil.example',
      '/\\evil.example',
      '\\\\evil.example',
      'https://evil.example/',
      'javascript:alert(1)',
      '/%0d%0aSet-Cookie:x',
      '/\tevil',
      'evil.example',
      '',
      '/login?next=/x',
    ]) {
      const out = safeNext(bad);
      expect(out, bad).toMatch(/^\/(?!\/)/);
      expect(new URL(out, 'http://app.test').origin, bad).toBe('http://app.test');
    }
    expect(safeNext('/\\evil.example')).toBe('/account/billing');
  });
});

describe('access to pages', () => {
  it('sends a logged-out visitor to log in with the page to come back to', async () => {
    for (const path of [
      '/account/billing',
      '/try',
      '/admin/events?status=failed',
      '/checkout/success?session_id=cs_1',
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.get('location'), path).toBe(`/login?next=${encodeURIComponent(path)}`);
    }
  });

  it('gives a signed-in non-admin a 403 page on every admin page, by cookie or Bearer token', async () => {
    for (const path of ADMIN_PAGES) {
      for (const res of [
        await get(path, user.token),
        await get(path, undefined, { cookie: cookieOf(user.token) }),
      ]) {
        expect(res.status, path).toBe(403);
        expect(res.headers.get('content-type'), path).toContain('text/html');
        const html = await res.text();
        expect(html).toContain('Not allowed');
        expect(html).not.toContain('"error"');
      }
    }
  });

  it('serves every admin page to an admin', async () => {
    for (const path of [...ADMIN_PAGES, `/admin/customers/${user.user.id}`]) {
      const res = await get(path, admin.token);
      expect(res.status, path).toBe(200);
    }
    expect((await get('/admin/customers/not-a-uuid', admin.token)).status).toBe(404);
    expect((await get('/admin/customers/01900000-0000-7000-8000-000000000000', admin.token)).status).toBe(
      404,
    );
    expect((await get('/admin/nothing-here', admin.token)).status).toBe(404);
  });

  it('sets the page CSP and no-store, and keeps pages out of the OpenAPI document', async () => {
    const res = await get('/pricing');
    expect(res.headers.get('content-security-policy')).toBe(PAGE_CSP);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-frame-options')).toBeTruthy(); // the app's secureHeaders
    expect(PAGE_CSP).toContain("script-src 'self'");
    expect(PAGE_CSP).not.toContain('unsafe-inline');
    const doc = await (await get('/openapi.json')).json();
    expect(Object.keys(doc.paths).filter((p) => !p.startsWith('/api/v1'))).toEqual([]);
  });

  it('serves its assets from this machine and nothing outside the asset folder', async () => {
    expect((await get('/assets/app.js')).headers.get('content-type')).toContain('javascript');
    expect((await get('/assets/vendor/uPlot.iife.min.js')).status).toBe(200);
    const messages = await (await get('/assets/messages.js')).text();
    expect(messages).toContain('insufficient_credits');
    expect(messages).toContain('"jpy"');
    for (const bad of [
      '/assets/..%2Fweb.routes.ts',
      '/assets/vendor/..%2F..%2Fpackage.json',
      '/assets/nope.js',
    ]) {
      expect((await get(bad)).status, bad).toBe(404);
    }
    const html = await (await get('/')).text();
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)[^"']*\.(js|css)/);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline scripts
  });
});

describe('log-in and sign-up forms', () => {
  it('logs in, sets the cookies and goes to next; a wrong password gets a sentence, not JSON', async () => {
    const ok = await form('/login', { email: user.email, password: PASSWORD, next: '/try' });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/try');
    const cookies = ok.headers.getSetCookie().join('\n');
    expect(cookies).toMatch(/paywire_session=pws_[^;]+; .*HttpOnly/);
    expect(cookies).toContain('paywire_csrf=');

    const bad = await form('/login', {
      email: user.email,
      password: 'wrong password!',
      next: '//evil.example',
    });
    expect(bad.status).toBe(401);
    const html = await bad.text();
    expect(html).toContain('That email and password do not match an account.');
    expect(html).toContain('value="/account/billing"'); // the crafted next was dropped
  });

  it('shares the log-in throttle with the JSON API', async () => {
    const u = await signupUser(call);
    for (let i = 0; i < 3; i++) await form('/login', { email: u.email, password: 'wrong password!' });
    const api429 = await call('POST', 'auth/login', { body: { email: u.email, password: PASSWORD } });
    expect(api429.status).toBe(429);
    const page429 = await form('/login', { email: u.email, password: PASSWORD });
    expect(page429.status).toBe(429);
    expect(await page429.text()).toContain('Too many attempts');
  });

  it('refuses log-in and sign-up posts from another site (login CSRF)', async () => {
    const before = await countRows(t.deps.database, ['users', 'sessions']);
    const res = await form(
      '/signup',
      { email: uniqueEmail('csrf'), password: PASSWORD },
      { 'sec-fetch-site': 'cross-site' },
    );
    expect(res.status).toBe(403);
    expect(await countRows(t.deps.database, ['users', 'sessions'])).toEqual(before);
    const login = await form(
      '/login',
      { email: user.email, password: PASSWORD },
      { origin: 'https://evil.example' },
    );
    expect(login.status).toBe(403);
    expect(login.headers.getSetCookie()).toEqual([]);
  });

  it('signs up with field errors in sentences and nothing written for a bad form', async () => {
    const before = await countRows(t.deps.database, ['users']);
    const bad = await form('/signup', { email: 'not-an-email', password: 'short' });
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expect(html).toContain('Use at least 10 characters');
    expect(html).toContain('aria-invalid="true"');
    expect(await countRows(t.deps.database, ['users'])).toEqual(before);

    const taken = await form('/signup', { email: user.email.toUpperCase(), password: PASSWORD });
    expect(taken.status).toBe(409);
    expect(await taken.text()).toContain('An account with this email already exists.');

    const ok = await form('/signup', {
      email: uniqueEmail('page'),
      password: PASSWORD,
      next: '/pricing#pro_monthly',
    });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/pricing#pro_monthly');
  });

  it('logs out only with the CSRF token of the session', async () => {
    const u = await signupUser(call);
    const cookie = cookieOf(u.token);
    const forged = await form('/logout', {}, { cookie });
    expect(forged.status).toBe(403);
    expect((await get('/account/billing', undefined, { cookie })).status).toBe(200);
    const ok = await form('/logout', { _csrf: u.csrf }, { cookie });
    expect(ok.status).toBe(303);
    expect((await get('/account/billing', undefined, { cookie })).status).toBe(303);
  });
});

describe('/try and the credits guard', () => {
  const generate = (token: string, body: unknown, headers: Record<string, string> = {}) =>
    t.app.request('/try/generate', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: `Bearer ${token}`,
        ...headers,
      },
      body: JSON.stringify(body),
    });

  it('charges 1,000 ai_tokens per run and answers 402 with what is needed when they run out', async () => {
    const u = await signupUser(call);
    await grantCredits(t.deps, { userId: u.user.id, creditType: 'ai_tokens', amount: 1500, pool: 'bonus' });
    const ok = await generate(u.token, { prompt: 'hello' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({
      credits_consumed: 1000,
      remaining_balance: 500,
      credit_type: 'ai_tokens',
    });
    const poor = await generate(u.token, { prompt: 'hello again' });
    expect(poor.status).toBe(402);
    expect((await poor.json()).error).toMatchObject({
      code: 'insufficient_credits',
      details: { needed: 1000, available: 500 },
    });
    expect((await getBalance(t.deps, u.user.id, 'ai_tokens')).available).toBe(500);
    const usage = (await listTransactions(t.deps, { userId: u.user.id, limit: 50 })).data.filter(
      (r) => r.type === 'usage',
    );
    expect(usage).toHaveLength(1);
    await expectConsistent(t.deps.db, u.user.id);
  });

  it('refuses a missing or oversized prompt before holding anything', async () => {
    const u = await signupUser(call);
    await grantCredits(t.deps, { userId: u.user.id, creditType: 'ai_tokens', amount: 5000, pool: 'bonus' });
    const before = await countRows(t.deps.database, CREDIT_TABLES);
    for (const body of [{}, { prompt: '' }, { prompt: 'x'.repeat(501) }, { prompt: 42 }]) {
      const res = await generate(u.token, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await res.json()).error.code).toBe('invalid_request');
    }
    expect(await countRows(t.deps.database, CREDIT_TABLES)).toEqual(before);
  });

  it('needs the CSRF token with the session cookie, and a session', async () => {
    const u = await signupUser(call);
    const cookie = cookieOf(u.token);
    const headers = { 'content-type': 'application/json', accept: 'application/json', cookie };
    const body = JSON.stringify({ prompt: 'hi' });
    const forged = await t.app.request('/try/generate', { method: 'POST', headers, body });
    expect(forged.status).toBe(403);
    expect((await forged.json()).error.code).toBe('csrf_failed');
    const withToken = await t.app.request('/try/generate', {
      method: 'POST',
      headers: {
        ...headers,
        'x-csrf-token': csrfTokenFor(t.config.SESSION_SECRET, (await sessionIdOf(u.token))!),
      },
      body,
    });
    expect(withToken.status).toBe(402); // through the CSRF check, and no credits yet
    const anonymous = await t.app.request('/try/generate', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body,
    });
    expect(anonymous.status).toBe(401);
  });
});

async function sessionIdOf(token: string): Promise<string | undefined> {
  const { authenticate } = await import('../modules/auth/auth.service');
  return (await authenticate(t.deps, token))?.sessionId;
}

describe('escaping', () => {
  it('renders product names and descriptions as text on the pricing and admin catalog pages', async () => {
    const product = await createProduct(t.deps, {
      name: '<script>alert(1)</script>',
      description: '"><img src=x onerror=alert(2)>',
      product_type: 'credits',
      local_only: true,
    });
    await createPrice(t.deps, {
      product_id: product.id,
      unit_amount: 300,
      currency: 'usd',
      price_type: 'one_time',
      lookup_key: 'escape_me',
      local_only: true,
    });
    for (const [path, token] of [
      ['/pricing', user.token],
      ['/admin/catalog', admin.token],
      ['/account/billing', user.token],
    ] as const) {
      const html = await (await get(path, token)).text();
      expect(html, path).not.toContain('<script>alert(1)</script>');
      expect(html, path).not.toContain('<img src=x');
      if (path !== '/account/billing') expect(html, path).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    }
  });

  it('drops a checkout session id that is not one', async () => {
    const html = await (await get('/checkout/success?session_id=%22%3E%3Cscript%3E', user.token)).text();
    expect(html).not.toContain('data-session-id');
    expect(html).toContain('without a checkout reference');
    const ok = await (await get('/checkout/success?session_id=cs_test_123', user.token)).text();
    expect(ok).toContain('data-session-id="cs_test_123"');
  });
});
