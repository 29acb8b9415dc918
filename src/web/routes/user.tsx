import type { Context, Hono, MiddlewareHandler } from 'hono';
import { invalid } from '../../lib/errors';
import { getBalance } from '../../modules/credits/credits.queries';
import { requireCredits } from '../../modules/credits/guard';
import { loadAccount } from '../data/account';
import { loadOffers, type Offer } from '../data/offers';
import type { WebEnv } from '../env';
import { messageFor } from '../messages';
import { BillingPage } from '../pages/billing';
import { CheckoutCancelPage, CheckoutSuccessPage } from '../pages/checkout';
import { HomePage, PricingPage } from '../pages/public';
import { fakeGenerate, TryPage, type TryState } from '../pages/try';
import { frameOf, pageHeaders, renderPage } from '../render';
import { pagePrincipal, requireUser, wantsJson } from '../session';

/** What one run of the /try feature costs, in ai_tokens. */
export const TRY_COST = 1000;
export const TRY_CREDIT_TYPE = 'ai_tokens';
const PROMPT_MAX = 500;
/** The pack the /try page offers when tokens run out. */
const PACK_LOOKUP_KEY = 'credits_10k';

/** Stripe Checkout session ids as Stripe (and the emulator) make them. */
const SESSION_ID_RE = /^cs_[A-Za-z0-9_]{1,250}$/;

async function creditPack(c: Context<WebEnv>): Promise<Offer | null> {
  const { extras } = await loadOffers(c.get('deps').db);
  return (
    extras.find((o) => o.lookupKey === PACK_LOOKUP_KEY) ??
    extras.find((o) => o.productType === 'credits' && o.highlights.some((h) => h.includes('AI tokens'))) ??
    null
  );
}

async function tryPage(c: Context<WebEnv>, state: Partial<TryState>, status: 200 | 400 | 402 = 200) {
  const userId = c.get('principal')!.user.id;
  const [balance, pack] = await Promise.all([
    state.balance ?? getBalance(c.get('deps'), userId, TRY_CREDIT_TYPE).then((b) => b.available),
    creditPack(c),
  ]);
  return renderPage(
    c,
    <TryPage {...frameOf(c)} cost={TRY_COST} pack={pack} {...state} balance={balance} />,
    status,
  );
}

/** Reads and checks the prompt before the guard holds any credits, so a bad request costs nothing. */
const readPrompt: MiddlewareHandler<WebEnv> = async (c, next) => {
  let prompt: unknown;
  if ((c.req.header('content-type') ?? '').startsWith('application/json')) {
    prompt = ((await c.req.json().catch(() => ({}))) as { prompt?: unknown }).prompt;
  } else {
    prompt = (await c.req.parseBody()).prompt;
  }
  const text = typeof prompt === 'string' ? prompt.trim() : '';
  if (!text || text.length > PROMPT_MAX) {
    if (wantsJson(c)) {
      throw invalid(`prompt: 1 to ${PROMPT_MAX} characters`, {
        fields: [{ path: 'prompt', message: `1 to ${PROMPT_MAX} characters`, code: 'custom' }],
      });
    }
    return tryPage(
      c,
      { prompt: text.slice(0, PROMPT_MAX), error: `Write a prompt of 1 to ${PROMPT_MAX} characters.` },
      400,
    );
  }
  c.set('prompt', text);
  await next();
};

/** A form post without scripts gets the page again with the out-of-credits state, not the 402 JSON. */
const outOfCreditsPage: MiddlewareHandler<WebEnv> = async (c, next) => {
  await next();
  if (wantsJson(c) || c.res.status !== 402) return;
  const body = (await c.res
    .clone()
    .json()
    .catch(() => null)) as { error?: { details?: { needed?: number; available?: number } } } | null;
  const details = body?.error?.details;
  const page = await tryPage(
    c,
    {
      prompt: c.get('prompt'),
      outOfCredits: { needed: details?.needed ?? TRY_COST, available: details?.available ?? 0 },
      error: messageFor('insufficient_credits'),
    },
    402,
  );
  c.res = undefined;
  c.res = page;
};

/** Home, pricing, checkout return pages, the account page and /try. */
export function registerUserPages(web: Hono<WebEnv>) {
  const base = [pageHeaders, pagePrincipal] as const;

  web.get('/', ...base, async (c) => {
    const deps = c.get('deps');
    const offers = await loadOffers(deps.db);
    return renderPage(
      c,
      <HomePage
        {...frameOf(c)}
        emulator={!!deps.stripe && deps.stripe.getApiField('host') !== 'api.stripe.com'}
        hasCatalog={offers.plans.length + offers.extras.length > 0}
      />,
    );
  });

  web.get('/pricing', ...base, async (c) => {
    const catalog = await loadOffers(c.get('deps').db);
    return renderPage(c, <PricingPage {...frameOf(c)} catalog={catalog} />);
  });

  web.get('/checkout/success', ...base, requireUser, (c) => {
    const raw = c.req.query('session_id');
    const sessionId = raw && SESSION_ID_RE.test(raw) ? raw : null;
    return renderPage(c, <CheckoutSuccessPage {...frameOf(c)} sessionId={sessionId} />);
  });

  web.get('/checkout/cancel', ...base, (c) => renderPage(c, <CheckoutCancelPage {...frameOf(c)} />));

  web.get('/account/billing', ...base, requireUser, async (c) => {
    const account = await loadAccount(c.get('deps'), c.get('principal')!.user.id);
    return renderPage(
      c,
      <BillingPage {...frameOf(c)} account={account} purchased={c.req.query('purchased') === '1'} />,
    );
  });

  web.get('/try', ...base, requireUser, (c) => tryPage(c, {}));

  web.post(
    '/try/generate',
    ...base,
    requireUser,
    readPrompt,
    outOfCreditsPage,
    requireCredits(TRY_CREDIT_TYPE, TRY_COST, { description: 'Try the AI feature' }),
    async (c) => {
      const charge = c.get('credits')!;
      const output = fakeGenerate(c.get('prompt'));
      if (wantsJson(c)) {
        return c.json({
          output,
          credit_type: charge.credit_type,
          credits_consumed: charge.credits_consumed,
          remaining_balance: charge.remaining_balance,
          transaction_id: charge.transaction_id,
        });
      }
      return tryPage(c, {
        prompt: c.get('prompt'),
        balance: charge.remaining_balance,
        result: { output, consumed: charge.credits_consumed, remaining: charge.remaining_balance },
      });
    },
  );
}
