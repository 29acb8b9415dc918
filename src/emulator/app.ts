import { Hono } from 'hono';
import { registerBillingRoutes } from './billing/index';
import { createClock } from './clock';
import { API_VERSION, type EmulatorContext, type EmulatorLogger, newRequestInfo } from './context';
import { registerControlRoutes } from './control';
import { StripeHttpError, stripeError } from './errors';
import { apiFaultMiddleware, createFaultState } from './faults';
import { IdempotencyStore } from './idempotency';
import { Mutex } from './lock';
import { registerCheckoutPage } from './pages/checkout-page';
import { registerCoreResources } from './resources/index';
import { type EmulatorApp, type EmulatorEnv, newRequestId } from './router';
import { Store, randomToken } from './store';
import { DEFAULT_RETRY_DELAYS_MS, WebhookDispatcher } from './webhooks';
import { webhookSecretOf } from './resources/webhook-endpoints';

export interface AppOptions {
  forwardTo?: string | null;
  forwardSecret?: string;
  retryDelaysMs?: number[];
  logger?: EmulatorLogger;
  baseUrl?: string;
}

const silentLogger: EmulatorLogger = { info() {}, warn() {} };

/** Builds the context and the Hono app (no listening, no persistence: see index.ts). */
export function createEmulatorApp(opts: AppOptions = {}): { app: EmulatorApp; ctx: EmulatorContext } {
  const store = new Store();
  const faults = createFaultState();
  const logger = opts.logger ?? silentLogger;
  const forwardSecret = opts.forwardSecret ?? `whsec_${randomToken(32)}`;
  const forwardTo = opts.forwardTo ?? null;
  const ctx: EmulatorContext = {
    store,
    clock: createClock(),
    lock: new Mutex(),
    faults,
    idempotency: new IdempotencyStore(),
    logger,
    baseUrl: opts.baseUrl ?? 'http://127.0.0.1:12111',
    forwardSecret,
    forwardTo,
    requestInfo: newRequestInfo(),
    persistSoon: () => {},
    resetHooks: [],
    expanders: new Map(),
    hooks: { customerDeleted: [], customerCardChanged: [] },
    webhooks: undefined as unknown as WebhookDispatcher,
  };
  ctx.webhooks = new WebhookDispatcher({
    store,
    faults,
    logger,
    retryDelaysMs: opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
    forwardTo,
    forwardSecret,
    secretOf: (id) => webhookSecretOf(ctx, id),
  });

  const app: EmulatorApp = new Hono<EmulatorEnv>();
  app.use('/v1/*', async (c, next) => {
    c.set('requestId', newRequestId());
    await next();
    c.res.headers.set('Request-Id', c.get('requestId'));
    c.res.headers.set('Stripe-Version', c.req.header('stripe-version') ?? API_VERSION);
  });
  app.use('/v1/*', apiFaultMiddleware(faults));
  app.use('/v1/*', async (c, next) => {
    const auth = c.req.header('authorization') ?? '';
    let key = '';
    if (auth.startsWith('Bearer ')) key = auth.slice(7).trim();
    else if (auth.startsWith('Basic ')) key = Buffer.from(auth.slice(6), 'base64').toString().split(':')[0];
    if (!key) {
      throw stripeError(401, {
        message:
          "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
      });
    }
    if (!key.startsWith('sk_test_')) {
      const shown =
        key.length > 8
          ? `${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`
          : key;
      throw stripeError(401, { message: `Invalid API Key provided: ${shown}` });
    }
    c.set('apiKey', key);
    await next();
  });

  registerCoreResources(app, ctx);
  registerBillingRoutes(app, ctx);
  registerControlRoutes(app, ctx);
  registerCheckoutPage(app, ctx);

  app.notFound((c) => {
    if (c.req.path.startsWith('/v1/')) {
      return c.json(
        {
          error: {
            type: 'invalid_request_error',
            message: `Unrecognized request URL (${c.req.method}: ${c.req.path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
          },
        },
        404,
      );
    }
    return c.text('Not found', 404);
  });
  app.onError((err, c) => {
    const requestId = c.get('requestId') ?? newRequestId();
    if (err instanceof StripeHttpError) {
      return new Response(JSON.stringify({ error: err.body }), {
        status: err.status,
        headers: { 'Content-Type': 'application/json', 'Request-Id': requestId, ...err.headers },
      });
    }
    logger.warn(
      { err: String(err), stack: (err as Error).stack, path: c.req.path },
      'emulator internal error',
    );
    return new Response(
      JSON.stringify({
        error: { type: 'api_error', message: `An unknown error occurred: ${(err as Error).message}` },
      }),
      { status: 500, headers: { 'Content-Type': 'application/json', 'Request-Id': requestId } },
    );
  });
  return { app, ctx };
}
