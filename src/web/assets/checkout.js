// Back from the hosted checkout: poll the checkout until the purchase is fulfilled, then open the
// account page (which then shows the plan and credits without anyone reloading it).
import { api, setStatus } from './app.js';

const box = document.getElementById('checkout-result');
const sessionId = box?.dataset.sessionId;
const state = document.getElementById('checkout-state');
const title = document.getElementById('checkout-title');
const started = Date.now();
const GIVE_UP_MS = 120_000;

async function poll() {
  const r = await api('GET', `/api/v1/payments/checkout/${encodeURIComponent(sessionId)}`);
  if (r.ok) {
    const d = r.data ?? {};
    if (d.fulfilled) {
      title.textContent = 'Payment received';
      setStatus(state, 'Your purchase is active. Opening your account…', 'success');
      setTimeout(() => window.location.replace('/account/billing?purchased=1'), 700);
      return;
    }
    if (d.status === 'expired') {
      title.textContent = 'Checkout expired';
      setStatus(state, 'This checkout expired before it was paid. Nothing was charged.', 'error');
      return;
    }
    setStatus(
      state,
      d.payment_status === 'paid'
        ? 'Payment received. Setting up your purchase…'
        : 'Confirming your payment…',
    );
  } else if (r.status === 404 || r.status === 403 || r.status === 400 || r.code === 'route_missing') {
    title.textContent = 'We could not confirm this checkout';
    setStatus(state, r.code === 'route_missing' ? r.message : 'We could not find this checkout.', 'error');
    return;
  }
  if (Date.now() - started > GIVE_UP_MS) {
    setStatus(
      state,
      'This is taking longer than usual. Your account page will show the purchase as soon as it is confirmed.',
    );
    return;
  }
  setTimeout(poll, Date.now() - started < 15_000 ? 600 : 2000);
}

if (sessionId) void poll();
