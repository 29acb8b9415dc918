import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/lib/logger';
import { startServer } from '../src/server';

const dataDir = mkdtempSync(join(tmpdir(), 'paywire-embedded-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const boot = () =>
  startServer(
    loadConfig({ PORT: '0', STRIPE_EMULATOR_PORT: '0', PAYWIRE_DATA_DIR: dataDir, HOST: '127.0.0.1' }),
    createLogger({ level: 'silent' }),
  );

describe('the embedded default', () => {
  it('starts the emulator in process, shares its clock, and registers its webhook endpoint once', async () => {
    const first = await boot();
    let endpointId: string;
    let secret: string;
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
    } finally {
      await first.close();
    }

    const second = await boot();
    try {
      const endpoints = await second.deps.stripe!.webhookEndpoints.list();
      expect(endpoints.data.map((e) => e.id)).toEqual([endpointId]);
      expect(endpoints.data[0]!.url).toBe(`http://127.0.0.1:${second.port}/api/v1/webhooks/stripe`);
      expect(second.deps.config.webhookSecrets).toContain(secret);
      // The emulator's state (and its advanced clock) survived the restart.
      expect(second.deps.clock.now().getTime() - Date.now()).toBeGreaterThan(80_000_000);
    } finally {
      await second.close();
    }
  }, 60_000);
});
