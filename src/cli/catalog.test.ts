import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { paywire, useCliEnvironment } from '../../test/cli-kit';
import { createStripeClient } from '../stripe/client';

// The CLI as a user runs it: configuration from the environment (a standalone emulator through
// STRIPE_API_BASE; embedded PGlite in a temporary data directory, or a fresh PostgreSQL database
// when TEST_DATABASE_URL is set).
const env = useCliEnvironment('cli', { emulator: true });

describe('paywire catalog and events commands', () => {
  it('diff, push (twice), pull and events replay against a standalone emulator', async () => {
    const file = join(env.dir, 'paywire.catalog.json');
    writeFileSync(
      file,
      JSON.stringify({
        tiers: [{ key: 'pro', name: 'Pro', rank: 1 }],
        products: [
          {
            key: 'pro_plan',
            name: 'Pro',
            product_type: 'subscription',
            tier: 'pro',
            prices: [
              {
                lookup_key: 'pro_monthly',
                unit_amount: 1900,
                currency: 'usd',
                price_type: 'recurring',
                billing_interval: 'month',
                extra_metadata: { entitlements: [{ type: 'TIER_ACCESS', tier: 'pro' }] },
              },
            ],
          },
        ],
      }),
    );
    const diff = await paywire('catalog', 'diff', file);
    expect(diff).toContain('+ tier pro');
    expect(diff).toContain('+ price pro_monthly (pro_plan): $19.00 / month');
    expect(diff).toMatch(/^Would have: /m);

    const push = await paywire('catalog', 'push', file);
    expect(push).toContain('1 price(s) created');
    expect(await paywire('catalog', 'push', file)).toContain('Nothing to do');

    const stripe = createStripeClient({ STRIPE_ENABLED: true }, { emulatorUrl: env.emu.url })!;
    const extra = await stripe.products.create({ name: 'Made in the dashboard' });
    await stripe.prices.create({ product: extra.id, unit_amount: 300, currency: 'usd' });
    const pull = await paywire('catalog', 'pull');
    expect(pull).toContain('Products: 1 created, 0 updated, 1 unchanged');
    expect(pull).toContain('Prices: 1 created, 0 updated, 1 unchanged');
    expect(await paywire('catalog', 'pull')).toContain('Products: 0 created');

    const event = (await stripe.events.list({ type: 'product.created', limit: 1 })).data[0]!;
    expect(await paywire('events', 'replay', event.id)).toBe(`${event.id} (product.created): processed`);
    expect(await paywire('events', 'replay', event.id)).toContain('already handled');
  }, 60_000);
});
