import type { EmulatorContext } from '../context';
import { invalidParam, missingParam, stripeError } from '../errors';
import { emitEvent, previousAttributes } from '../events';
import { lookupCard } from '../cards';
import { newestFirst, paginate } from '../lists';
import { attachPaymentMethod, createCardPaymentMethod, resolvePaymentMethod } from '../payments';
import type { ApiRouter } from '../router';
import { type Params, applyMetadata, optInt, optObject, optString, reqString } from '../wire';
import type { PaymentMethodRecord } from './payment-method-shape';

function createPaymentMethod(ctx: EmulatorContext, p: Params): PaymentMethodRecord {
  const type = optString(p, 'type') ?? 'card';
  if (type !== 'card') {
    throw invalidParam(
      'type',
      `The emulator supports only card payment methods (got '${type}').`,
      'payment_method_unexpected_type',
    );
  }
  const card = optObject(p, 'card');
  if (!card) throw missingParam('card');
  const source = optString(card, 'token') ?? optString(card, 'number');
  if (!source) throw missingParam('card[number]');
  const test = lookupCard(source);
  if (!test) {
    throw stripeError(402, {
      type: 'card_error',
      code: 'incorrect_number',
      param: 'card[number]',
      message: 'Your card number is incorrect.',
    });
  }
  const pm = createCardPaymentMethod(ctx, test, {
    metadata: applyMetadata({}, p),
    billing_details: p.billing_details,
    exp_month: optInt(card, 'exp_month') ?? undefined,
    exp_year: optInt(card, 'exp_year') ?? undefined,
  });
  return pm;
}

export function registerPaymentMethodRoutes(ctx: EmulatorContext, r: ApiRouter): void {
  r.post('/v1/payment_methods', (req) => createPaymentMethod(ctx, req.params));
  r.get('/v1/payment_methods/:id', (req) => resolvePaymentMethod(ctx, req.path.id, null, 'id'));
  r.post('/v1/payment_methods/:id/attach', (req) => {
    const customer = reqString(req.params, 'customer');
    const pm = resolvePaymentMethod(ctx, req.path.id, null, 'id');
    attachPaymentMethod(ctx, pm, customer);
    return pm;
  });
  r.post('/v1/payment_methods/:id/detach', (req) => {
    const pm = ctx.store.require<PaymentMethodRecord>('payment_methods', req.path.id, 'PaymentMethod');
    if (!pm.customer)
      throw invalidParam(
        'payment_method',
        'The payment method you provided is not attached to a customer so detachment is impossible.',
        'payment_method_unexpected_state',
      );
    const customer = pm.customer as string;
    pm.customer = null;
    ctx.store.save('payment_methods', pm);
    const cus = ctx.store.get<{ id: string; invoice_settings: { default_payment_method: string | null } }>(
      'customers',
      customer,
    );
    if (cus && cus.invoice_settings.default_payment_method === pm.id) {
      cus.invoice_settings.default_payment_method = null;
      ctx.store.save('customers', cus);
    }
    emitEvent(ctx, 'payment_method.detached', pm, { customer });
    return pm;
  });
  r.post('/v1/payment_methods/:id', (req) => {
    const pm = ctx.store.require<PaymentMethodRecord>('payment_methods', req.path.id, 'PaymentMethod');
    const before = structuredClone(pm);
    pm.metadata = applyMetadata(pm.metadata ?? {}, req.params);
    const card = optObject(req.params, 'card');
    if (card && pm.card) {
      pm.card.exp_month = optInt(card, 'exp_month') ?? pm.card.exp_month;
      pm.card.exp_year = optInt(card, 'exp_year') ?? pm.card.exp_year;
    }
    const bd = optObject(req.params, 'billing_details');
    if (bd) {
      for (const f of ['email', 'name', 'phone'] as const) {
        const v = optString(bd, f);
        if (v !== undefined) pm.billing_details[f] = v;
      }
    }
    ctx.store.save('payment_methods', pm);
    const prev = previousAttributes(before, pm);
    if (Object.keys(prev).length) emitEvent(ctx, 'payment_method.updated', pm, prev);
    return pm;
  });
  r.get('/v1/payment_methods', (req) => {
    const customer = optString(req.params, 'customer');
    const type = optString(req.params, 'type');
    const items = ctx.store
      .all<PaymentMethodRecord>('payment_methods')
      .filter((pm) => (!customer || pm.customer === customer) && (!type || pm.type === type));
    return paginate(newestFirst(items), req.params, req.url);
  });
}
