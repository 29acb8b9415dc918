import { type IncomingHttpHeaders, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { type Emulator, type EmulatorOptions, startEmulator } from './index';

/**
 * Test support only (the emulator's tests and the app's): never imported by the emulator itself, which
 * uses the `stripe` package for types alone.
 * startTestEmulator: an emulator on a random port with millisecond retry delays + an SDK client.
 */
export async function startTestEmulator(
  opts: EmulatorOptions = {},
): Promise<{ emu: Emulator; stripe: Stripe }> {
  const emu = await startEmulator({ port: 0, retryDelaysMs: [10, 50, 200], ...opts });
  return { emu, stripe: sdkFor(emu) };
}

export function sdkFor(
  emu: { port: number; host: string },
  key = 'sk_test_emulator',
  extra: Partial<Stripe.StripeConfig> = {},
): Stripe {
  return new Stripe(key, { host: emu.host, port: emu.port, protocol: 'http', ...extra });
}

export interface ReceivedWebhook {
  body: string;
  signature: string;
  headers: IncomingHttpHeaders;
  event: { id: string; type: string; data: { object: Record<string, unknown> } };
}

/** A tiny webhook receiver. `answer(n, hook)` picks the status for the n-th request (default 200). */
export async function startReceiver(
  answer: (n: number, hook: ReceivedWebhook) => number = () => 200,
): Promise<{
  url: string;
  received: ReceivedWebhook[];
  accepted: ReceivedWebhook[];
  close(): Promise<void>;
  waitFor(pred: (hooks: ReceivedWebhook[]) => boolean, timeoutMs?: number): Promise<void>;
}> {
  const received: ReceivedWebhook[] = [];
  const accepted: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const hook: ReceivedWebhook = {
        body,
        signature: String(req.headers['stripe-signature'] ?? ''),
        headers: req.headers,
        event: JSON.parse(body),
      };
      received.push(hook);
      const status = answer(received.length, hook);
      if (status >= 200 && status < 300) accepted.push(hook);
      res.writeHead(status, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    received,
    accepted,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
    async waitFor(pred, timeoutMs = 5_000) {
      const until = Date.now() + timeoutMs;
      while (!pred(received)) {
        if (Date.now() > until)
          throw new Error(
            `webhooks not received in time (got ${received.map((h) => h.event.type).join(', ')})`,
          );
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary fields of control API answers.
type ControlJson = any;

/** POST JSON to the control API. */
export async function control(
  emu: { url: string },
  path: string,
  body?: unknown,
  method = 'POST',
): Promise<{ status: number; json: ControlJson }> {
  const res = await fetch(`${emu.url}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}
