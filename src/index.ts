/**
 * Paywire as a library (`import { createPaywire } from 'paywire'`): the services of every module bound to
 * one set of dependencies, the route guards, the mountable Hono app, and the types.
 */
export { createPaywire, type Paywire, type PaywireOptions } from './library/paywire';
export type { PaywireServices } from './library/services';
export { requireFeature, type RequireFeatureOptions, type UserResolver } from './library/guards';
export {
  requireCredits,
  type CreditCharge,
  type CreditCost,
  type CreditsVariables,
  type GuardUser,
  type RequireCreditsOptions,
} from './modules/credits/guard';
export { can, check, type CheckAnswer, type CheckQuery } from './modules/entitlements/questions';
export { createApp, type PaywireApp } from './app';
export { type Config, ConfigError, loadConfig } from './config';
export type { Deps } from './deps';
export { type Database, type Db, openDatabase, type Queryable, type Tx } from './db/client';
export { migrate } from './db/migrate';
export { type Clock, ManualClock, systemClock } from './lib/clock';
export { AppError, type ErrorCode, errorStatus } from './lib/errors';
export type { Logger } from './lib/logger';
export { createMetrics, type Metrics } from './metrics/metrics';
export { createStripeClient, STRIPE_API_VERSION } from './stripe/client';
export { startServer, type RunningServer } from './server';
export { syncFromStripe, type SyncOptions, type SyncSummary } from './modules/sync/sync.service';
export { startEmulator, type Emulator, type EmulatorOptions } from './emulator/index';
