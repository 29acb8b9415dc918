import type Stripe from 'stripe';
import { z } from 'zod';
import type { EmulatorContext } from '../context';
import { getCheckoutLineItems, getCheckoutSubscriptionData } from '../resources/checkout';
import { apiRouter, type EmulatorApp } from '../router';
import { advanceEmulatorClock } from './advance';
import { registerPortalApi, registerPortalPages } from './portal';
import { registerInvoiceExpanders, registerInvoiceRoutes } from './routes-invoices';
import { registerInvoiceItemRoutes } from './routes-invoiceitems';
import { registerSubscriptionRoutes } from './routes-subscriptions';
import { createSchedule, cancelSchedule, releaseSchedule, updateSchedule } from './schedules';
import {
  allSchedules,
  nowForCustomer,
  renderSchedule,
  requireSchedule,
  saveSettings,
  settings,
} from './state';
import { createSubscription } from './subscriptions';
import { registerTestClockRoutes } from './test-clocks';
import { type BillingSettings, DEFAULT_BILLING_SETTINGS } from './types';
import { newestFirst, paginate } from '../lists';
import { optString } from '../wire';
import { SECONDS_PER_DAY } from './periods';

export type { BillingSettings } from './types';

/** Billing's `/v1` routes, the clock control routes and the billing portal pages. */
export function registerBillingRoutes(app: EmulatorApp, ctx: EmulatorContext): void {
  const r = apiRouter(app, ctx);
  registerSubscriptionRoutes(r);
  registerInvoiceRoutes(r);
  registerInvoiceItemRoutes(r);
  registerTestClockRoutes(r);
  registerPortalApi(r);
  registerInvoiceExpanders(ctx);

  r.post('/v1/subscription_schedules', ({ ctx, params }) => createSchedule(ctx, params));
  r.get('/v1/subscription_schedules/:id', ({ ctx, path }) =>
    renderSchedule(ctx, requireSchedule(ctx, path.id)),
  );
  r.post('/v1/subscription_schedules/:id', ({ ctx, path, params }) => updateSchedule(ctx, path.id, params));
  r.post('/v1/subscription_schedules/:id/release', ({ ctx, path }) => releaseSchedule(ctx, path.id));
  r.post('/v1/subscription_schedules/:id/cancel', ({ ctx, path, params }) =>
    cancelSchedule(ctx, path.id, params),
  );
  r.get('/v1/subscription_schedules', ({ ctx, params, url }) => {
    const customer = optString(params, 'customer');
    const list = allSchedules(ctx).filter((s) => !customer || s.customer === customer);
    return paginate(
      newestFirst(list).map((s) => renderSchedule(ctx, s)),
      params,
      url,
    );
  });

  registerClockControl(app, ctx);
  registerPortalPages(app, ctx);
}

const advanceBody = z.object({
  seconds: z.number().int().positive().optional(),
  to: z.number().int().optional(),
});
const settingsBody = z.object({
  retry_days: z.array(z.number().positive()).max(10).optional(),
  final_action: z.enum(['cancel', 'unpaid']).optional(),
  trial_will_end_days: z.number().min(0).optional(),
  upcoming_days: z.number().min(0).optional(),
  incomplete_expiry_seconds: z.number().int().positive().optional(),
});

function clockJson(ctx: EmulatorContext) {
  const now = ctx.clock.nowSeconds();
  return { now, iso: new Date(now * 1000).toISOString() };
}

function settingsJson(s: BillingSettings) {
  return {
    retry_days: s.retryDays,
    final_action: s.finalAction,
    trial_will_end_days: s.trialWillEndDays,
    upcoming_days: s.upcomingDays,
    incomplete_expiry_seconds: s.incompleteExpirySeconds,
  };
}

/** Changes the dunning / trial settings (in process; `POST /_emulator/billing/settings` over HTTP). */
export function configureBilling(ctx: EmulatorContext, patch: Partial<BillingSettings>): BillingSettings {
  const next = { ...settings(ctx), ...patch };
  saveSettings(ctx, next);
  return next;
}

function registerClockControl(app: EmulatorApp, ctx: EmulatorContext): void {
  app.get('/_emulator/clock', (c) => c.json(clockJson(ctx)));
  app.post('/_emulator/clock/advance', async (c) => {
    const parsed = advanceBody.safeParse(await c.req.json().catch(() => ({})));
    if (!parsed.success || (parsed.data.seconds === undefined && parsed.data.to === undefined)) {
      return c.json(
        {
          error: {
            type: 'invalid_request_error',
            message: 'Send {seconds: <positive integer>} or {to: <unix seconds>}.',
          },
        },
        400,
      );
    }
    const target = parsed.data.to ?? ctx.clock.nowSeconds() + (parsed.data.seconds as number);
    await advanceClock(ctx, target);
    return c.json(clockJson(ctx));
  });
  app.get('/_emulator/billing/settings', (c) => c.json(settingsJson(settings(ctx))));
  app.post('/_emulator/billing/settings', async (c) => {
    const parsed = settingsBody.safeParse(await c.req.json().catch(() => ({})));
    if (!parsed.success)
      return c.json({ error: { type: 'invalid_request_error', message: parsed.error.message } }, 400);
    const b = parsed.data;
    const next = await ctx.lock.run(() =>
      configureBilling(ctx, {
        ...(b.retry_days ? { retryDays: b.retry_days } : {}),
        ...(b.final_action ? { finalAction: b.final_action } : {}),
        ...(b.trial_will_end_days !== undefined ? { trialWillEndDays: b.trial_will_end_days } : {}),
        ...(b.upcoming_days !== undefined ? { upcomingDays: b.upcoming_days } : {}),
        ...(b.incomplete_expiry_seconds ? { incompleteExpirySeconds: b.incomplete_expiry_seconds } : {}),
      }),
    );
    ctx.persistSoon();
    return c.json(settingsJson(next));
  });
  app.delete('/_emulator/billing/settings', async (c) => {
    await ctx.lock.run(() => saveSettings(ctx, DEFAULT_BILLING_SETTINGS));
    ctx.persistSoon();
    return c.json(settingsJson(DEFAULT_BILLING_SETTINGS));
  });
}

/**
 * Checkout completion (mode=subscription): the subscription with the session's prices, trial,
 * metadata and discount, its first invoice paid with the checkout card (on-session).
 */
export function createSubscriptionFromCheckout(
  ctx: EmulatorContext,
  session: Stripe.Checkout.Session,
  paymentMethodId: string,
): { subscriptionId: string; invoiceId: string; paymentIntentId: string | null } {
  const customer = session.customer as string;
  const data = getCheckoutSubscriptionData(ctx, session.id);
  const lines = getCheckoutLineItems(ctx, session.id);
  const now = nowForCustomer(ctx, customer);
  const trialEnd =
    data.trial_end ?? (data.trial_period_days ? now + data.trial_period_days * SECONDS_PER_DAY : null);
  const d = session.discounts?.[0];
  const made = createSubscription(ctx, {
    customer,
    items: lines.map((l) => ({ price: l.price.id, quantity: l.quantity, metadata: {} })),
    default_payment_method: paymentMethodId,
    metadata: data.metadata,
    description: data.description,
    trial_end: trialEnd,
    trial_missing_pm: 'create_invoice',
    discounts: d
      ? [d.promotion_code ? { promotion_code: d.promotion_code as string } : { coupon: d.coupon as string }]
      : [],
    payment_behavior: 'allow_incomplete',
    cancel_at_period_end: false,
    cancel_at: null,
    collection_method: 'charge_automatically',
    days_until_due: null,
    offSession: false,
    redeem: false,
    announceEarly: true,
  });
  return { subscriptionId: made.sub.id, invoiceId: made.invoiceId, paymentIntentId: made.paymentIntentId };
}

/** The emulator-wide clock advance (see advance.ts). */
export async function advanceClock(ctx: EmulatorContext, toSeconds: number): Promise<void> {
  await advanceEmulatorClock(ctx, toSeconds);
}
