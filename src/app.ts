import { isUtf8 } from 'node:buffer';
import { sql } from 'drizzle-orm';
import type { Deps } from './deps';
import { resolvePrincipal } from './http/auth';
import { limitBody } from './http/body';
import { mountDocs } from './http/docs';
import type { BodyLane, Lane } from './http/lanes';
import { requestScope } from './http/request-scope';
import type { AppEnv } from './http/env';
import { handleError, renderError } from './http/errors';
import { createRouter } from './http/router';
import { adminRoutes } from './modules/admin/admin.routes';
import { authRoutes } from './modules/auth/auth.routes';
import { catalogRoutes } from './modules/catalog/catalog.routes';
import { creditsAdminRoutes } from './modules/credits/credits.admin.routes';
import { consumeLane } from './modules/credits/consume.lane';
import { creditsRoutes } from './modules/credits/credits.routes';
import { webhookRoutes } from './webhooks/webhooks.routes';
import { webhookLane } from './webhooks/webhook.lane';
import { checkLane } from './modules/entitlements/check.lane';
import { entitlementsRoutes } from './modules/entitlements/entitlements.routes';
import { LoginThrottle } from './modules/auth/throttle';
import { discountRoutes } from './modules/discounts/discounts.routes';
import { checkoutRoutes } from './modules/checkout/checkout.routes';
import { paymentsRoutes } from './modules/payments/payments.routes';
import { subscriptionRoutes } from './modules/subscriptions/subscriptions.routes';
import { webRoutes } from './web/web.routes';
import { Lifecycle } from './lib/lifecycle';
import { createMetrics } from './metrics/metrics';
import { metricsEndpoint } from './metrics/metrics.http';
import { jobRoutes } from './jobs/jobs.routes';

export const API_PREFIX = '/api/v1';

/** The dotted paths of the string values (and keys) that held bytes which are not UTF-8. */
function invalidUtf8Fields(bytes: ArrayBuffer): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8').decode(bytes));
  } catch {
    return [];
  }
  const out: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (typeof value === 'string') {
      if (value.includes('\uFFFD')) out.push(path || '(body)');
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
    }
  };
  walk(parsed, '');
  return out;
}

/** Builds the whole HTTP app from its dependencies; no sockets, so tests use `app.request()`. */
export function createApp(deps: Deps) {
  const app = createRouter();
  const throttle = new LoginThrottle(
    deps.config.LOGIN_MAX_FAILURES,
    deps.config.LOGIN_MAX_FAILURES_PER_IP,
    deps.config.LOGIN_LOCK_MINUTES * 60_000,
    () => deps.wallClock.now().getTime(),
  );

  // Every app instance has its own metrics registry and in-flight tracking (graceful shutdown).
  deps.metrics ??= createMetrics();
  deps.lifecycle ??= new Lifecycle();
  // Draining, in-flight count, deps, request id, security headers, metrics and the request log in one
  // layer (src/http/request-scope.ts).
  app.use('*', requestScope(deps));
  // Only for methods with a body, and on the declared length when there is one: asking for the body turns
  // @hono/node-server's light request into a full fetch Request (src/http/body.ts, bench/check.ts).
  app.on(
    ['POST', 'PUT', 'PATCH', 'DELETE'],
    `${API_PREFIX}/*`,
    limitBody(deps.config.BODY_LIMIT_BYTES, (c) =>
      renderError(c, 'payload_too_large', 413, `Body larger than ${deps.config.BODY_LIMIT_BYTES} bytes`),
    ),
  );
  // JSON bodies must be valid UTF-8: a lenient decode would turn bad bytes into U+FFFD and store them.
  app.on(['POST', 'PUT', 'PATCH', 'DELETE'], `${API_PREFIX}/*`, async (c, next) => {
    if (c.req.header('content-type')?.includes('json')) {
      const bytes = await c.req.arrayBuffer();
      if (!isUtf8(bytes)) {
        const fields = invalidUtf8Fields(bytes);
        const where = fields.length ? fields.join(', ') : 'body';
        return renderError(c, 'invalid_request', 400, `Invalid ${where}: not valid UTF-8`, {
          fields: (fields.length ? fields : ['(body)']).map((path) => ({
            path,
            message: 'not valid UTF-8',
            code: 'invalid_utf8',
          })),
        });
      }
    }
    await next();
  });
  app.use(`${API_PREFIX}/*`, resolvePrincipal);

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/metrics', (c) => metricsEndpoint(c, deps));
  app.get('/readyz', async (c) => {
    try {
      await deps.db.execute(sql`select 1`);
      return c.json({ ok: true, database: deps.database.kind });
    } catch {
      return renderError(c, 'not_ready', 503, 'Database unavailable');
    }
  });

  app.route(API_PREFIX, authRoutes(throttle));
  app.route(API_PREFIX, adminRoutes());
  app.route(API_PREFIX, catalogRoutes());
  app.route(API_PREFIX, creditsRoutes());
  app.route(API_PREFIX, creditsAdminRoutes());
  app.route(API_PREFIX, webhookRoutes());
  app.route(API_PREFIX, discountRoutes());
  app.route(API_PREFIX, entitlementsRoutes());
  app.route(API_PREFIX, checkoutRoutes());
  app.route(API_PREFIX, subscriptionRoutes());
  app.route(API_PREFIX, paymentsRoutes());
  app.route(API_PREFIX, jobRoutes());

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'A session token (pws_...) or an API key (pwk_...)',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'cookieAuth', {
    type: 'apiKey',
    in: 'cookie',
    name: 'paywire_session',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Paywire API',
      version: '1',
      description: 'Payments, subscriptions, entitlements and credits.',
    },
  });
  mountDocs(app);
  app.route('/', webRoutes(deps, { throttle }));

  app.notFound((c) => renderError(c, 'not_found', 404, `No route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => handleError(err, c as never));
  return app;
}

export type PaywireApp = ReturnType<typeof createApp>;

/**
 * The lanes a listening server puts before the app (src/http/lanes.ts): the hot reads answered straight
 * on Node's request and response when they succeed. `app.request()` and a host app mounting the app go
 * through the app only, with the same answers.
 */
export function appLanes(deps: Deps): Lane[] {
  return [checkLane(deps, `${API_PREFIX}/entitlements/check`)];
}

/** The POST lanes (src/http/lanes.ts `BodyLane`): the Stripe webhook and credit consumption. */
export function appBodyLanes(deps: Deps): BodyLane[] {
  return [
    webhookLane(deps, `${API_PREFIX}/webhooks/stripe`),
    consumeLane(deps, `${API_PREFIX}/credits/consume`),
  ];
}
export type { AppEnv };
