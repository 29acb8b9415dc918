import { serve } from '@hono/node-server';
import { createPaywire } from '../../src/index';
import { seedDemoCatalog } from '../../src/modules/catalog/demo';
import { ensureWebhookEndpoint } from '../../src/stripe/embedded';
import { createHostApp } from './app';

/**
 * `npx tsx examples/host-app/main.ts`: the host app on port 3000 with Paywire under /billing.
 * Configuration is Paywire's usual environment (DATABASE_URL, STRIPE_SECRET_KEY or STRIPE_API_BASE,
 * STRIPE_WEBHOOK_SECRET); with none of it, PGlite in memory and an in-process Stripe emulator with the
 * demo catalog.
 */
const port = Number(process.env.HOST_APP_PORT ?? 3000);
const paywire = await createPaywire({ startJobs: true });
const server = serve({ fetch: createHostApp(paywire).fetch, port });
const url = `http://127.0.0.1:${port}`;
if (paywire.config.useEmbeddedEmulator && paywire.deps.stripe) {
  // With real Stripe, the webhook endpoint is configured in the dashboard instead.
  await seedDemoCatalog(paywire.deps);
  const endpoint = await ensureWebhookEndpoint(
    paywire.deps.stripe,
    `${url}/billing/api/v1/webhooks/stripe`,
    paywire.config.PAYWIRE_DATA_DIR,
  );
  paywire.config.webhookSecrets.push(endpoint.secret);
}
console.log(`Host app on ${url} (Paywire under ${url}/billing)`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close();
    void paywire.close().then(() => process.exit(0));
  });
}
