import type { EmulatorContext } from '../context';
import { invalidParam } from '../errors';
import { embeddedList, newestFirst, paginate } from '../lists';
import type { ApiRouter } from '../router';
import { applyMetadata, matchesRange, optObject, optString } from '../wire';
import {
  CHECKOUT_PRIVATE,
  type CheckoutPrivate,
  type SessionRecord,
  checkoutPrivate,
  expireSession,
  getSession,
  sweepExpiredSessions,
  withCurrentUrl,
} from './checkout';
import { createSession } from './checkout-create';

export function registerCheckoutRoutes(ctx: EmulatorContext, r: ApiRouter): void {
  ctx.expanders.set('checkout.session.line_items', (parent) =>
    embeddedList(
      ctx.store.get<CheckoutPrivate>(CHECKOUT_PRIVATE, String(parent.id))?.line_items ?? [],
      `/v1/checkout/sessions/${String(parent.id)}/line_items`,
    ),
  );
  ctx.clock.onAdvance(() => sweepExpiredSessions(ctx));
  r.post('/v1/checkout/sessions', (req) => createSession(ctx, req.params));
  r.get('/v1/checkout/sessions/:id/line_items', (req) => {
    getSession(ctx, req.path.id);
    return paginate(checkoutPrivate(ctx, req.path.id).line_items, req.params, req.url);
  });
  r.post('/v1/checkout/sessions/:id/expire', (req) => {
    const s = getSession(ctx, req.path.id);
    if (s.status !== 'open') {
      throw invalidParam(
        'session',
        `Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${s.status}".`,
        'checkout_session_not_open',
      );
    }
    return expireSession(ctx, s);
  });
  r.get('/v1/checkout/sessions/:id', (req) => getSession(ctx, req.path.id));
  r.post('/v1/checkout/sessions/:id', (req) => {
    const s = getSession(ctx, req.path.id);
    s.metadata = applyMetadata(s.metadata ?? {}, req.params);
    ctx.store.save('checkout_sessions', s);
    return s;
  });
  r.get('/v1/checkout/sessions', (req) => {
    const p = req.params;
    const customer = optString(p, 'customer');
    const status = optString(p, 'status');
    const pi = optString(p, 'payment_intent');
    const sub = optString(p, 'subscription');
    const details = optObject(p, 'customer_details');
    const email = details ? optString(details, 'email') : undefined;
    sweepExpiredSessions(ctx);
    const items = ctx.store
      .all<SessionRecord>('checkout_sessions')
      .filter(
        (s) =>
          (!customer || s.customer === customer) &&
          (!status || s.status === status) &&
          (!pi || s.payment_intent === pi) &&
          (!sub || s.subscription === sub) &&
          (!email || s.customer_details?.email === email) &&
          matchesRange(s.created, p.created),
      )
      .map((s) => withCurrentUrl(ctx, s));
    return paginate(newestFirst(items), p, req.url);
  });
}
