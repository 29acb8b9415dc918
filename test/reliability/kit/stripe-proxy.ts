import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the app's Stripe SDK made, as the proxy saw it. */
export interface StripeCall {
  method: string;
  path: string;
  idempotencyKey: string | null;
  /** 0 when the client gave up before an answer came. */
  status: number;
}

/**
 * A transparent HTTP proxy between the app's Stripe SDK and the emulator that records every request (its
 * Idempotency-Key above all): how we see that the SDK's retries reuse the key. A client that gives up
 * (timeout) closes its side; the proxy then drops the upstream request too, as a network would.
 */
export async function startStripeProxy(target: string) {
  const upstream = new URL(target);
  const calls: StripeCall[] = [];
  const server = createServer((req, res) => {
    const call: StripeCall = {
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?')[0]!,
      idempotencyKey: (req.headers['idempotency-key'] as string | undefined) ?? null,
      status: 0,
    };
    calls.push(call);
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        call.status = answer.statusCode ?? 0;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        call.status = 0;
        out.destroy();
      }
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    /** Calls matching a method and a path (a trailing `*` matches any rest). */
    matching(method: string, path: string): StripeCall[] {
      const prefix = path.endsWith('*') ? path.slice(0, -1) : null;
      return calls.filter(
        (c) => c.method === method && (prefix ? c.path.startsWith(prefix) : c.path === path),
      );
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type StripeProxy = Awaited<ReturnType<typeof startStripeProxy>>;
