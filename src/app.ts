import { sql } from 'drizzle-orm';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import type { Deps } from './deps';
import { resolvePrincipal } from './http/auth';
import { mountDocs } from './http/docs';
import type { AppEnv } from './http/env';
import { handleError, renderError } from './http/errors';
import { createRouter } from './http/router';
import { adminRoutes } from './modules/admin/admin.routes';
import { authRoutes } from './modules/auth/auth.routes';
import { LoginThrottle } from './modules/auth/throttle';

export const API_PREFIX = '/api/v1';

/** Builds the whole HTTP app from its dependencies; no sockets, so tests use `app.request()`. */
export function createApp(deps: Deps) {
  const app = createRouter();
  const throttle = new LoginThrottle(
    deps.config.LOGIN_MAX_FAILURES,
    deps.config.LOGIN_MAX_FAILURES_PER_IP,
    deps.config.LOGIN_LOCK_MINUTES * 60_000,
    () => deps.wallClock.now().getTime(),
  );

  app.use('*', requestId({ headerName: 'X-Request-Id' }));
  app.use('*', async (c, next) => {
    c.set('deps', deps);
    c.set('principal', null);
    const started = performance.now();
    await next();
    const ms = Math.round((performance.now() - started) * 10) / 10;
    // Only method, path and status: never headers, bodies or query strings (they may carry secrets).
    deps.logger.debug(
      { request_id: c.get('requestId'), method: c.req.method, path: c.req.path, status: c.res.status, ms },
      'request',
    );
  });
  app.use('*', secureHeaders({ crossOriginEmbedderPolicy: false, contentSecurityPolicy: undefined }));
  app.use(
    `${API_PREFIX}/*`,
    bodyLimit({
      maxSize: deps.config.BODY_LIMIT_BYTES,
      onError: (c) =>
        renderError(c, 'payload_too_large', 413, `Body larger than ${deps.config.BODY_LIMIT_BYTES} bytes`),
    }),
  );
  app.use(`${API_PREFIX}/*`, resolvePrincipal);

  app.get('/healthz', (c) => c.json({ ok: true }));
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

  app.notFound((c) => renderError(c, 'not_found', 404, `No route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => handleError(err, c as never));
  return app;
}

export type PaywireApp = ReturnType<typeof createApp>;
export type { AppEnv };
