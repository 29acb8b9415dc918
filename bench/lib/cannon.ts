/** autocannon, the one HTTP load generator of every HTTP figure: keep-alive connections, fixed duration. */
import autocannon from 'autocannon';

export interface CannonOptions {
  url: string;
  connections: number;
  seconds: number;
  warmupSeconds?: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Builds each request (a fresh idempotency key, a signed event); `context` lives per connection. */
  setupRequest?: (req: autocannon.Request, context: Record<string, unknown>) => autocannon.Request;
  /** Fail unless every answer is a 2xx (default true). */
  only2xx?: boolean;
}

export interface CannonResult {
  /** 2xx answers per second. */
  rate: number;
  ok: number;
  /** 2xx answers including the warm-up (what was written). */
  okTotal: number;
  non2xx: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  seconds: number;
}

function run(opts: CannonOptions, seconds: number): Promise<autocannon.Result> {
  return autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: seconds,
    method: opts.method ?? 'GET',
    headers: opts.headers,
    body: opts.body,
    requests: opts.setupRequest
      ? [{ setupRequest: opts.setupRequest as (r: autocannon.Request, c: object) => autocannon.Request }]
      : undefined,
  });
}

export async function cannon(opts: CannonOptions): Promise<CannonResult> {
  const warm = opts.warmupSeconds ? await run(opts, opts.warmupSeconds) : null;
  const r = await run(opts, opts.seconds);
  const result: CannonResult = {
    rate: r['2xx'] / r.duration,
    ok: r['2xx'],
    okTotal: r['2xx'] + (warm?.['2xx'] ?? 0),
    non2xx: r.non2xx,
    errors: r.errors,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    seconds: r.duration,
  };
  for (const x of [warm, r]) {
    if (x && (opts.only2xx ?? true) && (x.non2xx || x.errors)) {
      throw new Error(
        `${opts.url}: ${x.non2xx} non-2xx answers and ${x.errors} errors out of ${x.requests.total}`,
      );
    }
  }
  return result;
}
