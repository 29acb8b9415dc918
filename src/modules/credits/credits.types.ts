import type { Config } from '../../config';
import type { Deps } from '../../deps';
import { AppError, invalid } from '../../lib/errors';
import { MAX_AMOUNT } from '../../lib/money';

/** What the credits services need: a subset of Deps, so the CLI and host apps can call them too. */
export type CreditsDeps = Pick<Deps, 'db' | 'database' | 'clock'> & {
  config: Pick<Config, 'CREDIT_TYPES' | 'CREDIT_CLAWBACK'>;
  logger?: Deps['logger'];
  metrics?: Deps['metrics'];
};

/** The credit types every installation knows (SPEC section 7); CREDIT_TYPES adds custom ones. */
export const BUILTIN_CREDIT_TYPES = [
  'ai_tokens',
  'ai_generations',
  'api_calls',
  'document_analysis',
  'storage',
  'bandwidth',
  'features',
] as const;

export const POOLS = [
  'subscription_allowance',
  'purchased',
  'bonus',
  'promotional',
  'trial',
  'rollover',
  'top_up',
] as const;
export type Pool = (typeof POOLS)[number];

export const TRANSACTION_TYPES = [
  'purchase',
  'grant',
  'usage',
  'refund',
  'expiration',
  'bonus',
  'adjustment',
  'transfer',
  'reserve',
  'release',
] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

export const RESERVATION_STATUSES = ['held', 'committed', 'released', 'expired'] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

export const CLAWBACK_POLICIES = ['unused', 'full', 'none'] as const;
export type ClawbackPolicy = (typeof CLAWBACK_POLICIES)[number];

const CREDIT_TYPE_RE = /^[a-z][a-z0-9_]{0,62}$/;

export const parseCustomCreditTypes = (raw: string | undefined): string[] =>
  (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const knownByConfig = new WeakMap<object, { raw: string | undefined; types: Set<string> }>();

/** The built-in and configured credit types (computed once per configuration: this is on the hot path). */
export function knownCreditTypes(config: Pick<Config, 'CREDIT_TYPES'>): Set<string> {
  const cached = knownByConfig.get(config);
  if (cached && cached.raw === config.CREDIT_TYPES) return cached.types;
  const types = new Set<string>([...BUILTIN_CREDIT_TYPES, ...parseCustomCreditTypes(config.CREDIT_TYPES)]);
  knownByConfig.set(config, { raw: config.CREDIT_TYPES, types });
  return types;
}

const field = (path: string, message: string) => ({ fields: [{ path, message, code: 'custom' }] });

/** Unknown credit types are a 400: a typo must not create a balance nobody can spend. */
export function assertCreditType(config: Pick<Config, 'CREDIT_TYPES'>, creditType: string): void {
  if (!CREDIT_TYPE_RE.test(creditType) || !knownCreditTypes(config).has(creditType)) {
    throw invalid(
      `Unknown credit type "${creditType.slice(0, 64)}"`,
      field('credit_type', 'unknown credit type'),
    );
  }
}

/** Positive safe integers up to 10^12; the same rule as the HTTP schemas, for library callers. */
export function assertAmount(amount: unknown, path = 'amount'): asserts amount is number {
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0 || amount > MAX_AMOUNT) {
    throw invalid(`Invalid ${path}: a positive integer up to 10^12`, field(path, 'invalid amount'));
  }
}

export function assertIdempotencyKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length < 1 || key.length > 255) {
    throw invalid(
      'An idempotency_key of 1 to 255 characters is required',
      field('idempotency_key', 'required'),
    );
  }
}

export const insufficient = (needed: number, available: number) =>
  new AppError('insufficient_credits', `Insufficient credits: needed ${needed}, available ${available}`, {
    needed,
    available,
  });

/** The ledger row type a grant writes, from its pool, unless the caller names one. */
export function grantTransactionType(pool: Pool): TransactionType {
  if (pool === 'purchased' || pool === 'top_up') return 'purchase';
  if (pool === 'bonus' || pool === 'promotional') return 'bonus';
  return 'grant';
}

export const MAX_TTL_SECONDS = 7 * 24 * 3600;
