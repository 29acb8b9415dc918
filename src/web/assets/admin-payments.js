// Admin payments: the list from the payments admin API, with a refund form on every refundable row.
import { api, formatDate, formatMoney, h, setStatus } from './app.js';

const box = document.getElementById('admin-payments');
const more = document.getElementById('more-payments');
const filter = document.getElementById('payments-filter');
const labels = JSON.parse(box?.dataset.prices || '{}');

const STATUS = {
  succeeded: ['ok', 'Paid'],
  pending: ['plain', 'Pending'],
  failed: ['bad', 'Failed'],
  expired: ['plain', 'Expired'],
  refunded: ['warn', 'Refunded'],
  partially_refunded: ['warn', 'Partly refunded'],
  disputed: ['bad', 'Disputed'],
};
const REFUNDABLE = new Set(['succeeded', 'partially_refunded']);

let rows = [];
let cursor = null;
const emails = {};

/** The e-mail of every customer on the page (one request for the ones not known yet). */
async function loadEmails() {
  const unknown = [...new Set(rows.map((p) => p.user_id).filter((id) => id && !(id in emails)))];
  if (!unknown.length) return;
  const r = await api('GET', `/admin/customers/emails?ids=${unknown.join(',')}`);
  if (r.ok) Object.assign(emails, r.data?.emails ?? {});
}

function refundForm(p) {
  const left = typeof p.amount_refunded === 'number' ? p.amount - p.amount_refunded : p.amount;
  const inputId = `refund-${p.id}`;
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const input = h('input', {
    id: inputId,
    name: 'amount',
    type: 'number',
    min: '1',
    max: String(left),
    step: '1',
    placeholder: `All: ${left}`,
  });
  const reasonId = `refund-reason-${p.id}`;
  const reason = h('input', {
    id: reasonId,
    name: 'reason',
    type: 'text',
    maxlength: '500',
    value: 'Requested by the customer',
  });
  const button = h('button', { type: 'submit', class: 'danger small', text: 'Refund' });
  const form = h(
    'form',
    { class: 'refund', 'data-refund-for': p.id },
    h('label', {
      for: inputId,
      class: 'small',
      text: 'Amount (smallest unit; empty refunds everything left)',
    }),
    input,
    h('label', { for: reasonId, class: 'small', text: 'Reason' }),
    reason,
    h('div', { class: 'actions' }, button),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const amount = input.value.trim() === '' ? undefined : Number(input.value);
    const what = amount === undefined ? formatMoney(left, p.currency) : formatMoney(amount, p.currency);
    if (!window.confirm(`Refund ${what} to the customer?`)) return;
    button.disabled = true;
    setStatus(status, 'Refunding…');
    const path = box.dataset.refund.replace('{id}', encodeURIComponent(p.id));
    const why = reason.value.trim() || 'Requested by the customer';
    const r = await api('POST', path, amount === undefined ? { reason: why } : { amount, reason: why });
    button.disabled = false;
    if (!r.ok) {
      setStatus(status, r.message, 'error');
      return;
    }
    setStatus(status, 'Refunded.', 'success');
    setTimeout(() => void load(true), 500);
  });
  // Closed until asked for: a refund is deliberate, and the table stays readable.
  return h('details', { class: 'refund' }, h('summary', { text: 'Refund…' }), form);
}

function render() {
  if (!rows.length) {
    box.replaceChildren(h('p', { class: 'muted', text: 'No payments match.' }));
    return;
  }
  const body = rows.map((p) => {
    const [kind, text] = STATUS[p.status] ?? ['plain', p.status];
    const refunded =
      typeof p.amount_refunded === 'number' && p.amount_refunded > 0
        ? h('span', { class: 'sub', text: `${formatMoney(p.amount_refunded, p.currency)} refunded` })
        : null;
    const who = p.user_id
      ? h('a', {
          href: `/admin/customers/${encodeURIComponent(p.user_id)}`,
          text: emails[p.user_id] ?? p.user_email ?? 'Customer',
        })
      : '—';
    return h(
      'tr',
      { 'data-payment-id': p.id, 'data-status': p.status },
      h('td', { text: formatDate(p.created_at) }),
      h('td', {}, who),
      h('td', {}, labels[p.price_id] ?? p.description ?? 'Payment', h('span', { class: 'sub', text: p.id })),
      h('td', { class: 'num' }, formatMoney(p.amount, p.currency), refunded),
      h('td', {}, h('span', { class: `badge ${kind}`, 'data-testid': 'payment-status', text })),
      h('td', {}, REFUNDABLE.has(p.status) ? refundForm(p) : ''),
    );
  });
  const head = ['Date', 'Customer', 'What', 'Amount', 'Status', 'Refund'].map((t) =>
    h('th', { scope: 'col', class: t === 'Amount' ? 'num' : undefined, text: t }),
  );
  box.replaceChildren(
    h(
      'div',
      { class: 'table-wrap', role: 'region', 'aria-label': 'Payments', tabindex: '0' },
      h('table', {}, h('thead', {}, h('tr', {}, head)), h('tbody', {}, body)),
    ),
  );
}

async function load(reset) {
  if (reset) {
    rows = [];
    cursor = null;
  }
  const params = new URLSearchParams({ limit: '50' });
  const status = filter?.elements.status.value;
  if (status) params.set('status', status);
  if (cursor) params.set('starting_after', cursor);
  const r = await api('GET', `${box.dataset.list}?${params}`);
  if (!r.ok) {
    box.replaceChildren(
      h('p', {
        class: 'muted',
        text: r.code === 'route_missing' ? 'Payments are not recorded on this server yet.' : r.message,
      }),
    );
    more.hidden = true;
    return;
  }
  rows = rows.concat(r.data?.data ?? []);
  cursor = rows.at(-1)?.id ?? null;
  more.hidden = !r.data?.has_more;
  await loadEmails();
  render();
}

filter?.addEventListener('submit', (event) => {
  event.preventDefault();
  void load(true);
});
more?.addEventListener('click', () => void load(false));
if (box) void load(true);
