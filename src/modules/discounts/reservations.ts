import { and, eq, lte, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '../../db/client';
import type { Deps } from '../../deps';
import { AppError } from '../../lib/errors';
import { type DiscountRefusal, maxCyclesFor, REFUSAL_MESSAGES, refusalOf } from './discounts.rules';
import {
  type DiscountCodeRow,
  discountCodes,
  discountRedemptions,
  discountReservations,
} from './discounts.tables';
import { startSubscriptionDiscount } from './subscription-discounts';
import { usageOf } from './usage';

export const discountNotFound = (code?: string) =>
  new AppError('discount_not_found', 'No such discount code', code ? { code } : undefined);

export const refusal = (code: { code: string }, reason: DiscountRefusal) =>
  new AppError(reason, REFUSAL_MESSAGES[reason], { code: code.code });

/** A code whose Stripe objects are not confirmed yet is invisible to customers. */
export const isLive = (code: DiscountCodeRow) => code.stripePromotionCodeId !== null;

export interface ReserveInput {
  codeId: string;
  userId: string;
  priceId: string;
  /** When the hold stops counting; checkout sets it a little after its session's expiry. */
  expiresAt: Date;
  /** Business time (deps.clock.now()). */
  now: Date;
}

/**
 * Holds one use of a code for a checkout in flight. Taken last, inside the checkout's (short)
 * transaction: the code row is locked FOR UPDATE, so concurrent reservations of the same code run one
 * after another and each sees the holds committed before it; the last use cannot be sold twice.
 * Re-checks everything that can change after validateDiscount (price list, expiry, limits, active).
 */
export async function reserveDiscount(tx: Tx, input: ReserveInput) {
  const [code] = await tx
    .select()
    .from(discountCodes)
    .where(eq(discountCodes.id, input.codeId))
    .for('update');
  if (!code || !isLive(code)) throw discountNotFound();
  const usage = await usageOf(tx, code, input.userId, input.now);
  const reason = refusalOf(code, { now: input.now, priceId: input.priceId, usage });
  if (reason) throw refusal(code, reason);
  const [row] = await tx
    .insert(discountReservations)
    .values({
      codeId: code.id,
      userId: input.userId,
      priceId: input.priceId,
      expiresAt: input.expiresAt,
      createdAt: input.now,
    })
    .returning();
  return { reservationId: row!.id, codeId: code.id, expiresAt: row!.expiresAt };
}

/** Links a hold to the Stripe Checkout Session created for it (once the session exists). */
export async function attachSession(tx: Queryable, reservationId: string, sessionId: string): Promise<void> {
  const updated = await tx
    .update(discountReservations)
    .set({ stripeCheckoutSessionId: sessionId })
    .where(
      and(
        eq(discountReservations.id, reservationId),
        sql`(${discountReservations.stripeCheckoutSessionId} is null or ${discountReservations.stripeCheckoutSessionId} = ${sessionId})`,
      ),
    )
    .returning({ id: discountReservations.id });
  if (!updated.length) {
    throw new AppError('conflict', 'Reservation not found or already linked to another session', {
      reservation_id: reservationId,
    });
  }
}

/**
 * Gives a held use back (the session expired or its creation failed). Returns false when there was no
 * held reservation (already released or redeemed): safe to call twice.
 */
export async function releaseReservation(
  tx: Queryable,
  target: { sessionId: string; now?: Date } | { reservationId: string; now?: Date },
): Promise<boolean> {
  const where =
    'sessionId' in target
      ? eq(discountReservations.stripeCheckoutSessionId, target.sessionId)
      : eq(discountReservations.id, target.reservationId);
  const released = await tx
    .update(discountReservations)
    .set({ status: 'released', releasedAt: target.now ?? sql`now()` })
    .where(and(where, eq(discountReservations.status, 'held')))
    .returning({ id: discountReservations.id });
  return released.length > 0;
}

export interface RedeemInput {
  sessionId: string;
  userId: string | null;
  paymentId?: string | null;
  /** The Stripe subscription the session created, for recurring discounts. */
  subscriptionId?: string | null;
  amountDiscounted: number;
  currency?: string | null;
  /** From the session's discounts: finds the code when no reservation exists (hosted-page entry). */
  promotionCodeId?: string | null;
  /** Months per billing period of the subscription, to turn "repeating N months" into cycles. */
  intervalMonths?: number | null;
  now?: Date;
}

/**
 * Records the use of a code by a completed checkout session: a redemption row, current_uses + 1, the
 * reservation marked redeemed and, for a subscription, its running discount. Idempotent on the session
 * (the webhook and the success page may both call it). Returns null when the session used no code
 * Paywire knows.
 */
export async function redeem(tx: Tx, input: RedeemInput) {
  const code = await codeForSession(tx, input.sessionId, input.promotionCodeId);
  if (!code) return null;
  const now = input.now;
  // Same lock order as reserveDiscount (the code row first), so the two never deadlock.
  await tx
    .select({ id: discountCodes.id })
    .from(discountCodes)
    .where(eq(discountCodes.id, code.id))
    .for('update');
  const [inserted] = await tx
    .insert(discountRedemptions)
    .values({
      codeId: code.id,
      userId: input.userId,
      paymentId: input.paymentId ?? null,
      stripeSubscriptionId: input.subscriptionId ?? null,
      stripeCheckoutSessionId: input.sessionId,
      amountDiscounted: input.amountDiscounted,
      currency: input.currency?.toLowerCase() ?? code.currency,
      ...(now ? { createdAt: now } : {}),
    })
    .onConflictDoNothing()
    .returning({ id: discountRedemptions.id });
  if (!inserted) {
    const [existing] = await tx
      .select({ id: discountRedemptions.id })
      .from(discountRedemptions)
      .where(
        and(
          eq(discountRedemptions.codeId, code.id),
          eq(discountRedemptions.stripeCheckoutSessionId, input.sessionId),
        ),
      );
    return { redemptionId: existing!.id, codeId: code.id, code: code.code, created: false };
  }
  await tx
    .update(discountCodes)
    .set({ currentUses: sql`${discountCodes.currentUses} + 1` })
    .where(eq(discountCodes.id, code.id));
  // Redeemed whatever its state: a session paid at the last moment is fulfilled even if its hold lapsed.
  await tx
    .update(discountReservations)
    .set({ status: 'redeemed', redeemedAt: now ?? sql`now()` })
    .where(eq(discountReservations.stripeCheckoutSessionId, input.sessionId));
  if (input.subscriptionId) {
    await startSubscriptionDiscount(tx, {
      stripeSubscriptionId: input.subscriptionId,
      codeId: code.id,
      maxCycles: maxCyclesFor(code, input.intervalMonths),
      redemptionId: inserted.id,
      now,
    });
  }
  return { redemptionId: inserted.id, codeId: code.id, code: code.code, created: true };
}

async function codeForSession(
  tx: Queryable,
  sessionId: string,
  promotionCodeId: string | null | undefined,
): Promise<DiscountCodeRow | null> {
  const [reserved] = await tx
    .select({ code: discountCodes })
    .from(discountReservations)
    .innerJoin(discountCodes, eq(discountCodes.id, discountReservations.codeId))
    .where(eq(discountReservations.stripeCheckoutSessionId, sessionId));
  if (reserved) return reserved.code;
  if (!promotionCodeId) return null;
  return findByPromotionCode(tx, promotionCodeId);
}

/** The code behind a Stripe promotion code, including ones replaced after an edit of its limits. */
export async function findByPromotionCode(db: Queryable, promotionCodeId: string) {
  const [row] = await db
    .select()
    .from(discountCodes)
    .where(
      sql`${discountCodes.stripePromotionCodeId} = ${promotionCodeId} or ${promotionCodeId} = any(${discountCodes.retiredPromotionCodeIds})`,
    );
  return row ?? null;
}

/**
 * Job hook: marks holds past their expiry as released. Counting already ignores them (expiry is judged
 * when reading); this keeps the table tidy and the partial index small. Returns how many it released.
 */
export async function expireReservations(deps: Pick<Deps, 'db' | 'clock'>): Promise<number> {
  const now = deps.clock.now();
  const released = await deps.db
    .update(discountReservations)
    .set({ status: 'released', releasedAt: now })
    .where(and(eq(discountReservations.status, 'held'), lte(discountReservations.expiresAt, now)))
    .returning({ id: discountReservations.id });
  return released.length;
}
