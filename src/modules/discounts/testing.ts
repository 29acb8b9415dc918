import { sql } from 'drizzle-orm';
import type Stripe from 'stripe';
import { api, createTestApp, signupUser, type TestApp } from '../../../test/harness';
import { type Emulator, startEmulator } from '../../emulator/index';
import { ManualClock } from '../../lib/clock';
import { newId } from '../../lib/ids';
import { createStripeClient } from '../../stripe/client';
import type { PriceRow } from '../catalog/catalog.tables';
import { createPrice } from '../catalog/prices.service';
import { createProduct } from '../catalog/products.service';

/**
 * Test fixture for the discount tests: a fresh app, an emulator on a random port reached through the
 * real SDK over HTTP, an admin and a customer.
 */
export interface DiscountFixture {
  t: TestApp;
  /** Wall time (rate limits); tests move it to start a fresh rate-limit window. */
  wall: ManualClock;
  emu: Emulator;
  stripe: Stripe;
  call: ReturnType<typeof api>;
  admin: { token: string; user: { id: string } };
  customer: { token: string; user: { id: string } };
  close(): Promise<void>;
}

export const DISCOUNT_TABLES = [
  'discount_codes',
  'discount_reservations',
  'discount_redemptions',
  'subscription_discounts',
];

export async function discountFixture(): Promise<DiscountFixture> {
  const emu = await startEmulator({ port: 0, retryDelaysMs: [10] });
  const stripe = createStripeClient(
    { STRIPE_ENABLED: true, STRIPE_SECRET_KEY: undefined, STRIPE_API_BASE: undefined },
    { emulatorUrl: emu.url },
  )!;
  const t = await createTestApp({
    env: { ADMIN_EMAIL: 'discount-admin@example.com', STRIPE_ENABLED: 'true' },
    stripe,
  });
  // Business time follows the emulator's clock, as in the embedded default.
  t.clock.set(emu.clock.now());
  const wall = new ManualClock();
  t.deps.wallClock = wall;
  const call = api(t.app);
  const admin = await signupUser(call, 'discount-admin@example.com');
  const customer = await signupUser(call);
  return {
    t,
    wall,
    emu,
    stripe,
    call,
    admin,
    customer,
    close: async () => {
      await t.close();
      await emu.close();
    },
  };
}

let n = 0;
/** A product + price, local only (fast) unless `inStripe`. */
export async function makePrice(
  f: Pick<DiscountFixture, 't'>,
  opts: { amount?: number; currency?: string; recurring?: 'month' | 'year'; inStripe?: boolean } = {},
): Promise<PriceRow> {
  const local = !opts.inStripe;
  const product = await createProduct(f.t.deps, {
    name: `Product ${++n}`,
    product_type: opts.recurring ? 'subscription' : 'feature_access',
    local_only: local,
  });
  return createPrice(f.t.deps, {
    product_id: product.id,
    unit_amount: opts.amount ?? 2000,
    currency: opts.currency ?? 'usd',
    price_type: opts.recurring ? 'recurring' : 'one_time',
    billing_interval: opts.recurring ?? null,
    local_only: local,
  });
}

export const uniqueCode = (prefix = 'CODE') => `${prefix}-${Date.now().toString(36)}-${++n}`.toUpperCase();

/** Users straight into the table (no password hashing: these never log in). */
export async function makeUsers(f: Pick<DiscountFixture, 't'>, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = newId();
    await f.t.deps.db.execute(
      sql`insert into users (id, email, password_hash) values (${id}, ${`u-${id}@example.com`}, 'x')`,
    );
    ids.push(id);
  }
  return ids;
}
