/**
 * Benchmark 4: webhook ingestion end to end (signature, inbox row, handler with its Stripe re-read from
 * the emulator, commit) for a realistic mix of signed events, at concurrency 1 and 16, against "verify +
 * one INSERT" (bare node:http, the same SDK check, one pg INSERT). Every event gets a fresh id, so each one
 * is a new inbox row; the first copy of a purchase's event fulfils it, later copies re-apply it
 * idempotently, as Stripe's duplicate deliveries would. Afterwards every one must be in the inbox, handled.
 */
import { sql } from 'drizzle-orm';
import Stripe from 'stripe';
import { queryRows } from '../src/db/client';
import { createStripeClient } from '../src/stripe/client';
import { defaultHandlers } from '../src/webhooks/dispatch';
import type { Deps } from '../src/deps';
import { cannon } from './lib/cannon';
import type { BenchContext } from './lib/context';
import { CREDIT_TYPE, createUsers, serviceKey, userKeys } from './lib/fixtures';
import { type Entry, entry } from './lib/results';
import { serverScript, startChild } from './lib/servers';
import { alternate, ROUNDS, sleep } from './lib/stats';

export const WEBHOOK_SECRET = 'whsec_bench_signing_secret';

const FLOWS = 8;
const FEATURE = 'bench_reports';

/** Where the mix is recorded: the emulator the app uses, the app, and library deps on its database. */
export interface MixSource {
  emulatorUrl: string;
  appUrl: string;
  deps: Deps;
}

type Call = (method: string, path: string, token: string, body?: unknown) => Promise<Record<string, unknown>>;

/** A JSON call to the app's API that must succeed. */
const appCall =
  (appUrl: string): Call =>
  async (method, path, token, body) => {
    const r = await fetch(`${appUrl}/api/v1/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = (await r.json()) as Record<string, unknown>;
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(answer)}`);
    return answer;
  };

interface BenchPlan {
  product: Record<string, unknown>;
  monthly: Record<string, unknown>;
  pack: Record<string, unknown>;
}

/**
 * One plan of flow i in Paywire's catalog, through the admin API (so also in Stripe): a monthly
 * subscription unlocking a feature with a monthly credit allowance, and a credit pack.
 */
async function createPlan(call: Call, adminKey: string, i: number): Promise<BenchPlan> {
  const product = await call('POST', 'admin/products', adminKey, {
    name: `Bench plan ${i}`,
    product_type: 'subscription',
  });
  const grants = (...items: unknown[]) => ({ entitlements: items });
  const credits = (quantity: number) => ({ type: 'CREDIT_GRANT', credit_type: CREDIT_TYPE, quantity });
  const monthly = await call('POST', 'admin/prices', adminKey, {
    product_id: product.id,
    unit_amount: 2000 + i * 100,
    currency: 'usd',
    price_type: 'recurring',
    billing_interval: 'month',
    extra_metadata: grants({ type: 'FEATURE_UNLOCK', feature: FEATURE }, credits(10_000)),
  });
  const pack = await call('POST', 'admin/prices', adminKey, {
    product_id: product.id,
    unit_amount: 500,
    currency: 'usd',
    price_type: 'one_time',
    extra_metadata: grants(credits(5_000)),
  });
  return { product, monthly, pack };
}

/**
 * The mix: the events the emulator really emits, in order, for FLOWS Paywire users each buying a plan
 * of Paywire's catalog through Paywire's checkout (a monthly subscription granting a feature and a
 * credit allowance, then a credit pack), then one renewal a month later (checkout, customer, payment
 * intent, charge, invoice and subscription events: some have a handler, the rest are stored and
 * acknowledged), plus an edit of each product and price in the Stripe dashboard (catalog mirror
 * handlers). Handlers re-read their object from the emulator, as they would from Stripe. Spread over
 * FLOWS customers so that concurrent deliveries do not all queue on one subscription's rows.
 *
 * The app registers no webhook endpoint on a standalone emulator when it has a webhook secret (as here),
 * so the emulator never delivers these events: the benchmark's replays are their deliveries, the first
 * copy of each doing the fulfilment and later ones the idempotent re-application of a duplicate.
 */
export async function templates({ emulatorUrl, appUrl, deps }: MixSource): Promise<Stripe.Event[]> {
  const stripe = createStripeClient({ STRIPE_ENABLED: true }, { emulatorUrl })!;
  const call = appCall(appUrl);
  const control = (path: string, body: unknown) =>
    fetch(`${emulatorUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((r) => {
      if (!r.ok) throw new Error(`emulator ${path}: ${r.status}`);
    });
  const adminKey = await serviceKey(deps, ['admin']);
  const users = await createUsers(deps.database, FLOWS);
  const keys = await userKeys(deps, users, ['billing:write']);
  const since = Math.floor(Date.now() / 1000) - 1;
  for (let i = 0; i < FLOWS; i++) {
    const plan = await createPlan(call, adminKey, i);
    for (const price of [plan.monthly, plan.pack]) {
      const checkout = await call('POST', 'payments/checkout', keys[i]!, { price_id: price.id });
      await control(`/_emulator/checkout/sessions/${checkout.session_id}/complete`, {
        card: '4242424242424242',
      });
    }
    await stripe.products.update(plan.product.stripe_product_id as string, { description: `edited ${i}` });
    await stripe.prices.update(plan.monthly.stripe_price_id as string, { nickname: `monthly ${i}` });
  }
  await control('/_emulator/clock/advance', { seconds: 32 * 86_400 });
  const skip = new Set(['product.created', 'price.created']);
  const events = (
    await stripe.events.list({ limit: 100, created: { gte: since } }).autoPagingToArray({ limit: 10_000 })
  )
    .filter((e) => !skip.has(e.type))
    .reverse();
  const handled = events.filter((e) => defaultHandlers[e.type]).length;
  if (handled === 0 || handled === events.length)
    throw new Error('the mix needs handled and unhandled events');
  return events;
}

export const isHandled = (e: Stripe.Event) => !!defaultHandlers[e.type];

function describeMix(events: Stripe.Event[]): string {
  const counts = new Map<string, number>();
  for (const e of events) counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
  const handled = events.filter(isHandled).length;
  return `${events.length} events per cycle, ${Math.round((100 * handled) / events.length)}% with a handler (${[
    ...counts,
  ]
    .map(([t, n]) => `${t} ${n}`)
    .join(', ')})`;
}

export async function benchWebhooks(ctx: BenchContext): Promise<Entry[]> {
  ctx.log('webhooks: recording the event stream of real purchases on the emulator');
  const mix = await templates({ emulatorUrl: ctx.emulatorUrl, appUrl: ctx.app.url, deps: ctx.deps });
  const handledOnly = mix.filter(isHandled);
  const run = Date.now().toString(36);
  let seq = 0;
  let seqApp = 0;
  let appOk = 0;
  const load = async (url: string, connections: number, prefix: string, seconds: number, events = mix) => {
    const r = await cannon({
      url: `${url}/api/v1/webhooks/stripe`,
      connections,
      seconds,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      setupRequest: (req) => {
        const n = seq++;
        if (prefix === 'app') seqApp++;
        const template = events[n % events.length]!;
        const payload = JSON.stringify({ ...template, id: `evt_${prefix}_${run}_${n}` });
        req.body = payload;
        req.headers = {
          ...req.headers,
          'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }),
        };
        return req;
      },
    });
    if (prefix === 'app') appOk += r.okTotal;
    return r;
  };

  const bareServer = await startChild(serverScript('bare-webhook'), {
    DATABASE_URL: ctx.pg.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    POOL_SIZE: String(ctx.database.pool!.options.max),
  });
  const share = ctx.seconds / ROUNDS;
  let bare1: Awaited<ReturnType<typeof load>>;
  let bare16: Awaited<ReturnType<typeof load>>;
  let app1: Awaited<ReturnType<typeof load>>;
  let app16: Awaited<ReturnType<typeof load>>;
  try {
    ctx.log('webhooks: warm-up (verify + one INSERT, app)');
    await load(bareServer.url, 16, 'bare', ctx.warmup);
    await load(ctx.app.url, 16, 'app', ctx.warmup);
    ctx.log('webhooks: verify + one INSERT and app at concurrency 1, alternating');
    [bare1, app1] = await alternate([
      () => load(bareServer.url, 1, 'bare', share),
      () => load(ctx.app.url, 1, 'app', share),
    ]);
    ctx.log('webhooks: verify + one INSERT and app at concurrency 16, alternating');
    [bare16, app16] = await alternate([
      () => load(bareServer.url, 16, 'bare', share),
      () => load(ctx.app.url, 16, 'app', share),
    ]);
  } finally {
    await bareServer.stop();
  }
  ctx.log('webhooks: app, c16, handled types only');
  const handled16 = await load(ctx.app.url, 16, 'app', ctx.seconds, handledOnly);

  // Requests in flight when autocannon stopped are still processed: wait for the inbox to settle.
  const appSent = seqApp;
  let inbox = { total: 0, unhandled: -1 };
  for (let i = 0; i < 100 && inbox.unhandled !== 0; i++) {
    if (i) await sleep(100);
    [inbox] = await queryRows<{ total: number; unhandled: number }>(
      ctx.database.db,
      sql`select count(*)::int as total, count(*) filter (where handled_at is null)::int as unhandled
        from stripe_events where id like ${`evt_app_${run}_%`}`,
    );
  }
  const acknowledged = appOk;
  if (inbox.unhandled !== 0 || inbox.total < acknowledged || inbox.total > appSent) {
    throw new Error(
      `webhooks: ${acknowledged} acknowledged of ${appSent} sent, ${inbox.total} in the inbox, ${inbox.unhandled} unhandled`,
    );
  }
  const mixText = `mix: ${describeMix(mix)}`;
  return [
    entry({
      name: 'webhook_ingest_c1',
      figure: app1.rate,
      unit: 'events/s',
      baseline: bare1.rate,
      baselineName: 'verify + one INSERT',
      latency: app1,
      baselineLatency: bare1,
      note: `${mixText}; Paywire users buying catalog prices through its checkout, each event replayed with fresh ids (the first copy fulfils, later ones are duplicates); handlers re-read from the emulator`,
    }),
    entry({
      name: 'webhook_ingest_c16',
      figure: app16.rate,
      unit: 'events/s',
      baseline: bare16.rate,
      baselineName: 'verify + one INSERT',
      target: 0.6,
      latency: app16,
      baselineLatency: bare16,
      note: `${acknowledged} events acknowledged over the app runs; all ${inbox.total} in the inbox handled`,
    }),
    entry({
      name: 'webhook_ingest_c16_handled',
      figure: handled16.rate,
      unit: 'events/s',
      baseline: bare16.rate,
      baselineName: 'verify + one INSERT',
      latency: handled16,
      note: 'only the events of the mix that have a handler (each re-reads its object from the emulator)',
    }),
  ];
}
