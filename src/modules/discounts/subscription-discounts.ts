import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '../../db/client';
import { subscriptionDiscountCycles, subscriptionDiscounts } from './discounts.tables';

/**
 * Recurring discounts on subscriptions, keyed by the Stripe subscription id (the local subscriptions
 * table comes with a later issue; the Stripe id is what every webhook carries). Stripe applies and ends
 * the discount itself; these rows are Paywire's record of it.
 */

export interface StartSubscriptionDiscountInput {
  stripeSubscriptionId: string;
  codeId: string;
  /** Null = forever. */
  maxCycles: number | null;
  redemptionId?: string | null;
  now?: Date;
}

/** Starts a running discount, ending the one it replaces (a subscription runs one Paywire discount). */
export async function startSubscriptionDiscount(tx: Tx, input: StartSubscriptionDiscountInput) {
  const at = input.now ?? sql`now()`;
  if (input.redemptionId) {
    const [already] = await tx
      .select()
      .from(subscriptionDiscounts)
      .where(eq(subscriptionDiscounts.redemptionId, input.redemptionId));
    if (already) return already;
  }
  await tx
    .update(subscriptionDiscounts)
    .set({ endedAt: at })
    .where(
      and(
        eq(subscriptionDiscounts.stripeSubscriptionId, input.stripeSubscriptionId),
        isNull(subscriptionDiscounts.endedAt),
      ),
    );
  const [row] = await tx
    .insert(subscriptionDiscounts)
    .values({
      stripeSubscriptionId: input.stripeSubscriptionId,
      codeId: input.codeId,
      maxCycles: input.maxCycles,
      redemptionId: input.redemptionId ?? null,
      ...(input.now ? { createdAt: input.now } : {}),
    })
    .returning();
  return row!;
}

/**
 * Counts one discounted invoice of the subscription's running discount, once per invoice (webhooks
 * repeat). Reaching max_cycles ends the discount. Returns null when no discount is running.
 */
export async function countDiscountCycle(
  tx: Tx,
  input: { stripeSubscriptionId: string; invoiceId: string; now?: Date },
): Promise<{
  subscriptionDiscountId: string;
  counted: boolean;
  cyclesApplied: number;
  ended: boolean;
} | null> {
  const [running] = await tx
    .select()
    .from(subscriptionDiscounts)
    .where(
      and(
        eq(subscriptionDiscounts.stripeSubscriptionId, input.stripeSubscriptionId),
        isNull(subscriptionDiscounts.endedAt),
      ),
    )
    .for('update');
  if (!running) return null;
  const [fresh] = await tx
    .insert(subscriptionDiscountCycles)
    .values({
      subscriptionDiscountId: running.id,
      stripeInvoiceId: input.invoiceId,
      ...(input.now ? { createdAt: input.now } : {}),
    })
    .onConflictDoNothing()
    .returning();
  if (!fresh)
    return {
      subscriptionDiscountId: running.id,
      counted: false,
      cyclesApplied: running.cyclesApplied,
      ended: false,
    };
  const cycles = running.cyclesApplied + 1;
  const ended = running.maxCycles !== null && cycles >= running.maxCycles;
  await tx
    .update(subscriptionDiscounts)
    .set({ cyclesApplied: cycles, ...(ended ? { endedAt: input.now ?? sql`now()` } : {}) })
    .where(eq(subscriptionDiscounts.id, running.id));
  return { subscriptionDiscountId: running.id, counted: true, cyclesApplied: cycles, ended };
}

/** Ends every running discount of a subscription (cancellation, admin removal). Returns how many. */
export async function endSubscriptionDiscounts(tx: Queryable, stripeSubscriptionId: string, at?: Date) {
  const ended = await tx
    .update(subscriptionDiscounts)
    .set({ endedAt: at ?? sql`now()` })
    .where(
      and(
        eq(subscriptionDiscounts.stripeSubscriptionId, stripeSubscriptionId),
        isNull(subscriptionDiscounts.endedAt),
      ),
    )
    .returning({ id: subscriptionDiscounts.id });
  return ended.length;
}

export async function runningSubscriptionDiscount(db: Queryable, stripeSubscriptionId: string) {
  const [row] = await db
    .select()
    .from(subscriptionDiscounts)
    .where(
      and(
        eq(subscriptionDiscounts.stripeSubscriptionId, stripeSubscriptionId),
        isNull(subscriptionDiscounts.endedAt),
      ),
    );
  return row ?? null;
}
