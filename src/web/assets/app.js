// Shared browser code of the Paywire pages: the JSON API caller (CSRF header, error codes turned into
// sentences), formatting, and two declarative behaviours: <form data-api> and <button data-api>.
// Everything a person typed or the API returned is written with textContent, never as HTML.
import { MESSAGES, ZERO_DECIMAL } from './messages.js';

export const csrfToken = () =>
  document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

const labelOf = (path) =>
  String(path || '')
    .replace(/[_.]+/g, ' ')
    .trim();

/** The sentence for an API error code, with the details that help (never the raw envelope). */
export function messageFor(code, details) {
  let text = MESSAGES[code] ?? MESSAGES.unexpected;
  if (code === 'invalid_request' && Array.isArray(details?.fields) && details.fields.length) {
    const names = [...new Set(details.fields.map((f) => labelOf(f.path)).filter(Boolean))];
    if (names.length) text = `${text} Check: ${names.join(', ')}.`;
  }
  if (code === 'insufficient_credits' && details && typeof details.needed === 'number') {
    text = `You need ${formatNumber(details.needed)} credits and have ${formatNumber(details.available ?? 0)}.`;
  }
  if (code === 'rate_limited' && details?.retry_after_seconds) {
    text = `${text} You can try again in ${details.retry_after_seconds} seconds.`;
  }
  return text;
}

/**
 * Calls the JSON API. Never throws: resolves to {ok, status, data} or {ok: false, status, code,
 * details, message} where message is a sentence for a person.
 */
export async function api(method, path, body, opts = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') {
    const token = csrfToken();
    if (token) headers['x-csrf-token'] = token;
  }
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, code: 'network', message: messageFor('network') };
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.ok) return { ok: true, status: res.status, data };
  let code = data?.error?.code ?? (res.status === 404 ? 'not_found' : 'unexpected');
  // An endpoint this server does not have (yet): the app's fallback 404 says "No route for ...".
  if (res.status === 404 && code === 'not_found' && /^No route for/.test(data?.error?.message ?? '')) {
    code = 'route_missing';
  }
  const details = data?.error?.details;
  return { ok: false, status: res.status, code, details, message: messageFor(code, details) };
}

export function formatMoney(amount, currency) {
  if (typeof amount !== 'number' || !currency) return '—';
  const decimals = ZERO_DECIMAL.includes(String(currency).toLowerCase()) ? 0 : 2;
  return new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency: String(currency).toUpperCase(),
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  }).format(amount / 10 ** decimals);
}

export const formatNumber = (n) => (typeof n === 'number' ? new Intl.NumberFormat('en-US').format(n) : '—');

export function formatDate(value) {
  if (value === null || value === undefined || value === '') return '—';
  const d = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(d.getTime())) return '—';
  return new Intl.DateTimeFormat('en-GB', {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone: 'UTC',
  }).format(d);
}

export function setStatus(el, text, kind) {
  if (!el) return;
  el.textContent = text;
  el.classList.remove('error', 'success');
  if (kind) el.classList.add(kind);
}

/** Builds an element; children are nodes or strings (strings become text, never markup). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A <dt>/<dd> pair (text only). */
export const fact = (label, value) => [h('dt', { text: label }), h('dd', { text: value })];

/** What a plan change costs, from POST /payments/subscription/preview, as <dt>/<dd> pairs. */
export function previewFacts(pv, fallbackCurrency) {
  const cur = pv.currency ?? fallbackCurrency ?? 'usd';
  const out = [...fact('Charged now', formatMoney(pv.immediate_charge, cur))];
  if (typeof pv.credit_applied === 'number' && pv.credit_applied) {
    out.push(...fact('Credit for unused time', formatMoney(Math.abs(pv.credit_applied), cur)));
  }
  if (typeof pv.prorated_amount === 'number' && pv.prorated_amount !== pv.immediate_charge) {
    out.push(...fact('Prorated difference', formatMoney(pv.prorated_amount, cur)));
  }
  out.push(...fact('Next bill', formatDate(pv.next_billing_date)));
  return out;
}

/**
 * Starts a Stripe Checkout for a price; on success the browser leaves for the hosted page. The return
 * URLs are the checkout module's defaults (/checkout/success and /checkout/cancel on PUBLIC_URL).
 */
export async function startCheckout(priceId, extra = {}) {
  const result = await api('POST', '/api/v1/payments/checkout', { price_id: priceId, ...extra });
  if (result.ok && result.data?.checkout_url) {
    window.location.assign(result.data.checkout_url);
  }
  return result;
}

/** Fills `{field}` placeholders of a success message from an API answer (as text). */
const fill = (template, data) =>
  String(template).replace(/\{(\w+)\}/g, (_, k) => (data && data[k] !== undefined ? String(data[k]) : ''));

function formJson(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.name === '_csrf' || el.disabled || el.dataset.skip !== undefined) continue;
    const type = el.dataset.type;
    if (el.type === 'checkbox') {
      if (type === 'list') {
        if (el.checked) out[el.name] = [...(out[el.name] ?? []), el.value];
      } else out[el.name] = el.checked;
      continue;
    }
    if (el.tagName === 'SELECT' && el.multiple) {
      const values = [...el.selectedOptions].map((o) => o.value);
      if (values.length) out[el.name] = values;
      continue;
    }
    const raw = el.value.trim();
    if (raw === '') continue; // optional and left empty: not sent
    if (type === 'int') out[el.name] = Number(raw);
    else if (type === 'bool') out[el.name] = raw === 'true';
    else if (type === 'date') out[el.name] = new Date(raw).toISOString();
    else if (type === 'list')
      out[el.name] = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else out[el.name] = raw;
  }
  return out;
}

async function runAction(trigger, method, path, body, statusEl) {
  if (trigger.dataset.confirm && !window.confirm(trigger.dataset.confirm)) return;
  trigger.setAttribute('aria-busy', 'true');
  if ('disabled' in trigger) trigger.disabled = true;
  setStatus(statusEl, 'Working…');
  const result = await api(method, path, body);
  trigger.removeAttribute('aria-busy');
  if ('disabled' in trigger) trigger.disabled = false;
  if (!result.ok) {
    setStatus(statusEl, result.message, 'error');
    return;
  }
  setStatus(statusEl, fill(trigger.dataset.success ?? 'Done.', result.data), 'success');
  if (trigger.dataset.reload !== undefined) setTimeout(() => window.location.reload(), 600);
}

function statusFor(el) {
  return (
    el.closest('[data-scope]')?.querySelector('[data-status]') ??
    el.closest('form')?.querySelector('[data-status]') ??
    document.getElementById('page-status')
  );
}

document.addEventListener('submit', (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
  event.preventDefault();
  void runAction(form, form.dataset.method ?? 'POST', form.dataset.api, formJson(form), statusFor(form));
});

document.addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button[data-api]') : null;
  if (!button || button.form?.dataset.api) return;
  event.preventDefault();
  const body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
  void runAction(button, button.dataset.method ?? 'POST', button.dataset.api, body, statusFor(button));
});
