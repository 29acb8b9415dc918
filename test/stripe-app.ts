import type Stripe from 'stripe';
import { type Emulator, startEmulator } from '../src/emulator/index';
import { createStripeClient } from '../src/stripe/client';
import { api, createTestApp, signupUser, type TestApp, type TestAppOptions } from './harness';

export const WEBHOOK_SECRET = 'whsec_test_primary_secret';
export const ADMIN_EMAIL = 'admin@example.com';

export interface StripeTestApp {
  t: TestApp;
  emu: Emulator;
  /** The app's own client (the factory pointed at the emulator). */
  stripe: Stripe;
  call: ReturnType<typeof api>;
  adminToken: string;
  close(): Promise<void>;
}

/**
 * An app wired to a fresh emulator on a random port through the real SDK (createStripeClient), with an
 * admin signed in. The emulator does not deliver webhooks to the app unless a test registers an endpoint.
 */
export async function startStripeTestApp(options: TestAppOptions = {}): Promise<StripeTestApp> {
  const emu = await startEmulator({ port: 0, retryDelaysMs: [10, 50, 200] });
  const stripe = createStripeClient({ STRIPE_ENABLED: true }, { emulatorUrl: emu.url })!;
  const t = await createTestApp({
    ...options,
    env: { ADMIN_EMAIL, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, ...options.env },
    stripe,
  });
  const call = api(t.app);
  const admin = await signupUser(call, ADMIN_EMAIL);
  return {
    t,
    emu,
    stripe,
    call,
    adminToken: admin.token,
    close: async () => {
      await t.close();
      await emu.close();
    },
  };
}

/** Every object of a list, through the SDK's auto-pagination. */
export const all = <T>(list: Stripe.ApiListPromise<T>) => list.autoPagingToArray({ limit: 10_000 });
