import Stripe from 'stripe';
import type { Config } from '../config';
import type { Deps } from '../deps';
import { AppError } from '../lib/errors';

/** The API version every request is pinned to; handlers and the emulator render this shape. */
export const STRIPE_API_VERSION = '2026-10-28.endive' as const;

/** The key sent to an emulator when none is configured (the emulator accepts any `sk_test_` key). */
export const EMULATOR_API_KEY = 'sk_test_emulator';

export interface StripeClientOptions {
  /** Base URL of an emulator (in process or standalone); wins over the configuration. */
  emulatorUrl?: string;
}

type StripeSettings = Pick<Config, 'STRIPE_ENABLED' | 'STRIPE_SECRET_KEY' | 'STRIPE_API_BASE'> & {
  isProduction?: boolean;
};

const common = {
  apiVersion: STRIPE_API_VERSION,
  maxNetworkRetries: 2,
  // The SDK's default is 80 s per attempt; a user request should fail clearly long before that.
  timeout: 20_000,
  appInfo: { name: 'paywire' },
} satisfies Stripe.StripeConfig;

/**
 * Builds the one Stripe SDK client of the process: null when STRIPE_ENABLED=false; pointed at an
 * emulator when `emulatorUrl` or STRIPE_API_BASE is given; real Stripe with STRIPE_SECRET_KEY.
 * The embedded default (neither set) needs the caller to start the emulator and pass its URL.
 */
export function createStripeClient(config: StripeSettings, options: StripeClientOptions = {}): Stripe | null {
  if (!config.STRIPE_ENABLED) return null;
  const emulatorUrl = options.emulatorUrl ?? config.STRIPE_API_BASE;
  if (emulatorUrl) {
    if (config.isProduction) throw new Error('A Stripe emulator is refused in production');
    const url = new URL(emulatorUrl);
    const protocol = url.protocol === 'https:' ? 'https' : 'http';
    // A live key never travels to an emulator; test keys are passed through (the emulator ignores them).
    const key = config.STRIPE_SECRET_KEY?.startsWith('sk_test_')
      ? config.STRIPE_SECRET_KEY
      : EMULATOR_API_KEY;
    return new Stripe(key, {
      ...common,
      host: url.hostname,
      port: url.port ? Number(url.port) : protocol === 'https' ? 443 : 80,
      protocol,
    });
  }
  if (config.STRIPE_SECRET_KEY) return new Stripe(config.STRIPE_SECRET_KEY, common);
  throw new Error(
    'No Stripe configured: set STRIPE_SECRET_KEY (real Stripe) or STRIPE_API_BASE (a standalone emulator), ' +
      'or start the in-process emulator and pass its URL',
  );
}

/** The Stripe client, or the clear 503 `stripe_disabled` when STRIPE_ENABLED=false. */
export function requireStripe(deps: Pick<Deps, 'stripe'>): Stripe {
  if (!deps.stripe) {
    throw new AppError(
      'stripe_disabled',
      'Payments are disabled on this server (STRIPE_ENABLED=false); this endpoint needs Stripe',
    );
  }
  return deps.stripe;
}

/**
 * Webhook signature checks are pure crypto (no network): the static helper works even when
 * STRIPE_ENABLED=false and there is no client.
 */
export function webhookVerifier(deps: Pick<Deps, 'stripe'>): Stripe['webhooks'] {
  return deps.stripe?.webhooks ?? Stripe.webhooks;
}

/** Every object of a Stripe list (auto-pagination, without autoPagingToArray's 10,000 cap). */
export async function listAll<T>(list: Stripe.ApiListPromise<T>): Promise<T[]> {
  const out: T[] = [];
  await list.autoPagingEach((item) => {
    out.push(item);
  });
  return out;
}
