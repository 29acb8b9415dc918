import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, createTestApp, type TestApp } from '../../test/harness';
import { quickUser } from '../../test/credits-kit';
import { setRole } from '../modules/users/users.service';
import { lookupUser } from './auth';
import { SECURITY_HEADERS } from './request-scope';

const SECRET = 'whsec_request_scope_test';
let t: TestApp;
let server: ReturnType<typeof serve>;
let base: string;

beforeAll(async () => {
  t = await createTestApp({ env: { STRIPE_WEBHOOK_SECRET: SECRET, BODY_LIMIT_BYTES: '2048' } });
  server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await t.close();
});

const securityHeadersOf = (res: Response) =>
  Object.fromEntries(Object.keys(SECURITY_HEADERS).map((k) => [k, res.headers.get(k)]));

describe('request scope: request id and security headers', () => {
  for (const via of ['app.request()', 'a socket (node-server)'] as const) {
    const get = (path: string, headers: Record<string, string> = {}) =>
      via === 'app.request()' ? t.app.request(path, { headers }) : fetch(`${base}${path}`, { headers });

    it(`sets every security header and a request id on answers and errors, through ${via}`, async () => {
      for (const path of ['/healthz', '/api/v1/nowhere', '/api/v1/me']) {
        const res = await get(path);
        expect(securityHeadersOf(res), path).toEqual(SECURITY_HEADERS);
        expect(res.headers.get('x-request-id'), path).toMatch(/^[0-9a-f-]{36}$/);
        await res.body?.cancel();
      }
    });

    it(`keeps a well-formed X-Request-Id from the caller and replaces a malformed one, through ${via}`, async () => {
      const kept = await get('/healthz', { 'x-request-id': 'abc-123=' });
      expect(kept.headers.get('x-request-id')).toBe('abc-123=');
      const replaced = await get('/healthz', { 'x-request-id': 'has spaces; and more' });
      expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const error = await get('/api/v1/me', { 'x-request-id': 'req-42' });
      expect(error.status).toBe(401);
      expect((await error.json()).error.request_id).toBe('req-42');
    });

    it(`lets a page's own header win over the default, through ${via}`, async () => {
      const res = await get('/pricing');
      expect(res.headers.get('referrer-policy')).toBe('same-origin');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      await res.body?.cancel();
    });
  }
});

describe('body limit and raw webhook bodies', () => {
  it('refuses a declared body over the limit with 413 before reading it, and writes nothing', async () => {
    const before = await countRows(t.deps.database, ['stripe_events']);
    const res = await fetch(`${base}/api/v1/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=x' },
      body: 'x'.repeat(4096),
    });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('payload_too_large');
    expect(await countRows(t.deps.database, ['stripe_events'])).toEqual(before);
  });

  it('refuses a chunked body over the limit with 413 too', async () => {
    const chunks = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode('y'.repeat(1024)));
        controller.close();
      },
    });
    const res = await fetch(`${base}/api/v1/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=x' },
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  it('verifies a signed event over a socket against the exact bytes received', async () => {
    const payload = JSON.stringify({
      id: `evt_scope_${Date.now()}`,
      object: 'event',
      type: 'radar.early_fraud_warning.created',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      data: { object: { id: 'issfr_1', note: 'ünïcödé bytes' } },
    });
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET });
    const post = (body: string) =>
      fetch(`${base}/api/v1/webhooks/stripe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': header },
        body,
      });
    const ok = await post(payload);
    expect(await ok.json()).toEqual({ received: true, status: 'ignored' });
    const again = await post(payload);
    expect(await again.json()).toEqual({ received: true, status: 'duplicate' });
    const altered = await post(payload.replace('ünïcödé', 'unicode'));
    expect(altered.status).toBe(400);
  });
});

describe('lookupUser (the user a service key names)', () => {
  it('answers from memory until the user changes, and never remembers a miss', async () => {
    const id = await quickUser(t.deps.db);
    const first = await lookupUser(t.deps, id!);
    expect(first?.role).toBe('user');
    expect(await lookupUser(t.deps, id!)).toBe(first);
    await setRole(t.deps.db, id!, 'admin');
    // The NOTIFY of the role change reaches this instance's listener after the commit.
    let seen = await lookupUser(t.deps, id!);
    for (let i = 0; i < 50 && seen?.role !== 'admin'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      seen = await lookupUser(t.deps, id!);
    }
    expect(seen?.role).toBe('admin');

    const missing = '01900000-0000-7000-8000-000000000000';
    expect(await lookupUser(t.deps, missing)).toBeUndefined();
    await t.deps.db.execute(
      (await import('drizzle-orm'))
        .sql`insert into users (id, email, password_hash) values (${missing}, 'late@x.test', 'x')`,
    );
    expect((await lookupUser(t.deps, missing))?.id).toBe(missing);
  });
});
