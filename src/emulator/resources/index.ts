import type { EmulatorContext } from '../context';
import { type EmulatorApp, apiRouter } from '../router';
import { registerCatalogRoutes } from './catalog';
import { registerChargeRoutes } from './charges';
import { registerCheckoutRoutes } from './checkout-routes';
import { registerCustomerRoutes } from './customers';
import { registerDiscountRoutes } from './discounts';
import { registerDisputeRoutes } from './disputes';
import { registerPaymentIntentRoutes } from './payment-intents';
import { registerPaymentMethodRoutes } from './payment-methods';
import { registerWebhookEndpointRoutes } from './webhook-endpoints';

/** Mounts every core `/v1` resource (billing mounts its own through registerBillingRoutes). */
export function registerCoreResources(app: EmulatorApp, ctx: EmulatorContext): void {
  const r = apiRouter(app, ctx);
  registerCustomerRoutes(ctx, r);
  registerCatalogRoutes(ctx, r);
  registerDiscountRoutes(ctx, r);
  registerPaymentMethodRoutes(ctx, r);
  registerPaymentIntentRoutes(ctx, r);
  registerChargeRoutes(ctx, r);
  registerDisputeRoutes(app, ctx, r);
  registerCheckoutRoutes(ctx, r);
  registerWebhookEndpointRoutes(ctx, r);
  r.get('/v1/setup_intents/:id', (req) => ctx.store.require('setup_intents', req.path.id, 'setup_intent'));
}
