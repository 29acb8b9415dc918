/**
 * Baseline of webhook ingestion: node:http, the Stripe SDK's signature check (the app's call), then one
 * INSERT of the event through a pg pool of the app's size. No routing, no inbox protocol, no handler.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import Stripe from 'stripe';

const secret = process.env.STRIPE_WEBHOOK_SECRET!;
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.POOL_SIZE ?? 20),
});
const answer = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    try {
      const raw = Buffer.concat(chunks);
      const event = await Stripe.webhooks.constructEventAsync(
        raw,
        String(req.headers['stripe-signature']),
        secret,
        300,
      );
      await pool.query(
        'insert into bare_webhook_events (id, type, payload) values ($1, $2, $3) on conflict do nothing',
        [event.id, event.type, raw.toString()],
      );
      answer(res, 200, { received: true });
    } catch (err) {
      answer(res, 400, { error: String(err) });
    }
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`READY http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
