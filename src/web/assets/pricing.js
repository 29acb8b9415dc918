// The pricing page: plan buttons start Stripe Checkout; a subscriber choosing another plan sees the
// change previewed (POST /payments/subscription/preview) before confirming it; discount codes are checked
// with POST /discounts/validate and then sent with the checkout.
import { api, formatMoney, messageFor, previewFacts, setStatus, startCheckout } from './app.js';

const signedIn = document.body.dataset.signedIn === 'true';
let subscription = null;
let discountCode = null;
let pendingChange = null;

const panel = document.getElementById('plan-change');
const panelStatus = panel?.querySelector('[data-status]');

const ENDED = new Set(['canceled', 'incomplete_expired']);

async function loadSubscription() {
  if (!signedIn) return;
  const r = await api('GET', '/api/v1/payments/subscription/status');
  if (!r.ok || !r.data?.has_subscription || ENDED.has(r.data.status)) return;
  subscription = r.data;
  for (const btn of document.querySelectorAll('button.buy[data-recurring="true"]')) {
    const card = btn.closest('[data-price-card]');
    if (btn.dataset.priceId === subscription.price_id) {
      btn.disabled = true;
      btn.textContent = 'Your current plan';
      card?.classList.add('current');
      card?.querySelector('[data-current-badge]')?.classList.remove('hidden');
    } else {
      btn.textContent = 'Switch to this plan';
    }
  }
}

function cardName(btn) {
  return (
    btn.closest('[data-price-card]')?.querySelector('[data-testid="product-name"]')?.textContent ??
    'this plan'
  );
}

/** Shows what changing to `priceId` costs now and later; `preview` may come with a 409 already. */
async function showChange(btn, preview) {
  if (!panel) return;
  const priceId = btn.dataset.priceId;
  pendingChange = { priceId, btn };
  panel.hidden = false;
  document.getElementById('plan-change-intro').textContent = `Switch your subscription to ${cardName(btn)}.`;
  const facts = document.getElementById('plan-change-facts');
  facts.replaceChildren();
  document.getElementById('plan-change-confirm').disabled = true;
  panel.focus();
  let pv = preview;
  if (!pv || typeof pv.immediate_charge !== 'number') {
    setStatus(panelStatus, 'Working out the cost of the change…');
    const r = await api('POST', '/api/v1/payments/subscription/preview', { price_id: priceId });
    if (!r.ok) {
      setStatus(panelStatus, r.message, 'error');
      return;
    }
    pv = r.data;
  }
  const currency = pv.currency ?? btn.dataset.currency ?? 'usd';
  facts.append(...previewFacts(pv, currency));
  // The change is charged as of the previewed moment, so the charge equals the preview.
  pendingChange.prorationDate = pv.proration_date;
  setStatus(panelStatus, 'Review the change, then confirm it.');
  document.getElementById('plan-change-confirm').disabled = false;
}

async function confirmChange() {
  if (!pendingChange) return;
  const confirmBtn = document.getElementById('plan-change-confirm');
  confirmBtn.disabled = true;
  setStatus(panelStatus, 'Changing your plan…');
  const body = { price_id: pendingChange.priceId };
  if (pendingChange.prorationDate) body.proration_date = pendingChange.prorationDate;
  if (discountCode) body.discount_code = discountCode;
  const r = await api('POST', '/api/v1/payments/subscription/change', body);
  if (!r.ok) {
    confirmBtn.disabled = false;
    setStatus(panelStatus, r.message, 'error');
    return;
  }
  setStatus(panelStatus, 'Your plan is changed. Taking you to your account…', 'success');
  setTimeout(() => window.location.assign('/account/billing'), 900);
}

async function onBuy(btn) {
  const status = btn.closest('[data-scope]')?.querySelector('[data-status]');
  if (subscription && btn.dataset.recurring === 'true') return showChange(btn);
  btn.disabled = true;
  setStatus(status, 'Opening the secure checkout…');
  const r = await startCheckout(btn.dataset.priceId, discountCode ? { discount_code: discountCode } : {});
  if (r.ok) return; // the browser is on its way to the hosted checkout page
  btn.disabled = false;
  if (r.code === 'subscription_exists') {
    if (!r.details?.preview) {
      setStatus(status, 'You already have this plan.', 'error');
      return;
    }
    setStatus(status, '');
    return showChange(btn, r.details.preview);
  }
  setStatus(status, r.message, 'error');
}

document.addEventListener('click', (event) => {
  const btn = event.target instanceof Element ? event.target.closest('button.buy') : null;
  if (btn) void onBuy(btn);
});
document.getElementById('plan-change-confirm')?.addEventListener('click', () => void confirmChange());
document.getElementById('plan-change-dismiss')?.addEventListener('click', () => {
  panel.hidden = true;
  pendingChange?.btn.focus();
  pendingChange = null;
});

const discountForm = document.getElementById('discount-form');
discountForm?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const status = discountForm.querySelector('[data-status]');
  const code = discountForm.elements.code.value.trim();
  const priceId = discountForm.elements.price_id.value;
  if (!code) {
    setStatus(status, 'Enter a code first.', 'error');
    discountForm.elements.code.focus();
    return;
  }
  setStatus(status, 'Checking…');
  const r = await api('POST', '/api/v1/discounts/validate', { code, price_id: priceId });
  if (!r.ok) {
    setStatus(status, r.message, 'error');
    return;
  }
  const v = r.data;
  if (!v.valid) {
    discountCode = null;
    setStatus(status, messageFor(v.reason), 'error');
    return;
  }
  discountCode = v.code;
  setStatus(
    status,
    `${v.code}: ${formatMoney(v.discounted_amount, v.currency)} instead of ${formatMoney(v.original_amount, v.currency)}. ` +
      'The code will be applied when you check out.',
    'success',
  );
});

void loadSubscription();
