import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Stripe from 'stripe';
import type { Config } from '../config';
import { type Emulator, startEmulator } from '../emulator/index';
import { type Clock, systemClock } from '../lib/clock';
import type { Logger } from '../lib/logger';
import { createStripeClient } from './client';

export const WEBHOOK_PATH = '/api/v1/webhooks/stripe';

export interface StripeConnection {
  stripe: Stripe | null;
  /** Business time: the emulator's clock (in process or standalone), else wall time. */
  clock: Clock;
  /** The in-process emulator, in the embedded default only. */
  emulator?: Emulator;
  /** Where Stripe is: 'emulator' (in process), 'standalone-emulator', 'stripe', or 'disabled'. */
  mode: 'emulator' | 'standalone-emulator' | 'stripe' | 'disabled';
  close(): Promise<void>;
}

/**
 * Connects to Stripe as configured: real Stripe, a standalone emulator (STRIPE_API_BASE), or - the
 * embedded default - an emulator started in this process whose clock becomes the business clock.
 */
export async function connectStripe(config: Config, logger: Logger): Promise<StripeConnection> {
  if (!config.STRIPE_ENABLED)
    return { stripe: null, clock: systemClock, mode: 'disabled', close: async () => {} };
  if (config.useEmbeddedEmulator) {
    mkdirSync(config.PAYWIRE_DATA_DIR, { recursive: true });
    const emulator = await startEmulator({
      port: config.STRIPE_EMULATOR_PORT,
      dataFile: join(config.PAYWIRE_DATA_DIR, 'stripe-emulator.json'),
      logger: { info: (o, m) => logger.info(o, m), warn: (o, m) => logger.warn(o, m) },
    });
    const stripe = createStripeClient(config, { emulatorUrl: emulator.url });
    return { stripe, clock: emulator.clock, emulator, mode: 'emulator', close: () => emulator.close() };
  }
  const stripe = createStripeClient({ ...config, isProduction: config.isProduction });
  if (config.STRIPE_API_BASE) {
    const clock = new RemoteEmulatorClock(config.STRIPE_API_BASE);
    await clock.refresh();
    clock.start();
    return { stripe, clock, mode: 'standalone-emulator', close: async () => clock.stop() };
  }
  return { stripe, clock: systemClock, mode: 'stripe', close: async () => {} };
}

/**
 * A standalone emulator's clock seen from another process: wall time plus the emulator's offset,
 * refreshed every second (an advance is visible to this instance within about a second).
 */
export class RemoteEmulatorClock implements Clock {
  private offsetMs = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly baseUrl: string) {}

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  async refresh(): Promise<void> {
    try {
      const res = await fetch(new URL('/_emulator/clock', this.baseUrl), {
        signal: AbortSignal.timeout(2000),
      });
      if (!res.ok) return;
      const body = (await res.json()) as { now: number };
      this.offsetMs = body.now * 1000 - Date.now();
    } catch {
      // keep the last known offset; the emulator may be restarting
    }
  }

  start(): void {
    this.timer = setInterval(() => void this.refresh(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

interface SavedEndpoint {
  id: string;
  secret: string;
  url: string;
}

/**
 * Registers this app's webhook URL with an emulator once and keeps the signing secret in the data
 * directory, so later starts reuse the same endpoint and secret instead of creating new ones.
 */
export async function ensureWebhookEndpoint(
  stripe: Stripe,
  url: string,
  dataDir: string,
): Promise<SavedEndpoint> {
  const file = join(dataDir, 'webhook-endpoint.json');
  let saved: SavedEndpoint | undefined;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as SavedEndpoint;
  } catch {
    saved = undefined;
  }
  if (saved) {
    const existing = await stripe.webhookEndpoints.retrieve(saved.id).catch(() => null);
    if (existing && !('deleted' in existing && existing.deleted)) {
      if (existing.url !== url) await stripe.webhookEndpoints.update(saved.id, { url });
      if (existing.url !== url || saved.url !== url) write(file, { ...saved, url });
      return { ...saved, url };
    }
  }
  const created = await stripe.webhookEndpoints.create({
    url,
    enabled_events: ['*'],
    description: 'Paywire (embedded)',
  });
  const record = { id: created.id, secret: created.secret!, url };
  write(file, record);
  return record;
}

function write(file: string, value: unknown): void {
  mkdirSync(join(file, '..'), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2), { mode: 0o600 });
  renameSync(tmp, file);
}
