// The "try the AI feature" page: runs POST /try/generate (which spends ai_tokens through the
// requireCredits guard) and shows the result, or the out-of-credits state with a button to buy a pack.
import { api, formatNumber, setStatus, startCheckout } from './app.js';

const form = document.getElementById('try-form');
const runBtn = document.getElementById('try-run');
const status = form?.querySelector('[data-status]');
const balance = document.getElementById('try-balance');
const out = document.getElementById('try-out-of-credits');
const needed = document.getElementById('try-needed');
const result = document.getElementById('try-result');
const output = document.getElementById('try-output');
const charge = document.getElementById('try-charge');

// A fresh key per run: a retried request is never charged twice (getRandomValues works without HTTPS).
const newKey = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

form?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const prompt = form.elements.prompt.value.trim();
  if (!prompt) {
    setStatus(status, 'Write a few words first.', 'error');
    form.elements.prompt.focus();
    return;
  }
  runBtn.disabled = true;
  setStatus(status, 'Generating…');
  const r = await api('POST', '/try/generate', { prompt }, { idempotencyKey: `try:${newKey()}` });
  runBtn.disabled = false;
  if (r.ok) {
    out.hidden = true;
    output.textContent = r.data.output;
    charge.textContent = `Used ${formatNumber(r.data.credits_consumed)} tokens; ${formatNumber(r.data.remaining_balance)} left.`;
    balance.textContent = formatNumber(r.data.remaining_balance);
    result.hidden = false;
    setStatus(status, 'Done.', 'success');
    return;
  }
  if (r.code === 'insufficient_credits') {
    const d = r.details ?? {};
    needed.textContent = `This run needs ${formatNumber(d.needed)} tokens and you have ${formatNumber(d.available ?? 0)}.`;
    if (typeof d.available === 'number') balance.textContent = formatNumber(d.available);
    result.hidden = true;
    out.hidden = false;
    setStatus(status, r.message, 'error');
    out.focus();
    return;
  }
  setStatus(status, r.message, 'error');
});

document.addEventListener('click', async (event) => {
  const btn = event.target instanceof Element ? event.target.closest('button.buy') : null;
  if (!btn) return;
  const where = btn.closest('[data-scope]')?.querySelector('[data-status]');
  btn.disabled = true;
  setStatus(where, 'Opening the secure checkout…');
  const r = await startCheckout(btn.dataset.priceId);
  if (r.ok) return;
  btn.disabled = false;
  setStatus(where, r.message, 'error');
});
