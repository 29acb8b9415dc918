import type { Offer, OfferCatalog } from '../data/offers';
import { intervalLabel, money } from '../format';
import { Layout, Notice, type PageFrame, StatusLine } from './layout';

export function HomePage(props: PageFrame & { emulator: boolean; hasCatalog: boolean }) {
  const { viewer } = props;
  return (
    <Layout title="Home" section="home" viewer={viewer} csrf={props.csrf}>
      <section class="hero">
        <p class="eyebrow">Payments for SaaS and AI products</p>
        <h1>Sell plans and credits. Ask one question before every feature.</h1>
        <p class="lead">
          Paywire takes payments with Stripe Checkout, learns what happened from signed webhooks, and keeps a
          PostgreSQL record of subscriptions, entitlements (what a person may do) and credits (what they may
          spend). Your feature code asks "may this user do X? charge them N credits" and never talks to
          Stripe.
        </p>
        <div class="actions">
          <a class="button" href="/pricing">
            See the plans
          </a>
          <a class="button secondary" href="/try">
            Try the AI feature
          </a>
          {viewer ? (
            <a class="button secondary" href="/account/billing">
              Your account
            </a>
          ) : (
            <a class="button secondary" href="/signup">
              Create an account
            </a>
          )}
        </div>
      </section>

      {props.emulator ? (
        <Notice kind="info">
          This server runs on its built-in Stripe emulator: no real money moves. Pay with the test card{' '}
          <code>4242 4242 4242 4242</code> (any future expiry, any CVC).
        </Notice>
      ) : null}
      {props.hasCatalog ? null : (
        <Notice kind="warning">
          The catalog is empty: an administrator has not published any plans yet.
        </Notice>
      )}

      <div class="grid">
        <article class="card">
          <h2>1. Sign up</h2>
          <p>Create an account with an email and a password of at least 10 characters.</p>
        </article>
        <article class="card">
          <h2>2. Subscribe</h2>
          <p>Choose a plan on the pricing page and pay on the hosted checkout page.</p>
        </article>
        <article class="card">
          <h2>3. See your plan</h2>
          <p>Your account page shows the plan, its status, the next bill, your credits and your payments.</p>
        </article>
        <article class="card">
          <h2>4. Spend credits</h2>
          <p>The "try the AI feature" page spends AI tokens on every run, and tells you when they run out.</p>
        </article>
      </div>

      <section class="card">
        <h2>For developers</h2>
        <ul>
          <li>
            The HTTP API is documented at <a href="/docs">/docs</a> (OpenAPI document at{' '}
            <a href="/openapi.json">/openapi.json</a>).
          </li>
          <li>
            Feature code asks <code>GET /api/v1/entitlements/check?feature=…</code> and spends with{' '}
            <code>POST /api/v1/credits/consume</code>, or uses the <code>requireCredits</code> route guard.
          </li>
          {viewer?.role === 'admin' ? (
            <li>
              Administration: <a href="/admin">the admin pages</a>.
            </li>
          ) : null}
        </ul>
      </section>
    </Layout>
  );
}

function OfferCard(props: { offer: Offer; signedIn: boolean }) {
  const o = props.offer;
  const anchor = o.lookupKey ?? o.priceId;
  const verb = o.recurring ? 'Subscribe' : 'Buy';
  return (
    <article class="card plan" id={anchor} data-price-card={o.priceId} data-scope>
      <h3>
        <span data-testid="product-name">{o.productName}</span>{' '}
        <span class="badge plain hidden" data-current-badge>
          Your plan
        </span>
      </h3>
      {o.nickname && o.nickname !== o.productName ? <p class="muted small">{o.nickname}</p> : null}
      <p class="price">
        {money(o.amount, o.currency)} <span class="per">{intervalLabel(o.interval, o.intervalCount)}</span>
      </p>
      {o.productDescription ? (
        <p class="muted" data-testid="product-description">
          {o.productDescription}
        </p>
      ) : null}
      {o.trialDays ? (
        <p>
          <span class="badge ok">{o.trialDays}-day free trial</span>
        </p>
      ) : null}
      <ul>
        {o.highlights.map((h) => (
          <li>{h}</li>
        ))}
      </ul>
      {props.signedIn ? (
        <button
          type="button"
          class="buy"
          data-lookup-key={o.lookupKey ?? undefined}
          data-price-id={o.priceId}
          data-recurring={o.recurring ? 'true' : 'false'}
          data-currency={o.currency}
        >
          {verb}
        </button>
      ) : (
        <a
          class="button"
          href={`/signup?next=${encodeURIComponent(`/pricing#${anchor}`)}`}
          data-lookup-key={o.lookupKey ?? undefined}
        >
          Sign up to {verb.toLowerCase()}
        </a>
      )}
      <StatusLine />
    </article>
  );
}

export function PricingPage(props: PageFrame & { catalog: OfferCatalog; notice?: string }) {
  const { catalog, viewer } = props;
  const all = [...catalog.plans, ...catalog.extras];
  return (
    <Layout
      title="Pricing"
      section="pricing"
      viewer={viewer}
      csrf={props.csrf}
      scripts={['/assets/pricing.js']}
    >
      <h1>Pricing</h1>
      <p class="muted">Plans renew automatically; cancel any time from your account page.</p>
      {props.notice ? <Notice kind="info">{props.notice}</Notice> : null}
      <p id="page-status" class="status" role="status" aria-live="polite" />

      <section
        id="plan-change"
        class="card"
        hidden
        data-scope
        aria-labelledby="plan-change-title"
        tabindex={-1}
      >
        <h2 id="plan-change-title">Change your plan</h2>
        <p id="plan-change-intro" />
        <dl class="facts" id="plan-change-facts" />
        <div class="actions">
          <button type="button" id="plan-change-confirm">
            Confirm the change
          </button>
          <button type="button" class="secondary" id="plan-change-dismiss">
            Keep my current plan
          </button>
        </div>
        <StatusLine testid="plan-change-status" />
      </section>

      {all.length === 0 ? <Notice kind="warning">No plans are on sale yet.</Notice> : null}

      {catalog.plans.length ? (
        <>
          <div class="section-head">
            <h2>Plans</h2>
          </div>
          <div class="grid">
            {catalog.plans.map((o) => (
              <OfferCard offer={o} signedIn={!!viewer} />
            ))}
          </div>
        </>
      ) : null}

      {catalog.extras.length ? (
        <>
          <div class="section-head">
            <h2>Credits and add-ons</h2>
          </div>
          <div class="grid">
            {catalog.extras.map((o) => (
              <OfferCard offer={o} signedIn={!!viewer} />
            ))}
          </div>
        </>
      ) : null}

      {all.length ? (
        <section class="card" id="discount" data-scope>
          <h2>Have a discount code?</h2>
          {viewer ? (
            <form id="discount-form" novalidate>
              <div class="form-row">
                <div>
                  <label for="discount-code">Code</label>
                  <input
                    id="discount-code"
                    name="code"
                    type="text"
                    autocomplete="off"
                    maxlength={100}
                    required
                  />
                </div>
                <div>
                  <label for="discount-price">For</label>
                  <select id="discount-price" name="price_id">
                    {all.map((o) => (
                      <option value={o.priceId}>
                        {`${o.productName} — ${money(o.amount, o.currency)} ${intervalLabel(o.interval, o.intervalCount)}`}
                      </option>
                    ))}
                  </select>
                </div>
              </div>
              <div class="actions">
                <button type="submit" class="secondary">
                  Check the code
                </button>
              </div>
              <StatusLine testid="discount-status" />
            </form>
          ) : (
            <p>
              <a href="/login?next=%2Fpricing%23discount">Log in</a> to check a discount code. A valid code is
              applied when you check out.
            </p>
          )}
        </section>
      ) : null}
    </Layout>
  );
}
