import type { Context } from 'hono';
import type { EmulatorContext } from '../context';
import { StripeHttpError } from '../errors';
import { type SessionRecord, checkoutPrivate, getSession } from '../resources/checkout';
import { applyPromotionCode, completeCheckoutSession, successRedirect } from '../resources/checkout-complete';
import type { EmulatorApp, EmulatorEnv } from '../router';

/**
 * The hosted checkout page (`session.url`). Plain HTML forms, no script: the card number field has
 * `autocomplete="cc-number"` and the pay button `data-testid="pay"` (hooks the browser tests rely on).
 * Paying posts back here; success redirects (303) to the success URL, a decline re-renders with 402.
 */
const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);

export function formatMoney(amount: number, currency: string): string {
  const major = ZERO_DECIMAL.has(currency) ? amount : amount / 100;
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() }).format(
      major,
    );
  } catch {
    return `${major.toFixed(2)} ${currency.toUpperCase()}`;
  }
}

const esc = (s: unknown) =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string,
  );

const STYLE = `body{font-family:system-ui,sans-serif;background:#f6f8fa;margin:0;color:#1a1f36}
main{max-width:460px;margin:40px auto;background:#fff;border-radius:8px;padding:28px;box-shadow:0 2px 8px #0002}
h1{font-size:1.2rem;margin:0 0 4px}.muted{color:#697386;font-size:.9rem}table{width:100%;border-collapse:collapse;margin:16px 0}
td{padding:6px 0}td.r{text-align:right}tr.total td{font-weight:600;border-top:1px solid #e3e8ee}
label{display:block;font-size:.85rem;margin:12px 0 4px}input{width:100%;box-sizing:border-box;padding:9px;border:1px solid #cfd7df;border-radius:5px;font-size:1rem}
.row{display:flex;gap:8px}.row>div{flex:1}button{margin-top:18px;width:100%;padding:11px;border:0;border-radius:5px;background:#635bff;color:#fff;font-size:1rem;cursor:pointer}
button.secondary{background:#e3e8ee;color:#1a1f36;margin-top:8px}.error{background:#fde8e8;color:#a4161a;padding:10px;border-radius:5px;margin-top:12px}
.ok{background:#e6f6ec;color:#11633a;padding:10px;border-radius:5px;margin-top:12px}a{color:#635bff}`;

function layout(title: string, inner: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title><style>${STYLE}</style></head><body><main>${inner}</main></body></html>`;
}

function renderSession(
  ctx: EmulatorContext,
  s: SessionRecord,
  notice?: { error?: string; promoError?: string; promoOk?: string },
): string {
  const currency = s.currency ?? 'usd';
  const items = checkoutPrivate(ctx, s.id).line_items;
  const rows = items
    .map((li) => {
      const price = li.price;
      const every = price?.recurring
        ? ` / ${price.recurring.interval_count > 1 ? `${price.recurring.interval_count} ` : ''}${price.recurring.interval}`
        : '';
      return `<tr><td>${esc(li.description ?? 'Item')} &times; ${li.quantity}</td><td class="r">${formatMoney(li.amount_subtotal, currency)}${esc(every)}</td></tr>`;
    })
    .join('');
  const discount = s.total_details?.amount_discount ?? 0;
  const discountRow = discount
    ? `<tr><td>Discount</td><td class="r">&minus;${formatMoney(discount, currency)}</td></tr>`
    : '';
  const totalRow =
    s.mode === 'setup'
      ? ''
      : `<tr class="total"><td>Total due today</td><td class="r" data-testid="total">${formatMoney(s.amount_total ?? 0, currency)}</td></tr>`;
  const promo = s.allow_promotion_codes
    ? `<form method="post" action="/c/pay/${esc(s.id)}/promotion_code"><label for="promotion_code">Promotion code</label>
       <div class="row"><div><input id="promotion_code" name="promotion_code" autocomplete="off" data-testid="promotion-code"></div>
       <div style="flex:0 0 90px"><button type="submit" class="secondary" style="margin-top:0" data-testid="apply-promotion-code">Apply</button></div></div>
       ${notice?.promoError ? `<div class="error" role="alert">${esc(notice.promoError)}</div>` : ''}${notice?.promoOk ? `<div class="ok">${esc(notice.promoOk)}</div>` : ''}</form>`
    : '';
  const needsEmail = !s.customer && !s.customer_email;
  const email = needsEmail
    ? `<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" value="">`
    : `<p class="muted">${esc(s.customer_email ?? s.customer_details?.email ?? '')}</p>`;
  const action = s.mode === 'subscription' ? 'Subscribe' : s.mode === 'setup' ? 'Save card' : 'Pay';
  const cancel = s.cancel_url
    ? `<p class="muted" style="text-align:center;margin-top:16px"><a href="${esc(s.cancel_url)}" data-testid="cancel">Cancel and return</a></p>`
    : '';
  return layout(
    'Checkout',
    `<h1>Paywire test checkout</h1><p class="muted">Stripe emulator &middot; test mode &middot; ${esc(s.mode)}</p>
     <table>${rows}${discountRow}${totalRow}</table>${promo}
     <form method="post" action="/c/pay/${esc(s.id)}">${email}
       <label for="cardnumber">Card number</label>
       <input id="cardnumber" name="card" inputmode="numeric" autocomplete="cc-number" placeholder="4242 4242 4242 4242" required>
       <div class="row"><div><label for="exp">Expiry</label><input id="exp" name="exp" autocomplete="cc-exp" placeholder="MM / YY" value="12 / 34"></div>
       <div><label for="cvc">CVC</label><input id="cvc" name="cvc" autocomplete="cc-csc" placeholder="123" value="123"></div></div>
       <button type="submit" data-testid="pay">${action}</button>
       ${notice?.error ? `<div class="error" role="alert" data-testid="error">${esc(notice.error)}</div>` : ''}
     </form>${cancel}`,
  );
}

function closedPage(s: SessionRecord): string {
  const msg =
    s.status === 'complete'
      ? 'This checkout session is already complete.'
      : 'This checkout session has expired.';
  const back =
    s.status === 'complete' && s.success_url
      ? `<p><a href="${esc(successRedirect(s))}">Continue</a></p>`
      : '';
  return layout('Checkout', `<h1>${esc(msg)}</h1>${back}`);
}

async function load(ctx: EmulatorContext, c: Context<EmulatorEnv>): Promise<SessionRecord | null> {
  try {
    return await ctx.lock.run(() => getSession(ctx, c.req.param('id') ?? ''));
  } catch (err) {
    if (err instanceof StripeHttpError) return null;
    throw err;
  }
}

export function registerCheckoutPage(app: EmulatorApp, ctx: EmulatorContext): void {
  app.get('/c/pay/:id', async (c) => {
    const s = await load(ctx, c);
    if (!s) return c.html(layout('Not found', '<h1>Checkout session not found</h1>'), 404);
    return c.html(s.status === 'open' ? renderSession(ctx, s) : closedPage(s));
  });

  app.post('/c/pay/:id/promotion_code', async (c) => {
    const form = await c.req.parseBody();
    const code = String(form.promotion_code ?? '').trim();
    const result = await ctx.lock.run(() => {
      const s = getSession(ctx, c.req.param('id'));
      if (s.status !== 'open') return { s, error: undefined };
      try {
        applyPromotionCode(ctx, s, code);
        return { s, error: undefined };
      } catch (err) {
        if (err instanceof StripeHttpError) return { s, error: err.message };
        throw err;
      }
    });
    ctx.persistSoon();
    if (result.s.status !== 'open') return c.html(closedPage(result.s), 400);
    return c.html(
      renderSession(
        ctx,
        result.s,
        result.error ? { promoError: result.error } : { promoOk: `Code ${code.toUpperCase()} applied.` },
      ),
      result.error ? 400 : 200,
    );
  });

  app.post('/c/pay/:id', async (c) => {
    const form = await c.req.parseBody();
    const card = String(form.card ?? '').replace(/[\s-]/g, '');
    const email = String(form.email ?? '').trim() || null;
    const id = c.req.param('id');
    const s0 = await load(ctx, c);
    if (!s0) return c.html(layout('Not found', '<h1>Checkout session not found</h1>'), 404);
    if (s0.status !== 'open') return c.html(closedPage(s0), 400);
    if (!card) return c.html(renderSession(ctx, s0, { error: 'Your card number is incomplete.' }), 400);
    const result = await ctx.lock.run(() => completeCheckoutSession(ctx, id, card, email));
    ctx.persistSoon();
    if (!result.ok) return c.html(renderSession(ctx, result.session, { error: result.error.message }), 402);
    // Like Stripe, give the checkout.session.completed webhook a moment before redirecting.
    await ctx.webhooks.settle(5_000);
    const target = successRedirect(result.session);
    if (!target) return c.html(layout('Paid', '<h1>Payment complete</h1>'));
    return c.redirect(target, 303);
  });
}
