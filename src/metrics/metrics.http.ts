import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { routePath } from 'hono/route';
import type { Deps } from '../deps';
import type { AppEnv } from '../http/env';
import { renderError } from '../http/errors';
import type { Metrics } from './metrics';

/**
 * Records a request's duration under the route pattern that answered it (`/api/v1/payments/:id`, never
 * the raw path, so ids do not explode the series count). Called by the request scope (src/http), which
 * times everything after it, and by the lanes (src/http/lanes.ts) with their fixed path. The labelled
 * children are kept per (method, route, status): prom-client hashes the labels on every
 * `observe(labels, v)`, which was a visible share of an entitlement check.
 */
export function httpObserver(
  metrics: Metrics,
): (method: string, route: string, status: number, seconds: number) => void {
  const children = new Map<string, { observe(v: number): void }>();
  return (method, route, status, seconds) => {
    const key = `${method} ${status} ${route}`;
    let child = children.get(key);
    if (!child) {
      child = metrics.httpDuration.labels({ method, route, status: String(status) });
      children.set(key, child);
    }
    child.observe(seconds);
  };
}

/** The pattern of the handler that answered; unmatched paths share one label. */
export function routeOf(c: Context): string {
  const path = routePath(c);
  return !path || path === '*' || path === '/*' ? 'unmatched' : path;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * `GET /metrics` in the Prometheus text format. With METRICS_TOKEN set, it needs
 * `Authorization: Bearer <token>` (compared in constant time); otherwise it is open, for a scraper on a
 * private network.
 */
export async function metricsEndpoint(c: Context<AppEnv>, deps: Deps): Promise<Response> {
  const metrics = deps.metrics;
  if (!metrics) return renderError(c, 'not_found', 404, 'Metrics are not enabled');
  const token = deps.config.METRICS_TOKEN;
  if (token) {
    const header = c.req.header('authorization') ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!timingSafeEqual(digest(presented), digest(token))) {
      c.header('WWW-Authenticate', 'Bearer realm="metrics"');
      return renderError(c, 'unauthorized', 401, 'A valid metrics token is required');
    }
  }
  const body = await metrics.registry.metrics();
  return c.body(body, 200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' });
}
