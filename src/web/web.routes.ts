import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Deps } from '../deps';
import type { LoginThrottle } from '../modules/auth/throttle';
import { assetRoutes } from './assets';
import type { WebEnv } from './env';
import { notFoundPage, pageError, pageHeaders } from './render';
import { registerAdminPages } from './routes/admin';
import { registerAuthPages } from './routes/auth';
import { registerUserPages } from './routes/user';
import { pagePrincipal } from './session';

export interface WebOptions {
  /** The app's log-in throttle, so the page and the JSON log-in count failures together. */
  throttle: LoginThrottle;
}

/**
 * The server-rendered pages (SPEC sections 11 and 13) and their assets. A plain Hono router, so the
 * pages stay out of the OpenAPI document. Every middleware is attached per route: mounted at `/`, a
 * `use('*')` here would also run for the JSON API.
 */
export function webRoutes(deps: Deps, opts: WebOptions) {
  const web = new Hono<WebEnv>();
  web.onError(pageError);

  // Forms are small; the JSON API has its own limit.
  const limit = bodyLimit({
    maxSize: Math.min(deps.config.BODY_LIMIT_BYTES, 64 * 1024),
    onError: (c) => c.text('Payload too large', 413),
  });
  for (const path of ['/login', '/signup', '/logout', '/try/generate']) web.post(path, limit);

  web.route('/', assetRoutes());
  registerAuthPages(web, opts.throttle);
  registerUserPages(web);
  registerAdminPages(web);

  web.get('/account', (c) => c.redirect('/account/billing', 301));
  // Unknown admin addresses answer with the page 404, not the API's JSON.
  web.get('/admin/*', pageHeaders, pagePrincipal, notFoundPage);
  return web;
}
