import type { Context } from 'hono';
import { z } from 'zod';
import type { EmulatorContext } from './context';
import { stripeError } from './errors';
import { emitEvent, previousAttributes } from './events';
import { clearFaults, faultsSchema, setFaults } from './faults';
import { resolvePaymentMethod } from './payments';
import { completeCheckoutSession } from './resources/checkout-complete';
import { closeDispute, openDispute } from './resources/disputes';
import type { EmulatorApp, EmulatorEnv } from './router';

/**
 * Test control API under `/_emulator/` (only on the emulator's own server). JSON in, JSON out; errors
 * use Stripe's error body. State changes take the lock; waiting for deliveries happens after it.
 */
async function body<T extends z.ZodType>(c: Context<EmulatorEnv>, schema: T): Promise<z.infer<T>> {
  const text = await c.req.text();
  let raw: unknown = {};
  if (text.trim()) {
    try {
      raw = JSON.parse(text);
    } catch {
      throw stripeError(400, { message: 'Body must be JSON.' });
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw stripeError(400, {
      code: 'parameter_invalid',
      param: issue?.path.join('.'),
      message: issue?.message ?? 'Invalid body',
    });
  }
  return parsed.data;
}

const cardBody = z.object({
  card: z.string().min(1).default('4242424242424242'),
  email: z.string().optional(),
});

export function registerControlRoutes(app: EmulatorApp, ctx: EmulatorContext): void {
  app.post('/_emulator/checkout/sessions/:id/complete', async (c) => {
    const { card, email } = await body(c, cardBody);
    const result = await ctx.lock.run(() => completeCheckoutSession(ctx, c.req.param('id'), card, email));
    ctx.persistSoon();
    if (!result.ok) return c.json({ error: result.error }, result.status as 402);
    await ctx.webhooks.settle(5_000);
    return c.json(result.session);
  });

  app.post('/_emulator/customers/:id/card', async (c) => {
    const { card } = await body(c, cardBody);
    const out = await ctx.lock.run(() => setCustomerCard(ctx, c.req.param('id'), card));
    ctx.persistSoon();
    return c.json(out);
  });

  app.post('/_emulator/disputes', async (c) => {
    const b = await body(
      c,
      z.object({ charge: z.string(), reason: z.string().optional(), inquiry: z.boolean().optional() }),
    );
    const d = await ctx.lock.run(() => openDispute(ctx, b.charge, { reason: b.reason, inquiry: b.inquiry }));
    ctx.persistSoon();
    return c.json(d);
  });

  app.post('/_emulator/disputes/:id/close', async (c) => {
    const b = await body(c, z.object({ outcome: z.enum(['won', 'lost']) }));
    const d = await ctx.lock.run(() => closeDispute(ctx, c.req.param('id'), b.outcome));
    ctx.persistSoon();
    return c.json(d);
  });

  app.post('/_emulator/reset', async (c) => {
    await ctx.lock.run(() => {
      ctx.webhooks.clear();
      ctx.store.clear();
      ctx.idempotency.clear();
      clearFaults(ctx.faults);
      for (const hook of ctx.resetHooks) hook();
    });
    ctx.persistSoon();
    return c.json({ ok: true });
  });

  app.post('/_emulator/faults', async (c) => {
    const settings = await body(c, faultsSchema);
    setFaults(ctx.faults, settings);
    return c.json({ delivery: ctx.faults.delivery, api: ctx.faults.api });
  });
  app.delete('/_emulator/faults', (c) => {
    clearFaults(ctx.faults);
    return c.json({ delivery: ctx.faults.delivery, api: ctx.faults.api });
  });
  app.get('/_emulator/faults', (c) => c.json({ delivery: ctx.faults.delivery, api: ctx.faults.api }));

  app.post('/_emulator/deliveries/flush', async (c) => {
    await ctx.webhooks.flush();
    return c.json({ ok: true, pending: ctx.webhooks.pendingCount() });
  });
}

/**
 * Gives the customer a new card and makes it the default for the customer and every subscription of
 * theirs (so the next renewal charges it: the way to test renewal failures with card 0341).
 */
export function setCustomerCard(
  ctx: EmulatorContext,
  customerId: string,
  card: string,
): { customer: unknown; payment_method: unknown } {
  const cus = ctx.store.require<{ id: string; invoice_settings: { default_payment_method: string | null } }>(
    'customers',
    customerId,
    'customer',
  );
  const pm = resolvePaymentMethod(ctx, card, cus.id, 'card');
  const before = structuredClone(cus);
  cus.invoice_settings.default_payment_method = pm.id;
  ctx.store.save('customers', cus);
  emitEvent(ctx, 'customer.updated', cus, previousAttributes(before, cus));
  for (const sub of ctx.store.all<{ id: string; customer: string; default_payment_method?: string | null }>(
    'subscriptions',
  )) {
    if (sub.customer !== cus.id) continue;
    sub.default_payment_method = pm.id;
    ctx.store.save('subscriptions', sub);
  }
  for (const hook of ctx.hooks.customerCardChanged) hook(cus.id, pm.id);
  return { customer: cus, payment_method: pm };
}
