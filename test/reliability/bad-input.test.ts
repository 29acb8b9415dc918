import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getPriceByLookupKey } from '../../src/modules/catalog/catalog.service';
import { PASSWORD, signupUser } from '../harness';
import { badBodies, badParams } from './kit/bad-inputs';
import { allCounts, countChanges } from './kit/db';
import { rawRequest } from './kit/http';
import { body, concrete, type Dictionary, loadRoutes, type Route } from './kit/openapi';
import { count, mismatch, registerSecret } from './kit/report';
import { startSystem, type System } from './kit/system';

/**
 * Bad input (issue 13, item 5): every JSON endpoint of /openapi.json, fed bodies generated from its own
 * schema, and every query and path parameter fed values of the wrong kind. Each must be a 4xx with the
 * error envelope (its request_id equal to the X-Request-Id header), naming the field when one is to blame,
 * and must write no row (the counts of every table compared before and after each request).
 */
let sys: System;
let routes: Route[];
let userToken: string;
let dict: Dictionary;
let seq = 0;

beforeAll(async () => {
  sys = await startSystem({
    template: inject('templateDb'),
    label: 'badinput',
    instances: 1,
    fixedTime: false,
    env: {
      DISCOUNT_VALIDATE_PER_MINUTE: '1000000',
      LOGIN_MAX_FAILURES: '1000000',
      LOGIN_MAX_FAILURES_PER_IP: '1000000',
    },
  });
  const call = sys.instances[0]!.call;
  const u = await signupUser(call, 'bad-input@reliability.test');
  userToken = u.token;
  registerSecret('session_token', u.token);
  routes = await loadRoutes(call);
  const price = await getPriceByLookupKey(sys.deps.db, 'credits_10k');
  // Real ids and sensible values, so that a base body is close to valid and the mutation is what is refused.
  dict = {
    price_id: price!.id,
    product_id: price!.productId,
    user_id: u.user.id,
    credit_type: 'ai_tokens',
    amount: 1,
    idempotency_key: () => `bad-${++seq}`,
    email: () => `bad-${++seq}@example.com`,
    password: PASSWORD,
    reason: 'reliability',
    pool: 'bonus',
    from_pool: 'bonus',
    to_pool: 'purchased',
    scopes: ['credits:read'],
    code: 'WELCOME20',
    entitlement_type: 'feature_unlock',
    feature: 'reliability_feature',
    grant_reason: 'manual',
    reference_id: 'cs_test_reliability',
    key: 'reliability',
    name: 'Reliability',
    product_type: 'credits',
    price_type: 'one_time',
    currency: 'usd',
    unit_amount: 100,
    discount_type: 'percentage',
    discount_value: 10,
    duration: 'once',
    scope: 'both',
    ttl_seconds: 60,
  };
});
afterAll(() => sys?.close());

const tokenFor = (route: Route) =>
  route.access === 'public' ? undefined : route.access === 'admin' ? sys.adminToken : userToken;

interface Outcome {
  status: number;
  text: string;
  requestId: string | undefined;
}

async function send(
  route: Route,
  path: string,
  init: { body?: string | Uint8Array; contentType?: string },
): Promise<Outcome> {
  const token = tokenFor(route);
  const res = await rawRequest(`${sys.instances[0]!.url}${path}`, {
    method: route.method,
    headers: {
      ...(init.body !== undefined ? { 'content-type': init.contentType ?? 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: init.body,
  });
  return { status: res.status, text: res.text, requestId: res.headers['x-request-id'] as string | undefined };
}

/** The checks every refused input must pass; returns what is wrong (empty: fine). */
function judge(out: Outcome, field: string | undefined, allow404: boolean): string[] {
  const problems: string[] = [];
  const ok4xx = out.status >= 400 && out.status < 500;
  if (!ok4xx) problems.push(`answered ${out.status}: ${out.text.slice(0, 200)}`);
  let parsed: { error?: { code?: unknown; message?: unknown; request_id?: unknown; details?: unknown } } = {};
  try {
    parsed = JSON.parse(out.text);
  } catch {
    problems.push(`not JSON: ${out.text.slice(0, 100)}`);
  }
  const e = parsed.error;
  if (!e || typeof e.code !== 'string' || !/^[a-z_]+$/.test(e.code) || typeof e.message !== 'string') {
    problems.push(`no error envelope: ${out.text.slice(0, 200)}`);
  } else {
    if (e.request_id !== out.requestId) problems.push('request_id differs from X-Request-Id');
    if (field && out.status === 400 && e.code === 'invalid_request' && !JSON.stringify(e).includes(field)) {
      problems.push(`the error does not name ${field}: ${JSON.stringify(e).slice(0, 200)}`);
    }
    if (out.status === 404 && !allow404) problems.push(`404 for a bad value (expected a 400 naming it)`);
  }
  return problems;
}

async function tryBodies(utf8: boolean) {
  const failures: string[] = [];
  let tried = 0;
  const bodyRoutes = routes.filter((r) => r.body && !r.path.endsWith('/webhooks/stripe'));
  expect(bodyRoutes.length).toBeGreaterThan(25);
  for (const route of bodyRoutes) {
    const base = body(route.body!, dict, Object.keys(dict));
    const path = concrete(route);
    for (const input of badBodies(route, base).filter((i) => !!i.utf8 === utf8)) {
      const before = await allCounts(sys.database);
      const out = await send(route, path, input);
      tried++;
      const problems = judge(out, input.field, route.path.includes('{'));
      const changes = countChanges(before, await allCounts(sys.database));
      if (changes.length) problems.push(`wrote rows: ${changes.join(', ')}`);
      for (const p of problems)
        failures.push(mismatch(`${route.method} ${route.path} with ${input.label}: ${p}`));
    }
  }
  count('bad_inputs', tried);
  expect(failures.slice(0, 60), `${failures.length} of ${tried} bad bodies misjudged`).toEqual([]);
}

describe('bad input on every JSON endpoint', () => {
  it('every bad body is a 4xx with the error envelope, names its field, and writes no row', () =>
    tryBodies(false));

  /**
   * Fails today on the routes whose first text field is free text (POST /api-keys `name` is created,
   * POST /discounts/validate answers 200): the JSON body is decoded leniently, invalid bytes become
   * U+FFFD and pass validation. Refusing bodies that are not valid UTF-8 (a fatal TextDecoder before
   * the JSON parse) makes this pass.
   */
  it('a JSON body that is not valid UTF-8 is a 400 with the envelope and writes no row', () =>
    tryBodies(true));

  it('every bad query or path parameter is a 4xx with the error envelope and writes no row', async () => {
    const failures: string[] = [];
    let tried = 0;
    for (const route of routes.filter((r) => !r.path.endsWith('/webhooks/stripe'))) {
      for (const bad of badParams(route.params)) {
        const base = concrete(route);
        const path =
          bad.param.in === 'path'
            ? concrete(route, { [bad.param.name]: bad.value })
            : `${base}?${new URLSearchParams({ [bad.param.name]: bad.value })}`;
        const before = await allCounts(sys.database);
        const out = await send(route, path, route.body ? { body: '{}' } : {});
        tried++;
        // A malformed id in the path may be answered 404 (it names nothing) as well as 400.
        const problems = judge(
          out,
          bad.param.in === 'query' ? bad.param.name : undefined,
          bad.param.in === 'path',
        );
        const changes = countChanges(before, await allCounts(sys.database));
        if (changes.length) problems.push(`wrote rows: ${changes.join(', ')}`);
        for (const p of problems)
          failures.push(mismatch(`${route.method} ${route.path} with ${bad.label}: ${p}`));
      }
    }
    count('bad_inputs', tried);
    expect(failures.slice(0, 60), `${failures.length} of ${tried} bad parameters misjudged`).toEqual([]);
  });

  it('an oversized body is refused with 413 on every JSON endpoint, with or without a Content-Length', async () => {
    const limit = sys.instances[0]!.t.config.BODY_LIMIT_BYTES;
    const failures: string[] = [];
    let tried = 0;
    const huge = JSON.stringify({ pad: 'x'.repeat(limit + 1) });
    for (const route of routes.filter((r) => r.body)) {
      for (const chunked of [false, true]) {
        const before = await allCounts(sys.database);
        const token = tokenFor(route);
        const res = await rawRequest(`${sys.instances[0]!.url}${concrete(route)}`, {
          method: route.method,
          headers: {
            'content-type': 'application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: huge,
          chunked,
        });
        tried++;
        if (res.status !== 413 || !res.text.includes('payload_too_large')) {
          failures.push(
            mismatch(
              `${route.method} ${route.path} (${chunked ? 'chunked' : 'sized'}): ${res.status} ${res.text.slice(0, 200)}`,
            ),
          );
        }
        const changes = countChanges(before, await allCounts(sys.database));
        if (changes.length)
          failures.push(mismatch(`${route.method} ${route.path}: wrote ${changes.join(', ')}`));
      }
    }
    count('bad_inputs', tried);
    expect(failures).toEqual([]);
  });
});
