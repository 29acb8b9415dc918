import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/lib/logger';
import { startServer } from '../src/server';

const dataDir = mkdtempSync(join(tmpdir(), 'paywire-embedded-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const DEMO_KEYS = [
  'analytics_addon',
  'credits_10k',
  'lifetime_pro',
  'pro_monthly',
  'pro_yearly',
  'team_monthly',
];

async function catalogPrices(url: string) {
  const res = await fetch(`${url}/api/v1/catalog`);
  const body = (await res.json()) as { products: { prices: { id: string; lookup_key: string | null }[] }[] };
  return body.products.flatMap((p) => p.prices);
}

const boot = () =>
  startServer(
    loadConfig({ PORT: '0', STRIPE_EMULATOR_PORT: '0', PAYWIRE_DATA_DIR: dataDir, HOST: '127.0.0.1' }),
    createLogger({ level: 'silent' }),
  );

describe('the embedded default', () => {
  it('starts the emulator in process, shares its clock, seeds the demo catalog and registers its webhook endpoint once', async () => {
    const first = await boot();
    let endpointId: string;
    let secret: string;
    let firstPriceIds: string[] = [];
    let stripePriceCount = 0;
    try {
      expect(first.stripe.mode).toBe('emulator');
      const emulator = first.stripe.emulator!;
      expect(first.deps.clock).toBe(emulator.clock);
      await emulator.advanceClock(86_400);
      expect(Math.abs(first.deps.clock.now().getTime() - (Date.now() + 86_400_000))).toBeLessThan(5_000);
      const endpoints = await first.deps.stripe!.webhookEndpoints.list();
      expect(endpoints.data).toHaveLength(1);
      endpointId = endpoints.data[0]!.id;
      secret = first.deps.config.webhookSecrets.at(-1)!;
      expect(secret).toMatch(/^whsec_/);
      expect(endpoints.data[0]!.url).toBe(`http://127.0.0.1:${first.port}/api/v1/webhooks/stripe`);
      const prices = await catalogPrices(`http://127.0.0.1:${first.port}`);
      expect(prices.map((p) => p.lookup_key).sort()).toEqual(DEMO_KEYS);
      firstPriceIds = prices.map((p) => p.id).sort();
      stripePriceCount = (await first.deps.stripe!.prices.list({ limit: 100 })).data.length;
    } finally {
      await first.close();
    }

    const second = await boot();
    try {
      const endpoints = await second.deps.stripe!.webhookEndpoints.list();
      expect(endpoints.data.map((e) => e.id)).toEqual([endpointId]);
      expect(endpoints.data[0]!.url).toBe(`http://127.0.0.1:${second.port}/api/v1/webhooks/stripe`);
      expect(second.deps.config.webhookSecrets).toContain(secret);
      // The second start seeds nothing new, locally or in the emulator.
      expect((await catalogPrices(`http://127.0.0.1:${second.port}`)).map((p) => p.id).sort()).toEqual(
        firstPriceIds,
      );
      expect((await second.deps.stripe!.prices.list({ limit: 100 })).data.length).toBe(stripePriceCount);
      // The emulator's state (and its advanced clock) survived the restart.
      expect(second.deps.clock.now().getTime() - Date.now()).toBeGreaterThan(80_000_000);
    } finally {
      await second.close();
    }
  }, 60_000);
});
