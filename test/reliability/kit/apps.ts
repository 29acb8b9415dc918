import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type Stripe from 'stripe';
import type { Database } from '../../../src/db/client';
import type { Clock } from '../../../src/lib/clock';
import { type ApiCaller, api, createTestApp, type TestApp } from '../../harness';
import { count, registerSecret, saveLog } from './report';

export const WEBHOOK_PATH = '/api/v1/webhooks/stripe';

/** One app instance listening on a socket, its own connection pool, its log captured for the scan. */
export interface Instance {
  name: string;
  t: TestApp;
  url: string;
  webhookUrl: string;
  /** JSON calls over HTTP (a real socket, as a browser or a load balancer would reach it). */
  call: ApiCaller;
  /** Raw HTTP to this instance. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Webhook requests this instance received (every attempt that reached it). */
  deliveries(): number;
  close(): Promise<void>;
}

export interface InstanceOptions {
  name: string;
  database: Database;
  stripe?: Stripe | null;
  clock?: Clock;
  env?: Record<string, string>;
}

export async function startInstance(opts: InstanceOptions): Promise<Instance> {
  const t = await createTestApp({
    env: {
      LOG_LEVEL: 'trace',
      STRIPE_ENABLED: opts.stripe ? 'true' : 'false',
      ...opts.env,
    },
    database: opts.database,
    stripe: opts.stripe ?? null,
    clock: opts.clock,
  });
  registerSecret('session_secret', t.config.SESSION_SECRET);
  let received = 0;
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      {
        fetch: (req: Request, env: unknown) => {
          if (req.method === 'POST' && new URL(req.url).pathname === WEBHOOK_PATH) received++;
          return t.app.fetch(req, env as never);
        },
        port: 0,
        hostname: '127.0.0.1',
      },
      () => resolve(s),
    );
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fetchHere = (path: string, init?: RequestInit) => fetch(`${url}${path}`, init);
  count('app_instances');
  let closed = false;
  return {
    name: opts.name,
    t,
    url,
    webhookUrl: `${url}${WEBHOOK_PATH}`,
    call: api({ request: (path, init) => fetchHere(path, { ...init, redirect: 'manual' }) }),
    fetch: fetchHere,
    deliveries: () => received,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await t.close();
      for (const s of t.config.webhookSecrets) registerSecret('webhook_secret', s);
      saveLog(`instance-${opts.name}`, t.logs);
    },
  };
}
