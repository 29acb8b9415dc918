import type { Context, Hono } from 'hono';
import type { EmulatorContext } from './context';
import { StripeHttpError, stripeError } from './errors';
import { IdempotencyStore } from './idempotency';
import { applyExpand, readExpand } from './lists';
import { randomToken } from './store';
import { type Params, decodeForm, parseParams } from './wire';

/** Hono variables set by the /v1 middleware. */
export type EmulatorEnv = { Variables: { requestId: string; apiKey: string } };
export type EmulatorApp = Hono<EmulatorEnv>;

export interface ApiRequest {
  ctx: EmulatorContext;
  /** Decoded form body (POST) or query string (GET/DELETE); leaves are strings. See wire.ts. */
  params: Params;
  /** Path parameters, e.g. `{id}` for `/v1/customers/:id`. */
  path: Record<string, string>;
  method: string;
  /** Request path, e.g. `/v1/customers` (use it as a list's `url`). */
  url: string;
  apiKey: string;
  requestId: string;
  idempotencyKey: string | null;
}

/** Return the Stripe object to answer 200 with; throw stripeError(...) to fail. */
export type ApiHandler = (req: ApiRequest) => unknown | Promise<unknown>;

export interface ApiRouter {
  get(path: string, handler: ApiHandler): void;
  post(path: string, handler: ApiHandler): void;
  delete(path: string, handler: ApiHandler): void;
}

/**
 * Routes for Stripe's `/v1` API. Each handler runs inside the state lock with the request's params
 * decoded, `expand[]` applied to whatever it returns, POSTs made idempotent, and `event.request` filled
 * for events it emits. Register static paths before parameterised ones (`/search` before `/:id`).
 */
export function apiRouter(app: EmulatorApp, ctx: EmulatorContext): ApiRouter {
  const add = (method: 'GET' | 'POST' | 'DELETE', path: string, handler: ApiHandler) => {
    app.on(method, path, (c) => handle(c, ctx, handler));
  };
  return {
    get: (p, h) => add('GET', p, h),
    post: (p, h) => add('POST', p, h),
    delete: (p, h) => add('DELETE', p, h),
  };
}

async function readParams(c: Context<EmulatorEnv>): Promise<Params> {
  const url = new URL(c.req.url);
  const query = decodeForm(url.searchParams);
  if (c.req.method !== 'POST') return query;
  const body = await c.req.text();
  return { ...query, ...parseParams(body, c.req.header('content-type')) };
}

async function handle(c: Context<EmulatorEnv>, ctx: EmulatorContext, handler: ApiHandler): Promise<Response> {
  let params: Params;
  try {
    params = await readParams(c);
  } catch {
    throw stripeError(400, { message: 'Invalid request body.' });
  }
  const requestId = c.get('requestId');
  const apiKey = c.get('apiKey');
  const method = c.req.method;
  const idempotencyKey = method === 'POST' ? (c.req.header('idempotency-key') ?? null) : null;
  if (idempotencyKey && idempotencyKey.length > 255) {
    throw stripeError(400, {
      message: 'Idempotency-Key must be at most 255 characters long.',
      param: 'Idempotency-Key',
    });
  }
  const req: ApiRequest = {
    ctx,
    params,
    path: c.req.param() as Record<string, string>,
    method,
    url: c.req.path,
    apiKey,
    requestId,
    idempotencyKey,
  };
  const headers: Record<string, string> = {};
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;

  const run = async (): Promise<{ status: number; body: string; extra?: Record<string, string> }> => {
    try {
      const result = await ctx.requestInfo.run({ requestId, idempotencyKey }, () => handler(req));
      const expanded = applyExpand(ctx.store, result, readExpand(params), (parent, field) =>
        ctx.expanders.get(`${String(parent.object)}.${field}`)?.(parent),
      );
      return { status: 200, body: JSON.stringify(expanded) };
    } catch (err) {
      if (err instanceof StripeHttpError) {
        return { status: err.status, body: JSON.stringify({ error: err.body }), extra: err.headers };
      }
      throw err;
    }
  };

  const result = await ctx.lock.run(async () => {
    if (!idempotencyKey) return run();
    const fingerprint = IdempotencyStore.fingerprint(method, req.url, params);
    const prior = ctx.idempotency.get(apiKey, idempotencyKey);
    if (prior) {
      if (prior.fingerprint !== fingerprint) {
        throw stripeError(400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
        });
      }
      return { status: prior.status, body: prior.body, extra: { 'Idempotent-Replayed': 'true' } };
    }
    const fresh = await run();
    ctx.idempotency.put(apiKey, idempotencyKey, { fingerprint, status: fresh.status, body: fresh.body });
    return fresh;
  });
  if (method !== 'GET') ctx.persistSoon();
  return new Response(result.body, {
    status: result.status,
    headers: { 'Content-Type': 'application/json', ...headers, ...result.extra },
  });
}

export function newRequestId(): string {
  return `req_${randomToken(14)}`;
}
