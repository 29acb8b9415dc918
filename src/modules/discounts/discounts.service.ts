import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Queryable } from '../../db/client';
import type { Deps } from '../../deps';
import { AppError, notFound } from '../../lib/errors';
import { discountOn, type PriceFacts, refusalOf } from './discounts.rules';
import { type DiscountCodeRow, discountCodes } from './discounts.tables';
import { priceFacts } from './prices';
import { discountNotFound, isLive, refusal } from './reservations';
import { usageOf } from './usage';

export type DiscountDeps = Pick<Deps, 'db' | 'clock' | 'stripe' | 'logger'>;

/** The code a customer typed, whatever its case; pending codes (Stripe not confirmed) do not exist yet. */
export async function findCode(db: Queryable, code: string): Promise<DiscountCodeRow | null> {
  const [row] = await db
    .select()
    .from(discountCodes)
    .where(sql`lower(${discountCodes.code}) = lower(${code.trim()})`);
  return row && isLive(row) ? row : null;
}

export async function getCodeRow(db: Queryable, id: string): Promise<DiscountCodeRow> {
  const [row] = await db.select().from(discountCodes).where(eq(discountCodes.id, id));
  if (!row) throw new AppError('discount_not_found', 'Discount not found', { id });
  return row;
}

/** Uses held by checkouts in flight at `now` (shown to admins beside current_uses). */
const heldAt = (now: Date) =>
  sql<number>`(select count(*)::int from discount_reservations r
    where r.code_id = "discount_codes"."id" and r.status = 'held'
      and r.expires_at > ${now.toISOString()}::timestamptz)`.mapWith(Number);

export function toPublicDiscount(row: DiscountCodeRow, heldUses: number) {
  return {
    id: row.id,
    code: row.code,
    discount_type: row.discountType,
    discount_value: row.discountValue,
    currency: row.currency,
    duration: row.duration,
    duration_in_months: row.durationInMonths,
    scope: row.scope,
    price_ids: row.priceIds ?? [],
    max_uses: row.maxUses,
    max_uses_per_user: row.maxUsesPerUser,
    current_uses: row.currentUses,
    held_uses: heldUses,
    expires_at: row.expiresAt?.toISOString() ?? null,
    is_active: row.isActive,
    status: isLive(row) ? ('live' as const) : ('pending' as const),
    stripe_coupon_id: row.stripeCouponId,
    stripe_promotion_code_id: row.stripePromotionCodeId,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}
export type PublicDiscount = ReturnType<typeof toPublicDiscount>;

export async function getDiscount(deps: Pick<Deps, 'db' | 'clock'>, id: string): Promise<PublicDiscount> {
  const [found] = await deps.db
    .select({ row: discountCodes, held: heldAt(deps.clock.now()) })
    .from(discountCodes)
    .where(eq(discountCodes.id, id));
  if (!found) throw new AppError('discount_not_found', 'Discount not found', { id });
  return toPublicDiscount(found.row, found.held);
}

/** Oldest first (UUIDv7 ids are time-ordered), paged with `starting_after`. */
export async function listDiscounts(
  deps: Pick<Deps, 'db' | 'clock'>,
  opts: { limit: number; startingAfter?: string; active?: boolean },
) {
  const rows = await deps.db
    .select({ row: discountCodes, held: heldAt(deps.clock.now()) })
    .from(discountCodes)
    .where(
      and(
        opts.startingAfter ? gt(discountCodes.id, opts.startingAfter) : undefined,
        opts.active === undefined ? undefined : eq(discountCodes.isActive, opts.active),
      ),
    )
    .orderBy(asc(discountCodes.id))
    .limit(opts.limit + 1);
  return {
    data: rows.slice(0, opts.limit).map((r) => toPublicDiscount(r.row, r.held)),
    has_more: rows.length > opts.limit,
  };
}

export interface ValidDiscount {
  code: DiscountCodeRow;
  price: PriceFacts;
  originalAmount: number;
  discountAmount: number;
  discountedAmount: number;
}

/**
 * The checks of SPEC section 8 for a code on a price, in order: scope (and the price list) -> expiry ->
 * usage limits (global, then per user, counting checkouts in flight) -> active. Reads only; throws
 * AppError with the refusal's own code, `discount_not_found` for an unknown code, `not_found` for an
 * unknown price. Checkout calls this before anything else touches Stripe, and reserveDiscount last.
 */
export async function validateDiscount(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: { code: string; userId?: string | null; priceId: string; forPricingPage?: boolean },
): Promise<ValidDiscount> {
  const price = await priceFacts(deps, input.priceId);
  if (!price) throw notFound('Price', { price_id: input.priceId });
  const code = await findCode(deps.db, input.code);
  if (!code) throw discountNotFound(input.code);
  const now = deps.clock.now();
  const usage = await usageOf(
    deps.db,
    code,
    input.userId,
    now,
    input.forPricingPage ? input.priceId : undefined,
  );
  const reason = refusalOf(code, { now, priceId: input.priceId, price, usage });
  if (reason) throw refusal(code, reason);
  const discountAmount = discountOn(code, price.unitAmount);
  return {
    code,
    price,
    originalAmount: price.unitAmount,
    discountAmount,
    discountedAmount: price.unitAmount - discountAmount,
  };
}
