import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AppError } from '../../lib/errors';
import { zodDetails } from '../../http/errors';
import { lookupKeySchema, productKeySchema, TierBody } from './catalog.schemas';
import { BILLING_INTERVALS, PRICE_TYPES, PRODUCT_TYPES } from './catalog.tables';
import { creditTypeSchema, extraMetadataSchema, featureKeySchema, tierKeySchema } from './grants';
import { MAX_AMOUNT } from '../../lib/money';

/**
 * The catalog file (pricing as code, e.g. `paywire.catalog.json`): tiers by key, products by key, and
 * each product's prices by lookup key. Keys are the identities a push matches on, so pushing the same
 * file twice changes nothing. Tiers and products refer to tiers by key.
 */
const FilePrice = z.strictObject({
  lookup_key: lookupKeySchema,
  unit_amount: z.number().int().min(0).max(MAX_AMOUNT),
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/)
    .transform((c) => c.toLowerCase()),
  price_type: z.enum(PRICE_TYPES),
  billing_interval: z.enum(BILLING_INTERVALS).nullable().optional(),
  billing_interval_count: z.number().int().min(1).max(365).nullable().optional(),
  trial_period_days: z.number().int().min(1).max(730).nullable().optional(),
  nickname: z.string().max(250).nullable().optional(),
  extra_metadata: extraMetadataSchema.optional(),
  active: z.boolean().optional(),
});

const FileProduct = z.strictObject({
  key: productKeySchema,
  name: z.string().trim().min(1).max(250),
  description: z.string().max(2000).nullable().optional(),
  product_type: z.enum(PRODUCT_TYPES),
  tier: tierKeySchema.nullable().optional(),
  grants_tier: tierKeySchema.nullable().optional(),
  credit_amount: z.number().int().positive().max(MAX_AMOUNT).nullable().optional(),
  credit_type: creditTypeSchema.nullable().optional(),
  feature_access: z.array(featureKeySchema).max(100).nullable().optional(),
  access_duration_days: z.number().int().positive().max(36_500).nullable().optional(),
  requires_subscription: z.boolean().optional(),
  requires_tier: tierKeySchema.nullable().optional(),
  active: z.boolean().optional(),
  prices: z.array(FilePrice).max(100).default([]),
});

export const CatalogFileSchema = z.strictObject({
  $schema: z.string().optional(),
  description: z.string().optional(),
  tiers: z.array(TierBody).max(100).default([]),
  products: z.array(FileProduct).max(500).default([]),
});

export type CatalogFile = z.output<typeof CatalogFileSchema>;
export type FileProductEntry = CatalogFile['products'][number];
export type FilePriceEntry = FileProductEntry['prices'][number];

/** Validates a parsed catalog file; a 400 names the offending path (e.g. products.1.prices.0.extra_metadata). */
export function parseCatalogFile(value: unknown): CatalogFile {
  const parsed = CatalogFileSchema.safeParse(value);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new AppError(
      'invalid_request',
      `Invalid catalog file at ${first?.path.join('.') || '(root)'}: ${first?.message}`,
      zodDetails(parsed.error),
    );
  }
  const file = parsed.data;
  const dup = (what: string, keys: string[]) => {
    const seen = new Set<string>();
    for (const k of keys) {
      if (seen.has(k))
        throw new AppError('invalid_request', `Invalid catalog file: ${what} "${k}" appears twice`);
      seen.add(k);
    }
  };
  dup(
    'tier',
    file.tiers.map((t) => t.key),
  );
  dup(
    'product',
    file.products.map((p) => p.key),
  );
  dup(
    'lookup_key',
    file.products.flatMap((p) => p.prices.map((x) => x.lookup_key)),
  );
  return file;
}

export function readCatalogFile(path: string): CatalogFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AppError('invalid_request', `Cannot read ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AppError('invalid_request', `${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseCatalogFile(value);
}
