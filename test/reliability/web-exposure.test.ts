import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getPriceByLookupKey } from '../../src/modules/catalog/catalog.service';
import { type ApiCaller, PASSWORD, signupUser } from '../harness';
import type { Instance } from './kit/apps';
import { allCounts, countChanges } from './kit/db';
import { count, registerSecret } from './kit/report';
import { PUBLIC_URL, startSystem, type System } from './kit/system';

/**
 * What a page or a redirect may expose (issue 13, item 4): open redirects in success/cancel/return URLs
 * and the log-in `next`, the pages' security headers, stored HTML and SQL, and the emulator's control API,
 * which must not be reachable through the app.
 */
let sys: System;
let a: Instance;
let call: ApiCaller;

beforeAll(async () => {
  sys = await startSystem({
    template: inject('templateDb'),
    label: 'webexp',
    instances: 1,
    fixedTime: false,
  });
  a = sys.instances[0]!;
  call = a.call;
});
afterAll(() => sys?.close());

let n = 0;
async function person(tag: string) {
  const u = await signupUser(call, `${tag}-${++n}@reliability.test`);
  registerSecret('session_token', u.token);
  registerSecret('csrf_token', u.csrf);
  return u;
}

const cookieOf = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith(`${name}=`))
    ?.slice(name.length + 1);

const EVIL_URLS = [
  'https://evil.example/',
  '//evil.example/x',
  '/\\evil.example',
  '\\\\evil.example',
  `${PUBLIC_URL}@evil.example/`,
  `${PUBLIC_URL}.evil.example/`,
  'http://127.0.0.1:8001/checkout/success',
  'https://127.0.0.1:8000/checkout/success',
  'javascript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'http:evil.example',
  'https:/\\evil.example',
  'HTTP://EVIL.EXAMPLE/',
  ' https://evil.example/',
];

describe('open redirects', () => {
  it('checkout success_url and cancel_url off our origin: 400, nothing written here or in Stripe', async () => {
    const u = await person('redirect');
    const price = await getPriceByLookupKey(sys.deps.db, 'credits_10k');
    const sessionsBefore = sys.emu.ctx.store.all('checkout_sessions').length;
    const before = await allCounts(sys.database);
    for (const evil of EVIL_URLS) {
      for (const field of ['success_url', 'cancel_url']) {
        count('attacks');
        const res = await call('POST', 'payments/checkout', {
          token: u.token,
          body: { price_id: price!.id, [field]: evil },
        });
        expect(res.status, `${field}=${evil}`).toBe(400);
        expect(res.body.error.code).toBe('invalid_request');
      }
    }
    expect(countChanges(before, await allCounts(sys.database))).toEqual([]);
    expect(sys.emu.ctx.store.all('checkout_sessions').length).toBe(sessionsBefore);
    // Our own origin is accepted.
    const ok = await call('POST', 'payments/checkout', {
      token: u.token,
      body: {
        price_id: price!.id,
        success_url: `${PUBLIC_URL}/checkout/success`,
        cancel_url: `${PUBLIC_URL}/pricing`,
      },
    });
    expect(ok.status).toBe(201);
  });

  it('the billing portal return_url off our origin: 400', async () => {
    const u = await person('portal');
    for (const evil of EVIL_URLS) {
      count('attacks');
      const res = await call('POST', 'payments/portal', { token: u.token, body: { return_url: evil } });
      // 400 for the URL; a user who never bought anything may also get 404 before the URL is looked at.
      expect([400, 404], `return_url=${evil}`).toContain(res.status);
      if (res.status === 404) expect(res.body.error.code).not.toBe('invalid_request');
    }
  });

  it('the log-in `next` parameter never leaves the site (form post, and the page when signed in)', async () => {
    const u = await person('next');
    for (const evil of [...EVIL_URLS, '/%5Cevil.example', '/\tevil', '/login?next=//evil.example']) {
      count('attacks', 2);
      const form = await a.fetch('/login', {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email: u.email, password: PASSWORD, next: evil }),
      });
      expect(form.status).toBe(303);
      const location = form.headers.get('location')!;
      registerSecret('session_token', cookieOf(form, 'paywire_session'));
      expect(location, `next=${evil}`).toMatch(/^\/(?![/\\])/);
      expect(new URL(location, PUBLIC_URL).origin).toBe(PUBLIC_URL);
      const page = await a.fetch(`/login?next=${encodeURIComponent(evil)}`, {
        redirect: 'manual',
        headers: { authorization: `Bearer ${u.token}` },
      });
      expect(page.status).toBe(303);
      expect(new URL(page.headers.get('location')!, PUBLIC_URL).origin).toBe(PUBLIC_URL);
    }
    // A local path is kept.
    const ok = await a.fetch('/login', {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: u.email, password: PASSWORD, next: '/try?x=1' }),
    });
    registerSecret('session_token', cookieOf(ok, 'paywire_session'));
    expect(ok.headers.get('location')).toBe('/try?x=1');
  });
});

describe('pages and stored content', () => {
  const PAGES = [
    '/',
    '/pricing',
    '/login',
    '/signup',
    '/account/billing',
    '/try',
    '/admin',
    '/admin/customers',
    '/admin/events',
  ];

  it('every page carries the security headers (CSP without inline code, no framing, nosniff, no-store)', async () => {
    for (const page of PAGES) {
      const res = await a.fetch(page, { headers: { authorization: `Bearer ${sys.adminToken}` } });
      expect(res.status, page).toBe(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, page).toMatch(/default-src 'self'/);
      expect(csp, page).toMatch(/script-src 'self'(;|$)/);
      expect(csp, page).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(csp, page).toMatch(/frame-ancestors 'none'/);
      expect(res.headers.get('x-content-type-options'), page).toBe('nosniff');
      expect(res.headers.get('cache-control'), page).toMatch(/no-store/);
      expect(res.headers.get('referrer-policy'), page).toBeTruthy();
      const html = await res.text();
      expect(html.match(/<script(?![^>]*\bsrc=)[^>]*>/g) ?? [], `${page}: inline scripts`).toEqual([]);
      expect(html, page).not.toMatch(/https?:\/\/(cdn|unpkg|fonts)\./);
    }
    const api = await a.fetch('/api/v1/catalog');
    expect(api.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('HTML and SQL typed into text fields are stored as typed and shown escaped', async () => {
    const html = '<script>alert("pwned")</script><img src=x onerror=alert(1)>';
    const sqlText = "Robert'); DROP TABLE users; --";
    const u = await signupUser(call, `xss-${++n}@reliability.test`, `${html} ${sqlText}`);
    registerSecret('session_token', u.token);
    expect(u.user.name).toBe(`${html} ${sqlText}`);
    expect((await allCounts(sys.database)).users).toBeGreaterThan(1);
    const page = await a.fetch(`/admin/customers/${u.user.id}`, {
      headers: { authorization: `Bearer ${sys.adminToken}` },
    });
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).not.toContain('<script>alert("pwned")');
    expect(text).not.toContain('<img src=x');
    expect(text).toContain('&lt;script&gt;');
    count('attacks', 2);
  });
});

describe("the emulator's control API", () => {
  it('is not reachable through the app, whatever the method, and nothing changes in the emulator', async () => {
    const faults = JSON.stringify(sys.emu.ctx.faults);
    const clock = sys.emu.clock.nowSeconds();
    const customers = sys.emu.ctx.store.all('customers').length;
    for (const path of [
      '/_emulator/faults',
      '/_emulator/reset',
      '/_emulator/clock',
      '/_emulator/clock/advance',
      '/_emulator/deliveries/flush',
      '/_emulator/checkout/sessions/cs_test_x/complete',
      '/_emulator/billing/settings',
      '/api/v1/_emulator/faults',
      '/api/v1/../_emulator/faults',
      '/%5F%65mulator/faults',
      '/v1/customers',
      '/v1/checkout/sessions',
    ]) {
      for (const method of ['GET', 'POST', 'DELETE', 'PUT']) {
        count('attacks');
        const res = await a.fetch(path, {
          method,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${sys.adminToken}` },
          body: method === 'GET' ? undefined : JSON.stringify({ delivery: { off: true }, seconds: 86_400 }),
        });
        expect(res.status, `${method} ${path}`).toBe(404);
      }
    }
    expect(JSON.stringify(sys.emu.ctx.faults)).toBe(faults);
    expect(sys.emu.clock.nowSeconds() - clock).toBeLessThan(60);
    expect(sys.emu.ctx.store.all('customers').length).toBe(customers);
  });
});
