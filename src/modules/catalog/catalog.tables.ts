import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt, idColumn, ts, updatedAt } from '../../db/columns';
import type { ExtraMetadata } from './grants';

/** A plan level (free, pro, team): what features it unlocks and which limits apply. */
export const tiers = pgTable(
  'tiers',
  {
    id: idColumn(),
    key: text('key').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    rank: integer('rank').notNull().default(0),
    features: jsonb('features').$type<string[]>().notNull().default([]),
    limits: jsonb('limits').$type<Record<string, number>>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('tiers_key_uq').on(t.key)],
);

export const PRODUCT_TYPES = ['subscription', 'credits', 'feature_access', 'tier_upgrade'] as const;
export type ProductType = (typeof PRODUCT_TYPES)[number];

export const products = pgTable(
  'products',
  {
    id: idColumn(),
    /** A stable slug for catalog files (`paywire catalog push`); also stored in Stripe metadata. */
    key: text('key'),
    name: text('name').notNull(),
    description: text('description'),
    productType: text('product_type', { enum: PRODUCT_TYPES }).notNull(),
    tierId: uuid('tier_id').references(() => tiers.id),
    grantsTierId: uuid('grants_tier_id').references(() => tiers.id),
    creditAmount: bigint('credit_amount', { mode: 'number' }),
    creditType: text('credit_type'),
    featureAccess: jsonb('feature_access').$type<string[]>(),
    accessDurationDays: integer('access_duration_days'),
    requiresSubscription: boolean('requires_subscription').notNull().default(false),
    requiresTierId: uuid('requires_tier_id').references(() => tiers.id),
    isActive: boolean('is_active').notNull().default(true),
    stripeProductId: text('stripe_product_id'),
    /** Watermark: the start time of the Stripe read this row was last written from (out-of-order guard). */
    stripeAsOf: ts('stripe_as_of'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('products_stripe_product_uq').on(t.stripeProductId),
    uniqueIndex('products_key_uq').on(t.key),
  ],
);

export const PRICE_TYPES = [
  'one_time',
  'recurring',
  'credit_pack',
  'usage_based',
  'hybrid',
  'seat_based',
] as const;
export type PriceType = (typeof PRICE_TYPES)[number];
export const BILLING_INTERVALS = ['day', 'week', 'month', 'year'] as const;
export type BillingInterval = (typeof BILLING_INTERVALS)[number];

export const prices = pgTable(
  'prices',
  {
    id: idColumn(),
    productId: uuid('product_id')
      .notNull()
      .references(() => products.id),
    unitAmount: bigint('unit_amount', { mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
    priceType: text('price_type', { enum: PRICE_TYPES }).notNull(),
    billingInterval: text('billing_interval', { enum: BILLING_INTERVALS }),
    billingIntervalCount: integer('billing_interval_count'),
    trialPeriodDays: integer('trial_period_days'),
    lookupKey: text('lookup_key'),
    nickname: text('nickname'),
    stripePriceId: text('stripe_price_id'),
    isActive: boolean('is_active').notNull().default(true),
    /** What buying this price grants (`{entitlements: [...]}`, validated on save). */
    extraMetadata: jsonb('extra_metadata').$type<ExtraMetadata>().notNull().default({ entitlements: [] }),
    /** Bumped whenever extra_metadata changes; grants record the version they came from. */
    version: integer('version').notNull().default(1),
    /** The price this one replaced after an amount change (Stripe prices are immutable). */
    replacesPriceId: uuid('replaces_price_id'),
    stripeAsOf: ts('stripe_as_of'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('prices_stripe_price_uq').on(t.stripePriceId),
    uniqueIndex('prices_lookup_key_active_uq')
      .on(t.lookupKey)
      .where(sql`${t.isActive} and ${t.lookupKey} is not null`),
    index('prices_product_idx').on(t.productId),
  ],
);

/** Every version of what a price granted, so an old grant can be explained after the price changed. */
export const priceVersions = pgTable(
  'price_versions',
  {
    id: idColumn(),
    priceId: uuid('price_id')
      .notNull()
      .references(() => prices.id),
    version: integer('version').notNull(),
    extraMetadata: jsonb('extra_metadata').$type<ExtraMetadata>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('price_versions_price_version_uq').on(t.priceId, t.version)],
);

export type TierRow = typeof tiers.$inferSelect;
export type ProductRow = typeof products.$inferSelect;
export type PriceRow = typeof prices.$inferSelect;
