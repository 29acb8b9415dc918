import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestApp, signupUser, type TestApp } from './harness';

let t: TestApp;
let call: ReturnType<typeof api>;
beforeAll(async () => {
  t = await createTestApp();
  call = api(t.app);
});
afterAll(() => t.close());

type Operation = { 'x-paywire-access'?: string; security?: unknown[] };

describe('the OpenAPI document', () => {
  it('is served and declares an access rule on every operation', async () => {
    const res = await call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const paths = Object.entries(res.body.paths as Record<string, Record<string, Operation>>);
    expect(paths.length).toBeGreaterThan(3);
    for (const [path, ops] of paths) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op['x-paywire-access'], `${method.toUpperCase()} ${path}`).toBeTruthy();
      }
    }
  });

  it('every admin route refuses a signed-in non-admin with 403 (walked from the document)', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    const user = await signupUser(call);
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)) {
      for (const [method, op] of Object.entries(ops)) {
        if (op['x-paywire-access'] !== 'admin') continue;
        const concrete = path.replace(/\{[^}]+\}/g, '01900000-0000-7000-8000-000000000000');
        expect(path.startsWith('/api/v1/'), path).toBe(true);
        const res = await call(method.toUpperCase(), concrete, {
          token: user.token,
          body: method === 'get' || method === 'delete' ? undefined : {},
        });
        expect(res.status, `${method.toUpperCase()} ${path}`).toBe(403);
        const anonymous = await call(method.toUpperCase(), concrete, {
          body: method === 'get' || method === 'delete' ? undefined : {},
        });
        expect(anonymous.status, `anonymous ${method.toUpperCase()} ${path}`).toBe(401);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('serves the reference page with its script from this server', async () => {
    const page = await t.app.request('/docs');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('/docs/assets/scalar.js');
    expect(html).not.toMatch(/https?:\/\/(cdn|unpkg|fonts)\./);
    const script = await t.app.request('/docs/assets/scalar.js');
    expect(script.status).toBe(200);
    expect(Number((await script.arrayBuffer()).byteLength)).toBeGreaterThan(100_000);
  });

  it('answers health and readiness, and unknown routes with the error envelope', async () => {
    expect((await call('GET', '/healthz')).body).toEqual({ ok: true });
    expect((await call('GET', '/readyz')).body.ok).toBe(true);
    const missing = await call('GET', 'nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: 'not_found' });
    expect(missing.headers.get('x-request-id')).toBe(missing.body.error.request_id);
  });

  it('refuses an oversized body with 413', async () => {
    const res = await call('POST', 'auth/signup', {
      body: { email: 'a@b.co', password: 'x'.repeat(2 * 1024 * 1024) },
    });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });
});
