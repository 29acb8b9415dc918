import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { stripeError } from './errors';

/**
 * Injected faults. `POST /_emulator/faults` replaces the whole setting; `DELETE` clears it.
 * delivery: duplicate = extra copies of each delivery; shuffle = random order per target;
 * delay_ms = wait before each attempt; fail_first = the first N attempts of every delivery fail
 * without being sent (so it arrives on attempt N+1 if retries allow); off = record events, deliver none.
 * api: answer `status` instead of running the route, `times` times (default 1); status 0 = say nothing
 * for 30 s, then run the route normally (a slow answer, for client timeouts).
 */
export const faultsSchema = z.object({
  delivery: z
    .object({
      duplicate: z.number().int().min(0).max(20).optional(),
      shuffle: z.boolean().optional(),
      delay_ms: z.number().int().min(0).max(60_000).optional(),
      fail_first: z.number().int().min(0).max(100).optional(),
      off: z.boolean().optional(),
    })
    .optional(),
  api: z
    .array(
      z.object({
        method: z.string().default('*'),
        path: z.string(),
        status: z.number().int().min(0).max(599),
        times: z.number().int().min(1).optional(),
      }),
    )
    .optional(),
});

export type FaultSettings = z.infer<typeof faultsSchema>;
type ApiFault = { method: string; path: string; status: number; times: number };

export interface FaultState {
  delivery: NonNullable<FaultSettings['delivery']>;
  api: ApiFault[];
}

export function createFaultState(): FaultState {
  return { delivery: {}, api: [] };
}

export function setFaults(state: FaultState, settings: FaultSettings): void {
  state.delivery = settings.delivery ?? {};
  state.api = (settings.api ?? []).map((f) => ({
    ...f,
    method: f.method.toUpperCase(),
    times: f.times ?? 1,
  }));
}

export function clearFaults(state: FaultState): void {
  setFaults(state, {});
}

function pathMatches(pattern: string, path: string): boolean {
  return pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : pattern === path;
}

/** Takes one matching API fault (counting it down), or undefined. */
export function takeApiFault(state: FaultState, method: string, path: string): ApiFault | undefined {
  const f = state.api.find((x) => (x.method === '*' || x.method === method) && pathMatches(x.path, path));
  if (!f) return undefined;
  f.times--;
  if (f.times <= 0) state.api.splice(state.api.indexOf(f), 1);
  return f;
}

export const SLOW_ANSWER_MS = 30_000;

/** Hono middleware for /v1/*: runs before auth, the lock and idempotency, so faults store nothing. */
export function apiFaultMiddleware(state: FaultState): MiddlewareHandler {
  return async (c, next) => {
    const fault = takeApiFault(state, c.req.method, c.req.path);
    if (!fault) return next();
    if (fault.status === 0) {
      // Say nothing for 30 s. If the client gives up first (its timeout), drop the request unprocessed,
      // so the retry it sends with the same Idempotency-Key is the one that runs.
      const signal = c.req.raw.signal;
      const aborted = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), SLOW_ANSWER_MS);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (aborted) return new Response(null, { status: 499 });
      return next();
    }
    if (fault.status === 429) {
      throw stripeError(
        429,
        {
          type: 'invalid_request_error',
          code: 'rate_limit',
          message:
            'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.',
        },
        { 'Stripe-Should-Retry': 'true' },
      );
    }
    if (fault.status >= 500) {
      throw stripeError(fault.status, {
        type: 'api_error',
        message: 'An unknown error occurred (injected by the emulator).',
      });
    }
    throw stripeError(fault.status, {
      type: 'invalid_request_error',
      message: `Injected fault ${fault.status}.`,
    });
  };
}
