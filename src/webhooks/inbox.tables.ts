import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import { ts } from '../db/columns';

/**
 * The inbox of Stripe events (SPEC section 10): one row per event id, committed before any work.
 * Status: handled (handled_at set), failed (not handled, last_error set), pending (neither).
 * Times here are wall time (operations), not business time.
 */
export const stripeEvents = pgTable(
  'stripe_events',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    apiVersion: text('api_version'),
    livemode: boolean('livemode').notNull().default(false),
    /** When Stripe created the event. */
    created: ts('created').notNull(),
    payload: jsonb('payload').notNull(),
    receivedAt: ts('received_at').notNull(),
    handledAt: ts('handled_at'),
    /** True when no handler existed for the type: stored and acknowledged. */
    ignored: boolean('ignored').notNull().default(false),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    lastErrorAt: ts('last_error_at'),
    lastAttemptAt: ts('last_attempt_at'),
  },
  (t) => [
    index('stripe_events_type_idx').on(t.type),
    index('stripe_events_received_idx').on(t.receivedAt),
    index('stripe_events_unhandled_idx').on(t.receivedAt).where(sql`${t.handledAt} is null`),
  ],
);

export type StripeEventRow = typeof stripeEvents.$inferSelect;
