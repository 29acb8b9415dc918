import type { Context } from 'hono';
import type Stripe from 'stripe';
import type { EmulatorContext } from '../context';
import { setCustomerCard } from '../control';
import { StripeHttpError } from '../errors';
import { emitEvent } from '../events';
import { formatMoney } from '../pages/checkout-page';
import type { ApiRouter, EmulatorApp, EmulatorEnv } from '../router';
import { randomToken } from '../store';
import { optString, reqString } from '../wire';
import { catchUp } from './advance';
import { productName } from './lines';
import { buildPortalSession } from './render-misc';
import { allSubs, nowOn, privateCollection, requireSub, updateSub } from './state';
import { applyItemChange } from './sub-changes';
import type { PortalSessionRecord, SubscriptionRecord, Wire } from './types';

/**
 * The billing portal: `POST /v1/billing_portal/sessions` and a minimal hosted page at the session's
 * `url` (plain HTML forms). Every action changes the subscription exactly like the API would, events
 * included, then redirects back to the page.
 */
const SESSIONS = privateCollection('billing_portal_sessions');
const LIVE = ['active', 'trialing', 'past_due', 'unpaid', 'paused', 'incomplete'];

const esc = (s: unknown) =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string,
  );
const date = (t: number) => new Date(t * 1000).toISOString().slice(0, 10);

const STYLE = `body{font-family:system-ui,sans-serif;background:#f6f8fa;margin:0;color:#1a1f36}
main{max-width:640px;margin:40px auto;background:#fff;border-radius:8px;padding:28px;box-shadow:0 2px 8px #0002}
h1{font-size:1.2rem}section{border-top:1px solid #e3e8ee;padding:14px 0}.muted{color:#697386;font-size:.9rem}
form{display:inline-block;margin:6px 6px 0 0}button{padding:8px 12px;border:0;border-radius:5px;background:#635bff;color:#fff;cursor:pointer}
button.secondary{background:#e3e8ee;color:#1a1f36}input,select{padding:7px;border:1px solid #cfd7df;border-radius:5px}
.error{background:#fde8e8;color:#a4161a;padding:10px;border-radius:5px}.ok{background:#e6f6ec;color:#11633a;padding:10px;border-radius:5px}a{color:#635bff}`;

type PriceWire = Wire<Stripe.Price>;

function priceLabel(ctx: EmulatorContext, p: PriceWire): string {
  const every = p.recurring
    ? ` / ${p.recurring.interval_count > 1 ? `${p.recurring.interval_count} ` : ''}${p.recurring.interval}`
    : '';
  return `${productName(ctx, p)}${p.nickname ? ` (${p.nickname})` : ''}: ${formatMoney(p.unit_amount ?? 0, p.currency)}${every}`;
}

function subscriptionBlock(ctx: EmulatorContext, s: PortalSessionRecord, sub: SubscriptionRecord): string {
  const base = `/billing_portal/${esc(s.secret)}/subscriptions/${esc(sub.id)}`;
  const item = sub.items[0];
  const price = ctx.store.get<PriceWire>('prices', item.price);
  const label = price ? priceLabel(ctx, price) : item.price;
  const ends = sub.cancel_at_period_end
    ? `Cancels on ${date(item.current_period_end)}`
    : `Renews on ${date(item.current_period_end)}`;
  const others = ctx.store
    .all<PriceWire>('prices')
    .filter((p) => p.active && p.type === 'recurring' && p.id !== item.price && p.currency === sub.currency);
  const switcher = others.length
    ? `<form method="post" action="${base}/switch"><select name="price" data-testid="switch-price">${others
        .map((p) => `<option value="${esc(p.id)}">${esc(priceLabel(ctx, p))}</option>`)
        .join('')}</select> <button type="submit" data-testid="switch-plan">Switch plan</button></form>`
    : '';
  const cancelOrResume = sub.cancel_at_period_end
    ? `<form method="post" action="${base}/resume"><button type="submit" data-testid="resume">Resume subscription</button></form>`
    : `<form method="post" action="${base}/cancel"><button type="submit" class="secondary" data-testid="cancel">Cancel at period end</button></form>`;
  return `<section data-subscription="${esc(sub.id)}"><div><strong>${esc(label)}</strong> &times; ${item.quantity}</div>
    <div class="muted">Status: <span data-testid="status">${esc(sub.status)}</span> &middot; ${esc(ends)}</div>
    ${cancelOrResume}${switcher}</section>`;
}

function page(
  ctx: EmulatorContext,
  s: PortalSessionRecord,
  notice?: { ok?: string; error?: string },
): string {
  const subs = allSubs(ctx).filter((x) => x.customer === s.customer && LIVE.includes(x.status));
  const blocks = subs.length
    ? subs.map((x) => subscriptionBlock(ctx, s, x)).join('')
    : '<p class="muted">No subscriptions.</p>';
  const back = s.return_url
    ? `<p><a href="${esc(s.return_url)}" data-testid="return">&larr; Return</a></p>`
    : '';
  const msg = notice?.error
    ? `<div class="error" role="alert">${esc(notice.error)}</div>`
    : notice?.ok
      ? `<div class="ok">${esc(notice.ok)}</div>`
      : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Billing</title><style>${STYLE}</style></head><body><main>
    ${back}<h1>Your subscriptions</h1>${msg}${blocks}
    <section><form method="post" action="/billing_portal/${esc(s.secret)}/card"><label>Card number
      <input name="card" autocomplete="cc-number" data-testid="card-number" placeholder="4242 4242 4242 4242"></label>
      <button type="submit" data-testid="update-card">Update card</button></form></section></main></body></html>`;
}

function sessionBySecret(ctx: EmulatorContext, secret: string): PortalSessionRecord | undefined {
  return ctx.store.all<PortalSessionRecord>(SESSIONS).find((s) => s.secret === secret);
}

export function registerPortalApi(r: ApiRouter): void {
  r.post('/v1/billing_portal/sessions', ({ ctx, params }) => {
    const customer = reqString(params, 'customer');
    ctx.store.require('customers', customer, 'customer', 'customer');
    const rec: PortalSessionRecord = {
      id: ctx.store.newId('bps'),
      customer,
      created: ctx.clock.nowSeconds(),
      return_url: optString(params, 'return_url') ?? null,
      secret: `test_${randomToken(32)}`,
    };
    ctx.store.save(SESSIONS, rec);
    const wire = ctx.store.save('billing_portal_sessions', buildPortalSession(rec, ctx.baseUrl));
    emitEvent(ctx, 'billing_portal.session.created', wire);
    return wire;
  });
}

type Action = (ctx: EmulatorContext, sub: SubscriptionRecord, form: Record<string, string>) => string;

const ACTIONS: Record<string, Action> = {
  cancel: (ctx, sub) => {
    const now = nowOn(ctx, sub.test_clock);
    updateSub(ctx, sub, () => {
      sub.cancel_at_period_end = true;
      sub.cancel_at = sub.items[0].current_period_end;
      sub.canceled_at = now;
    });
    return 'Your subscription will be canceled at the end of the period.';
  },
  resume: (ctx, sub) => {
    updateSub(ctx, sub, () => {
      sub.cancel_at_period_end = false;
      sub.cancel_at = null;
      sub.canceled_at = null;
    });
    return 'Your subscription will continue.';
  },
  switch: (ctx, sub, form) => {
    const price = form.price;
    if (!price) throw new Error('Choose a plan.');
    const [first, ...rest] = sub.items;
    const desired = [
      { id: first.id, price, quantity: first.quantity, metadata: first.metadata },
      ...rest.map((i) => ({ id: i.id, price: i.price, quantity: i.quantity, metadata: i.metadata })),
    ];
    applyItemChange(ctx, sub, desired, {
      behavior: 'create_prorations',
      prorationDate: null,
      paymentBehavior: 'allow_incomplete',
    });
    return 'Your plan was changed.';
  },
};

async function formOf(c: Context<EmulatorEnv>): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, String(v)]));
}

function errorText(err: unknown): string {
  if (err instanceof StripeHttpError) return err.body.message;
  return err instanceof Error ? err.message : String(err);
}

export function registerPortalPages(app: EmulatorApp, ctx: EmulatorContext): void {
  const render = async (c: Context<EmulatorEnv>, notice?: { ok?: string; error?: string }, status = 200) => {
    const html = await ctx.lock.run(() => {
      const s = sessionBySecret(ctx, c.req.param('secret') ?? '');
      if (!s) return null;
      catchUp(ctx);
      return page(ctx, s, notice);
    });
    return html === null
      ? c.text('This billing portal session does not exist.', 404)
      : c.html(html, status as 200);
  };
  app.get('/billing_portal/:secret', (c) => {
    const ok = c.req.query('ok');
    return render(c, ok ? { ok } : undefined);
  });
  const redirect = (c: Context<EmulatorEnv>, msg: string) =>
    c.redirect(
      `/billing_portal/${encodeURIComponent(c.req.param('secret') ?? '')}?ok=${encodeURIComponent(msg)}`,
      303,
    );

  app.post('/billing_portal/:secret/subscriptions/:sub/:action', async (c) => {
    const action = ACTIONS[c.req.param('action')];
    if (!action) return c.text('Unknown action.', 404);
    const form = await formOf(c);
    try {
      const msg = await ctx.lock.run(() => {
        const s = sessionBySecret(ctx, c.req.param('secret'));
        if (!s) throw new Error('This billing portal session does not exist.');
        const sub = requireSub(ctx, c.req.param('sub'));
        if (sub.customer !== s.customer) throw new Error('This subscription belongs to another customer.');
        return action(ctx, sub, form);
      });
      ctx.persistSoon();
      return redirect(c, msg);
    } catch (err) {
      return render(c, { error: errorText(err) }, 400);
    }
  });

  app.post('/billing_portal/:secret/card', async (c) => {
    const form = await formOf(c);
    try {
      await ctx.lock.run(() => {
        const s = sessionBySecret(ctx, c.req.param('secret'));
        if (!s) throw new Error('This billing portal session does not exist.');
        if (!form.card) throw new Error('Enter a card number.');
        setCustomerCard(ctx, s.customer, form.card);
      });
      ctx.persistSoon();
      return redirect(c, 'Your card was updated.');
    } catch (err) {
      return render(c, { error: errorText(err) }, 400);
    }
  });
}
