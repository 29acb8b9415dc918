import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quickUser } from '../../test/credits-kit';
import { api, createTestApp, signupUser, type TestApp } from '../../test/harness';
import type { Deps } from '../deps';
import { JobRunner } from '../jobs/runner';
import { consume, grantCredits } from '../modules/credits/credits.service';
import { can } from '../modules/entitlements/entitlements.service';
import { receiveEvent } from '../webhooks/inbox';

const TOKEN = 'metrics-token-0123456789';
let t: TestApp;
let open: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { METRICS_TOKEN: TOKEN, STRIPE_WEBHOOK_SECRET: 'whsec_metrics' } });
  // A second app instance on the same database, without a token.
  open = await createTestApp({ database: t.deps.database });
});
afterAll(async () => {
  await open?.close();
  await t?.close();
});

async function scrape(app: TestApp, token: string | null = TOKEN) {
  const res = await app.app.request('/metrics', {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

/** The value of one series line, e.g. `paywire_job_runs_total{job="x",status="succeeded"}`. */
function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('GET /metrics', () => {
  it('needs the bearer token when METRICS_TOKEN is set', async () => {
    expect((await scrape(t, null)).status).toBe(401);
    const wrong = await scrape(t, 'not-the-token');
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.text).error.code).toBe('unauthorized');
    const ok = await scrape(t);
    expect(ok.status).toBe(200);
    expect(ok.type).toContain('text/plain');
    expect(ok.text).toContain('# TYPE paywire_http_request_duration_seconds histogram');
  });

  it('is open without METRICS_TOKEN, and each app has its own registry', async () => {
    await open.app.request('/healthz');
    const res = await scrape(open, null);
    expect(res.status).toBe(200);
    expect(
      value(
        res.text,
        'paywire_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}',
      ),
    ).toBe(1);
    const other = await scrape(t);
    expect(other.text).not.toContain('route="/healthz"');
  });

  it('labels HTTP latency with the matched route pattern, never the raw path', async () => {
    const call = api(t.app);
    const admin = await signupUser(call);
    await call('GET', 'admin/events/evt_123', { token: admin.token });
    await call('GET', 'admin/events/evt_456', { token: admin.token });
    await call('GET', '/no/such/path');
    const { text } = await scrape(t);
    expect(text).toContain('route="/api/v1/admin/events/:id"');
    expect(text).not.toContain('evt_123');
    expect(text).toContain('route="unmatched"');
  });

  it('counts credit consumptions by outcome and entitlement checks by answer', async () => {
    const user = await quickUser(t.deps.db);
    await grantCredits(t.deps, { userId: user, creditType: 'ai_tokens', amount: 10, pool: 'bonus' });
    await consume(t.deps, { userId: user, creditType: 'ai_tokens', amount: 4, idempotencyKey: 'a' });
    await consume(t.deps, { userId: user, creditType: 'ai_tokens', amount: 4, idempotencyKey: 'a' });
    await consume(t.deps, { userId: user, creditType: 'ai_tokens', amount: 100, idempotencyKey: 'b' }).catch(
      () => undefined,
    );
    await can(t.deps, user, 'advanced_analytics');
    const { text } = await scrape(t);
    expect(value(text, 'paywire_credit_consumptions_total{outcome="consumed"}')).toBe(1);
    expect(value(text, 'paywire_credit_consumptions_total{outcome="replayed"}')).toBe(1);
    expect(value(text, 'paywire_credit_consumptions_total{outcome="insufficient"}')).toBe(1);
    expect(value(text, 'paywire_entitlement_checks_total{kind="can",result="denied"}')).toBe(1);
  });

  it('counts webhook events by type and outcome, with their processing latency, and rejected signatures', async () => {
    const event = {
      id: 'evt_metrics_1',
      object: 'event',
      type: 'thing.happened',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      data: { object: { id: 'thing_1' } },
    } as unknown as Stripe.Event;
    await receiveEvent(t.deps, event);
    await receiveEvent(t.deps, event);
    const forged = await t.app.request('/api/v1/webhooks/stripe', {
      method: 'POST',
      headers: { 'stripe-signature': 't=1,v1=00' },
      body: '{}',
    });
    expect(forged.status).toBe(400);
    const payload = JSON.stringify({ ...event, id: 'evt_metrics_2' });
    const signed = await t.app.request('/api/v1/webhooks/stripe', {
      method: 'POST',
      headers: {
        'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_metrics' }),
      },
      body: payload,
    });
    expect(signed.status).toBe(200);
    const { text } = await scrape(t);
    expect(value(text, 'paywire_webhook_events_total{type="thing.happened",outcome="ignored"}')).toBe(2);
    expect(value(text, 'paywire_webhook_events_total{type="thing.happened",outcome="duplicate"}')).toBe(1);
    expect(value(text, 'paywire_webhook_events_total{type="unverified",outcome="rejected"}')).toBe(1);
    expect(
      value(text, 'paywire_webhook_processing_seconds_count{type="thing.happened",outcome="ignored"}'),
    ).toBe(2);
    expect(value(text, 'paywire_webhooks_in_flight')).toBe(0);
  });

  it('counts job runs by status', async () => {
    const runner = new JobRunner<Deps>(t.deps, [
      { name: 'metrics.test', everyMs: 60_000, run: async () => 3 },
    ]);
    await runner.tick();
    await runner.tick();
    const { text } = await scrape(t);
    expect(value(text, 'paywire_job_runs_total{job="metrics.test",status="succeeded"}')).toBe(1);
    expect(value(text, 'paywire_job_runs_total{job="metrics.test",status="skipped"}')).toBe(1);
    expect(value(text, 'paywire_job_duration_seconds_count{job="metrics.test"}')).toBe(1);
  });
});
