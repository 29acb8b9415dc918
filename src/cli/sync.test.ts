import { describe, expect, it } from 'vitest';
import { paywire, useCliEnvironment } from '../../test/cli-kit';
import { createStripeClient } from '../stripe/client';
import { progressReporter } from './sync';

// `paywire sync` as an operator runs it: a standalone emulator through STRIPE_API_BASE, PGlite in a
// temporary data directory (or a fresh PostgreSQL database with TEST_DATABASE_URL).
const env = useCliEnvironment('sync-cli', { emulator: true });

describe('paywire sync', () => {
  it('--dry-run reports, sync applies with progress lines, a second sync changes nothing', async () => {
    // Made in Stripe while no webhook reached us.
    const stripe = createStripeClient({ STRIPE_ENABLED: true }, { emulatorUrl: env.emu.url })!;
    const product = await stripe.products.create({ name: 'Made in the dashboard' });
    await stripe.prices.create({ product: product.id, unit_amount: 500, currency: 'usd' });

    const dry = await paywire('sync', '--dry-run');
    expect(dry).toContain('Dry run: nothing was written');
    expect(dry).toMatch(/products: +1 created/);
    expect(dry).toMatch(/events: +\d+ listed since the beginning: \d+ missed/);

    const first = await paywire('sync');
    expect(first).toContain('products: 1 to check');
    expect(first).toContain('events: ');
    expect(first).toMatch(/products: +1 created/);
    expect(first).toContain('Event cursor: ');
    expect(first).not.toContain('FAILED');

    const second = await paywire('sync');
    expect(second).toContain('Local state already matched Stripe: nothing changed.');
    expect(second).toMatch(/products: +0 created, 0 updated, 1 unchanged/);
    expect(process.exitCode ?? 0).toBe(0);
    // About 8 s alone; a fresh-clone CI run on a slow phase of the machine took over 30 s (three syncs,
    // each opening the database and the emulator).
  }, 90_000);

  it('shows a bar per phase on a terminal and plain lines otherwise', () => {
    const lines: string[] = [];
    const plain = progressReporter(false, (l) => lines.push(l));
    plain.update('events', 0, 2);
    plain.update('events', 1, 2);
    plain.update('events', 2, 2);
    plain.update('invoices', 0, 0);
    plain.stop();
    expect(lines).toEqual(['events: 2 to check', 'events: 2/2 done', 'invoices: 0 to check']);
  });
});
