import { z } from 'zod';

export const DEFAULT_SESSION_SECRET = 'dev-only-session-secret-change-me';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number().int().min(0).max(65535);
const emptyAsUndefined = (v: unknown) => (v === '' ? undefined : v);
const optionalString = z.preprocess(emptyAsUndefined, z.string().optional());
const optionalUrl = z.preprocess(emptyAsUndefined, z.url().optional());

/** The environment, validated once at start-up (SPEC section 1). */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port.default(8000),
  HOST: z.string().default('0.0.0.0'),
  PUBLIC_URL: optionalUrl,
  DATABASE_URL: optionalUrl,
  PAYWIRE_DATA_DIR: z.string().default('./.data'),
  SESSION_SECRET: z.preprocess(emptyAsUndefined, z.string().min(16).default(DEFAULT_SESSION_SECRET)),
  SESSION_TTL_HOURS: z.coerce
    .number()
    .positive()
    .default(24 * 14),
  ADMIN_EMAIL: z.preprocess(emptyAsUndefined, z.email().optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  STRIPE_SECRET_KEY: optionalString,
  STRIPE_PUBLISHABLE_KEY: optionalString,
  STRIPE_WEBHOOK_SECRET: optionalString,
  STRIPE_ENABLED: bool.default(true),
  STRIPE_EMULATOR_PORT: port.default(12111),
  STRIPE_API_BASE: optionalUrl,
  LOGIN_MAX_FAILURES: z.coerce.number().int().positive().default(5),
  LOGIN_LOCK_MINUTES: z.coerce.number().positive().default(15),
  LOGIN_MAX_FAILURES_PER_IP: z.coerce.number().int().positive().default(100),
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  PAST_DUE_GRACE_DAYS: z.coerce.number().int().min(0).default(7),
  SUBSCRIPTION_END_POLICY: z.enum(['revoke', 'freemium', 'grace']).default('revoke'),
  GRACE_DAYS: z.coerce.number().int().min(0).default(7),
  CREDIT_CLAWBACK: z.enum(['unused', 'full', 'none']).default('unused'),
  /** Custom credit types (comma-separated) besides the built-in ones; unknown types are refused. */
  CREDIT_TYPES: optionalString,
  JOBS_ENABLED: bool.default(true),
  SEED_DEMO: bool.default(true),
  JOBS_POLL_SECONDS: z.coerce.number().positive().default(15),
  DISCOUNT_VALIDATE_PER_MINUTE: z.coerce.number().int().positive().default(20),
  METRICS_TOKEN: optionalString,
  /** How long a graceful shutdown waits for in-flight requests and webhook processing. */
  SHUTDOWN_TIMEOUT_SECONDS: z.coerce.number().positive().default(25),
});

export type Env = z.infer<typeof envSchema>;

/** Every variable the schema reads (the .env.example test checks each is documented). */
export const envVariableNames = Object.keys(envSchema.shape);

export interface Config extends Env {
  PUBLIC_URL: string;
  isProduction: boolean;
  /** The comma-separated STRIPE_WEBHOOK_SECRET, split (several are accepted during a rotation). */
  webhookSecrets: string[];
  /** True when no STRIPE_SECRET_KEY and no STRIPE_API_BASE: the app starts the emulator in process. */
  useEmbeddedEmulator: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment once; throws ConfigError naming every bad or missing variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`),
    );
  }
  const e = parsed.data;
  const isProduction = e.NODE_ENV === 'production';
  const problems: string[] = [];
  if (isProduction) {
    if (!e.STRIPE_SECRET_KEY) problems.push('STRIPE_SECRET_KEY is required in production');
    if (!e.STRIPE_WEBHOOK_SECRET) problems.push('STRIPE_WEBHOOK_SECRET is required in production');
    if (!e.DATABASE_URL) problems.push('DATABASE_URL is required in production');
    if (e.SESSION_SECRET === DEFAULT_SESSION_SECRET || e.SESSION_SECRET.length < 32) {
      problems.push('SESSION_SECRET must be set to a random value of at least 32 characters in production');
    }
    if (e.STRIPE_API_BASE) problems.push('STRIPE_API_BASE (an emulator) is refused in production');
  }
  if (e.STRIPE_SECRET_KEY && !/^(sk|rk)_(test|live)_/.test(e.STRIPE_SECRET_KEY)) {
    problems.push('STRIPE_SECRET_KEY must start with sk_test_, sk_live_, rk_test_ or rk_live_');
  }
  const webhookSecrets = (e.STRIPE_WEBHOOK_SECRET ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (webhookSecrets.some((s) => !s.startsWith('whsec_'))) {
    problems.push('STRIPE_WEBHOOK_SECRET: every comma-separated secret must start with whsec_');
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    ...e,
    PUBLIC_URL: (e.PUBLIC_URL ?? `http://127.0.0.1:${e.PORT}`).replace(/\/+$/, ''),
    isProduction,
    webhookSecrets,
    useEmbeddedEmulator: !isProduction && !e.STRIPE_SECRET_KEY && !e.STRIPE_API_BASE,
  };
}
