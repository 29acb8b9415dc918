import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import type { Deps } from '../deps';
import { httpObserver, routeOf } from '../metrics/metrics.http';
import type { AppEnv } from './env';
import { renderError } from './errors';

/** What hono's secureHeaders() sets with our options (no COEP, no CSP: pages set their own CSP). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Origin-Agent-Cluster': '?1',
  'Referrer-Policy': 'no-referrer',
  'Strict-Transport-Security': 'max-age=15552000; includeSubDomains',
  'X-Content-Type-Options': 'nosniff',
  'X-DNS-Prefetch-Control': 'off',
  'X-Download-Options': 'noopen',
  'X-Frame-Options': 'SAMEORIGIN',
  'X-Permitted-Cross-Domain-Policies': 'none',
  'X-XSS-Protection': '0',
};

export const REQUEST_ID_HEADER = 'X-Request-Id';
const VALID_REQUEST_ID = /^[\w\-=]{1,255}$/;
export const SECURITY_ENTRIES: readonly (readonly [string, string])[] = Object.entries(SECURITY_HEADERS);

/** A request's id: the caller's X-Request-Id when well-formed, else a new UUID. */
export function requestIdFor(given: string | undefined): string {
  return given && VALID_REQUEST_ID.test(given) ? given : randomUUID();
}

export interface Answered {
  id: string;
  method: string;
  /** The path without its query string (never logged with the query: it may carry secrets). */
  path: string;
  /** The route pattern that answered, the metrics label. */
  route: string;
  status: number;
  /** performance.now() when the request arrived. */
  started: number;
}

/**
 * What follows every answer, from the request scope and from the lanes (src/http/lanes.ts): its duration
 * in the metrics under its route pattern, and a debug log line (method, path, status, duration - never
 * headers, bodies or query strings, which may carry secrets).
 */
export function answerRecorder(deps: Deps): (a: Answered) => void {
  const observe = deps.metrics ? httpObserver(deps.metrics) : null;
  return (a) => {
    const seconds = (performance.now() - a.started) / 1000;
    observe?.(a.method, a.route, a.status, seconds);
    if (deps.logger.isLevelEnabled('debug')) {
      const ms = Math.round(seconds * 10_000) / 10;
      deps.logger.debug(
        { request_id: a.id, method: a.method, path: a.path, status: a.status, ms },
        'request',
      );
    }
  };
}

/**
 * What every request gets first, in one middleware (each middleware layer costs a few microseconds, and
 * entitlement checks are measured against a bare node:http server: bench/check.ts):
 * - while the instance drains (graceful shutdown), new requests get 503 `shutting_down` with
 *   `Connection: close` (a load balancer or Stripe tries elsewhere or later); the others are counted in
 *   flight until answered;
 * - `deps` and an empty principal on the context, the request id (the caller's X-Request-Id when
 *   well-formed, else a new UUID), the security headers;
 * - the request's duration in the metrics and the debug log line (`answerRecorder`).
 *
 * Why not hono's requestId() and secureHeaders(): they set headers through a fetch `Headers` object,
 * which moves every response off @hono/node-server's plain-object fast path; together they were about
 * half of an entitlement check's CPU. Under node-server the headers go straight onto Node's response;
 * elsewhere (app.request(), a host app) onto the Response. Either way a header the handler sets itself
 * wins (pages set their own CSP and Referrer-Policy).
 */
export function requestScope(deps: Deps): MiddlewareHandler<AppEnv> {
  const lifecycle = deps.lifecycle;
  const record = answerRecorder(deps);
  return async (c, next) => {
    c.set('deps', deps);
    c.set('principal', null);
    const id = requestIdFor(c.req.header(REQUEST_ID_HEADER));
    c.set('requestId', id);
    const started = performance.now();
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
    const direct = !!outgoing && typeof outgoing.setHeader === 'function' && !outgoing.headersSent;
    if (direct) {
      for (const [name, value] of SECURITY_ENTRIES) outgoing.setHeader(name, value);
      outgoing.setHeader(REQUEST_ID_HEADER, id);
    }
    if (lifecycle?.draining && c.req.path !== '/healthz') {
      c.header('Connection', 'close');
      c.res = renderError(c, 'shutting_down', 503, 'This instance is shutting down; retry');
    } else {
      const done = lifecycle?.enterRequest();
      try {
        await next();
        // Answered while draining: the client must not reuse this connection.
        if (lifecycle?.draining) c.header('Connection', 'close');
      } finally {
        done?.();
      }
    }
    if (!direct) {
      const headers = c.res.headers;
      for (const [name, value] of SECURITY_ENTRIES) if (!headers.has(name)) headers.set(name, value);
      if (!headers.has(REQUEST_ID_HEADER)) headers.set(REQUEST_ID_HEADER, id);
    }
    record({ id, method: c.req.method, path: c.req.path, route: routeOf(c), status: c.res.status, started });
  };
}
