// The account billing page: the subscription's live state and actions (cancel, resume, change plan with a
// preview, billing portal) and the payment history, through the JSON API of SPEC section 13.
import { api, fact, formatDate, formatMoney, h, previewFacts, setStatus } from './app.js';

const summary = document.getElementById('subscription-summary');
const facts = document.getElementById('subscription-facts');
const cancelBtn = document.getElementById('cancel-subscription');
const resumeBtn = document.getElementById('resume-subscription');
const portalBtn = document.getElementById('open-portal');
const planStatus = document.querySelector('#plan-card [data-status]');
const changeSection = document.getElementById('change-plan');
const changeForm = document.getElementById('change-plan-form');
const changePreview = document.getElementById('change-preview');
const confirmChange = document.getElementById('confirm-change');
const changeStatus = changeSection?.querySelector('[data-status]');

const STATUS_TEXT = {
  active: 'Active',
  trialing: 'Free trial',
  past_due: 'Payment overdue',
  canceled: 'Cancelled',
  incomplete: 'Waiting for the first payment',
  incomplete_expired: 'Expired',
  unpaid: 'Unpaid',
  paused: 'Paused',
};
const ENDED = new Set(['canceled', 'incomplete_expired']);

function showSubscription(s) {
  facts.replaceChildren();
  if (!s?.has_subscription || ENDED.has(s.status)) {
    summary.textContent = 'You have no subscription. Choose a plan on the pricing page.';
    facts.classList.add('hidden');
    cancelBtn.hidden = true;
    resumeBtn.hidden = true;
    changeSection.hidden = true;
    portalBtn.hidden = !s?.subscription_id;
    return;
  }
  const next = s.next_billing_date ?? s.current_period_end;
  const state = STATUS_TEXT[s.status] ?? s.status;
  let text;
  if (s.cancel_at_period_end) {
    text = `${state}, ending on ${formatDate(s.current_period_end ?? next)}. You keep access until then.`;
  } else if (s.status === 'trialing') {
    text = `Free trial until ${formatDate(s.trial_end)}. The first bill is on ${formatDate(next)}.`;
  } else if (s.status === 'past_due') {
    text = s.grace_period_ends_at
      ? `Your last payment failed. Update your payment method by ${formatDate(s.grace_period_ends_at)} to keep your plan.`
      : 'Your last payment failed. Update your payment method to keep your plan.';
  } else {
    text = `${state}. Next bill on ${formatDate(next)}.`;
  }
  summary.textContent = text;
  facts.append(
    ...fact('Status', state),
    ...fact(
      s.cancel_at_period_end ? 'Ends on' : 'Next bill',
      formatDate(s.cancel_at_period_end ? (s.current_period_end ?? next) : next),
    ),
  );
  if (typeof s.amount === 'number' && s.currency)
    facts.append(...fact('Amount', formatMoney(s.amount, s.currency)));
  if (s.scheduled_change?.effective_at) {
    facts.append(...fact('Plan change scheduled for', formatDate(s.scheduled_change.effective_at)));
  }
  facts.classList.remove('hidden');
  cancelBtn.hidden = !!s.cancel_at_period_end;
  resumeBtn.hidden = !s.cancel_at_period_end;
  portalBtn.hidden = false;
  changeSection.hidden = false;
  if (changeForm) {
    for (const option of changeForm.elements.price_id.options) {
      option.disabled = option.value === s.price_id;
      if (option.value === s.price_id)
        option.textContent = option.textContent.replace(/( \(your plan\))?$/, ' (your plan)');
    }
    const firstOther = [...changeForm.elements.price_id.options].find((o) => !o.disabled);
    if (firstOther && changeForm.elements.price_id.selectedOptions[0]?.disabled) firstOther.selected = true;
  }
}

async function loadSubscription() {
  const r = await api('GET', '/api/v1/payments/subscription/status');
  if (!r.ok) {
    summary.textContent =
      r.code === 'route_missing' ? 'Subscriptions are not available on this server yet.' : r.message;
    return;
  }
  showSubscription(r.data);
}

async function act(button, path, body, doneText) {
  button.disabled = true;
  setStatus(planStatus, 'Working…');
  const r = await api('POST', path, body);
  button.disabled = false;
  if (!r.ok) {
    setStatus(planStatus, r.message, 'error');
    return false;
  }
  setStatus(planStatus, doneText, 'success');
  await loadSubscription();
  return true;
}

cancelBtn?.addEventListener('click', async () => {
  const ok = window.confirm(
    'Cancel your subscription at the end of this billing period? You keep access until then.',
  );
  if (!ok) return;
  const done = await act(
    cancelBtn,
    '/api/v1/payments/subscription/cancel',
    { cancel_immediately: false },
    'Your subscription will end at the end of this billing period.',
  );
  if (done) resumeBtn.focus();
});

resumeBtn?.addEventListener('click', async () => {
  const done = await act(
    resumeBtn,
    '/api/v1/payments/subscription/resume',
    {},
    'Your subscription continues.',
  );
  if (done) cancelBtn.focus();
});

portalBtn?.addEventListener('click', async () => {
  portalBtn.disabled = true;
  setStatus(planStatus, 'Opening the billing portal…');
  const r = await api('POST', '/api/v1/payments/portal', {});
  portalBtn.disabled = false;
  const url = r.ok ? (r.data?.url ?? r.data?.portal_url) : null;
  if (url) {
    window.location.assign(url);
    return;
  }
  setStatus(planStatus, r.ok ? 'The billing portal is not available.' : r.message, 'error');
});

changeForm?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const priceId = changeForm.elements.price_id.value;
  const currency = changeForm.elements.price_id.selectedOptions[0]?.dataset.currency ?? 'usd';
  changePreview.replaceChildren();
  confirmChange.hidden = true;
  setStatus(changeStatus, 'Working out the cost of the change…');
  const r = await api('POST', '/api/v1/payments/subscription/preview', { price_id: priceId });
  if (!r.ok) {
    setStatus(changeStatus, r.message, 'error');
    return;
  }
  const pv = r.data;
  const cur = pv.currency ?? currency;
  changePreview.append(...previewFacts(pv, cur));
  confirmChange.dataset.priceId = priceId;
  // Charged as of the previewed moment, so the charge equals the preview.
  confirmChange.dataset.prorationDate = pv.proration_date ?? '';
  confirmChange.hidden = false;
  setStatus(changeStatus, 'Review the change, then confirm it.');
  confirmChange.focus();
});

confirmChange?.addEventListener('click', async () => {
  confirmChange.disabled = true;
  setStatus(changeStatus, 'Changing your plan…');
  const body = { price_id: confirmChange.dataset.priceId };
  if (confirmChange.dataset.prorationDate) body.proration_date = confirmChange.dataset.prorationDate;
  const r = await api('POST', '/api/v1/payments/subscription/change', body);
  confirmChange.disabled = false;
  if (!r.ok) {
    setStatus(changeStatus, r.message, 'error');
    return;
  }
  setStatus(changeStatus, 'Your plan is changed.', 'success');
  // The plan, credits and entitlements are rendered by the server: show the new ones.
  setTimeout(() => window.location.reload(), 700);
});

const PAYMENT_STATUS = {
  succeeded: ['ok', 'Paid'],
  pending: ['plain', 'Pending'],
  failed: ['bad', 'Failed'],
  expired: ['plain', 'Expired'],
  refunded: ['warn', 'Refunded'],
  partially_refunded: ['warn', 'Partly refunded'],
  disputed: ['bad', 'Disputed'],
};

async function loadPayments() {
  const box = document.getElementById('payments');
  if (!box) return;
  const labels = JSON.parse(box.dataset.prices || '{}');
  const r = await api('GET', '/api/v1/payments?limit=50');
  if (!r.ok) {
    box.replaceChildren(
      h('p', {
        class: 'muted',
        text: r.code === 'route_missing' ? 'Payment history is not available on this server yet.' : r.message,
      }),
    );
    return;
  }
  const rows = r.data?.data ?? [];
  if (!rows.length) {
    box.replaceChildren(h('p', { class: 'muted', text: 'No payments yet.' }));
    return;
  }
  const body = rows.map((p) => {
    const [kind, text] = PAYMENT_STATUS[p.status] ?? ['plain', p.status];
    return h(
      'tr',
      { 'data-payment-id': p.id },
      h('td', { text: formatDate(p.created_at) }),
      h('td', { text: labels[p.price_id] ?? p.description ?? 'Payment' }),
      h('td', { class: 'num', text: formatMoney(p.amount, p.currency) }),
      h('td', {}, h('span', { class: `badge ${kind}`, text })),
    );
  });
  box.replaceChildren(
    h(
      'div',
      { class: 'table-wrap', role: 'region', 'aria-label': 'Payments', tabindex: '0' },
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col', text: 'Date' }),
            h('th', { scope: 'col', text: 'What' }),
            h('th', { scope: 'col', class: 'num', text: 'Amount' }),
            h('th', { scope: 'col', text: 'Status' }),
          ),
        ),
        h('tbody', {}, body),
      ),
    ),
  );
}

void loadSubscription();
void loadPayments();
