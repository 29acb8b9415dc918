import type { AccountView } from '../data/account';
import { offerLabel } from '../data/offers';
import { featureLabel, intervalLabel, money } from '../format';
import { Layout, Notice, type PageFrame, StatusLine } from './layout';
import { BalanceStats, EntitlementsTable, LedgerTable, UsageCharts } from './parts';

/**
 * The account's billing page. Plan, credits, entitlements and the ledger are rendered here from the
 * services; the subscription's live state (status, next bill), its actions and the payment history come
 * from the JSON API through billing.js (SPEC section 13 contracts).
 */
export function BillingPage(props: PageFrame & { account: AccountView; purchased: boolean }) {
  const { account } = props;
  const { plan, offers } = account;
  // Labels for the payment history the script renders (price id -> what was bought).
  const priceLabels = Object.fromEntries(
    [...offers.plans, ...offers.extras].map((o) => [o.priceId, offerLabel(o)]),
  );
  return (
    <Layout
      title="Billing"
      section="account"
      viewer={props.viewer}
      csrf={props.csrf}
      scripts={['/assets/billing.js']}
      charts
    >
      <h1>Billing</h1>
      {props.purchased ? (
        <Notice kind="success" testid="purchase-notice">
          Thank you! Your purchase is active.
        </Notice>
      ) : null}
      <p id="page-status" class="status" role="status" aria-live="polite" />

      <div class="grid two">
        <section class="card" id="plan-card" data-scope aria-labelledby="plan-heading">
          <p class="eyebrow" id="plan-heading">
            Your plan
          </p>
          <div class="stat">
            <div class="value" data-testid="plan-name">
              {account.tierName}
            </div>
          </div>
          <p id="subscription-summary" data-testid="subscription-summary" class="muted">
            Checking your subscription…
          </p>
          <dl class="facts hidden" id="subscription-facts" />
          <div class="actions">
            <button type="button" id="cancel-subscription" class="danger" hidden>
              Cancel subscription
            </button>
            <button type="button" id="resume-subscription" hidden>
              Resume subscription
            </button>
            <button type="button" id="open-portal" class="secondary" hidden>
              Payment methods and invoices
            </button>
            <a class="button secondary" href="/pricing">
              See all plans
            </a>
          </div>
          <StatusLine testid="plan-status" />
        </section>

        <section class="card" id="credits-card" aria-labelledby="credits-heading">
          <p class="eyebrow" id="credits-heading">
            Credits
          </p>
          <BalanceStats balances={account.balances} />
          <div class="actions">
            <a class="button secondary" href="/pricing#credits_10k">
              Buy more credits
            </a>
            <a href="/try">Try the AI feature</a>
          </div>
        </section>
      </div>

      <section class="card" id="change-plan" data-scope hidden aria-labelledby="change-heading">
        <h2 id="change-heading">Change plan</h2>
        {offers.plans.length ? (
          <form id="change-plan-form" novalidate>
            <label for="new-plan">New plan</label>
            <select id="new-plan" name="price_id">
              {offers.plans.map((o) => (
                <option value={o.priceId} data-currency={o.currency}>
                  {`${offerLabel(o)} — ${money(o.amount, o.currency)} ${intervalLabel(o.interval, o.intervalCount)}`}
                </option>
              ))}
            </select>
            <div class="actions">
              <button type="submit" class="secondary">
                Preview the change
              </button>
            </div>
          </form>
        ) : (
          <p class="muted">No other plans are on sale.</p>
        )}
        <dl class="facts" id="change-preview" data-testid="change-preview" />
        <div class="actions">
          <button type="button" id="confirm-change" hidden>
            Confirm the change
          </button>
        </div>
        <StatusLine testid="change-status" />
      </section>

      <section class="card" aria-labelledby="usage-heading">
        <h2 id="usage-heading">Credit usage</h2>
        <UsageCharts charts={account.charts} />
      </section>

      <section class="card" aria-labelledby="includes-heading">
        <h2 id="includes-heading">What you have</h2>
        {plan.features.length ? (
          <div class="tags">
            <span>Features:</span>
            <ul>
              {plan.features.map((f) => (
                <li class="badge">{featureLabel(f)}</li>
              ))}
            </ul>
          </div>
        ) : (
          <p class="muted">The free tier. A plan adds features and monthly credits.</p>
        )}
        <EntitlementsTable rows={plan.active_entitlements} label="Your entitlements" />
      </section>

      <section class="card" aria-labelledby="payments-heading">
        <h2 id="payments-heading">Payments</h2>
        <div id="payments" data-testid="payments" data-prices={JSON.stringify(priceLabels)}>
          <p class="muted">Loading your payments…</p>
        </div>
      </section>

      <section class="card" aria-labelledby="activity-heading">
        <h2 id="activity-heading">Recent credit activity</h2>
        <LedgerTable rows={account.recent} label="Recent credit activity" />
      </section>
    </Layout>
  );
}
