import { and, eq, isNull, sql } from 'drizzle-orm';
import { isUniqueViolation } from '../../db/errors';
import type { Deps } from '../../deps';
import { validationError } from '../../http/errors';
import { AppError, invalid } from '../../lib/errors';
import { requireStripe } from '../../stripe/client';
import {
  CreateDiscountBody,
  type CreateDiscountInput,
  UpdateDiscountBody,
  type UpdateDiscountInput,
} from './discounts.schemas';
import { getCodeRow, getDiscount, type PublicDiscount } from './discounts.service';
import {
  createStripeDiscount,
  isDefiniteRefusal,
  replacePromotionCode,
  setPromotionCodeActive,
} from './discounts.stripe';
import { type DiscountCodeRow, discountCodes } from './discounts.tables';
import { missingPriceIds } from './prices';

type AdminDeps = Pick<Deps, 'db' | 'clock' | 'stripe' | 'logger'>;

/**
 * Creating a code, in this order: every check (body, expiry in the future, known prices) before
 * anything is written; the local row is inserted first as "pending" (the unique index on lower(code)
 * refuses a duplicate before Stripe is touched); then the Stripe coupon and promotion code are created
 * with idempotency keys derived from the row id; then the row records their ids and goes live.
 * A Stripe refusal deletes the pending row (and the coupon), so nothing is left. An unknown outcome
 * (network error, Stripe 5xx, crash) leaves the row pending and invisible to customers; creating the
 * same code again with the same body resumes it and adopts whatever Stripe had already made.
 */
export async function createDiscount(deps: AdminDeps, raw: CreateDiscountInput): Promise<PublicDiscount> {
  const parsed = CreateDiscountBody.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error);
  const b = parsed.data;
  const now = deps.clock.now();
  const expiresAt = b.expires_at ? new Date(b.expires_at) : null;
  if (expiresAt && expiresAt.getTime() <= now.getTime()) {
    throw invalid('Invalid expires_at: must be in the future', { fields: [{ path: 'expires_at' }] });
  }
  await refuseUnknownPrices(deps, b.price_ids);
  const stripe = requireStripe(deps);

  const values = {
    code: b.code,
    discountType: b.discount_type,
    discountValue: b.discount_value,
    currency: b.discount_type === 'fixed_amount' ? (b.currency ?? null) : null,
    duration: b.duration,
    durationInMonths: b.duration === 'repeating' ? (b.duration_in_months ?? null) : null,
    scope: b.scope,
    priceIds: b.price_ids?.length ? b.price_ids : null,
    maxUses: b.max_uses ?? null,
    maxUsesPerUser: b.max_uses_per_user === undefined ? 1 : b.max_uses_per_user,
    expiresAt,
    isActive: b.is_active ?? true,
  };
  let row: DiscountCodeRow;
  let resuming = false;
  try {
    [row] = (await deps.db
      .insert(discountCodes)
      .values({ ...values, createdAt: now, updatedAt: now })
      .returning()) as [DiscountCodeRow];
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const [existing] = await deps.db
      .select()
      .from(discountCodes)
      .where(sql`lower(${discountCodes.code}) = lower(${b.code})`);
    if (!existing || existing.stripePromotionCodeId !== null || !sameDefinition(existing, values)) {
      throw new AppError('conflict', `A discount code "${b.code}" already exists`, { code: b.code });
    }
    row = existing;
    resuming = true;
  }

  let ids: { couponId: string; promotionCodeId: string };
  try {
    ids = await createStripeDiscount(stripe, row, resuming);
  } catch (err) {
    if (!resuming && isDefiniteRefusal(err)) {
      await deps.db
        .delete(discountCodes)
        .where(and(eq(discountCodes.id, row.id), isNull(discountCodes.stripePromotionCodeId)));
    } else {
      deps.logger.warn({ discount_id: row.id }, 'discount left pending: Stripe outcome unknown');
    }
    throw err;
  }
  await deps.db
    .update(discountCodes)
    .set({ stripeCouponId: ids.couponId, stripePromotionCodeId: ids.promotionCodeId, updatedAt: now })
    .where(eq(discountCodes.id, row.id));
  deps.logger.info({ discount_id: row.id, code: row.code }, 'discount code created');
  return getDiscount(deps, row.id);
}

/**
 * Edits what may change. is_active flips the promotion code; max_uses or expires_at replace it (Stripe
 * cannot edit them). Stripe first, then the local row: a Stripe failure changes nothing, and a local
 * failure after it leaves Stripe the stricter side (an inactive or replaced promotion code).
 */
export async function updateDiscount(
  deps: AdminDeps,
  id: string,
  raw: UpdateDiscountInput,
): Promise<PublicDiscount> {
  const parsed = UpdateDiscountBody.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error);
  const b = parsed.data;
  const now = deps.clock.now();
  const row = await getCodeRow(deps.db, id);
  const expiresAt = b.expires_at === undefined ? row.expiresAt : b.expires_at ? new Date(b.expires_at) : null;
  if (b.expires_at && expiresAt!.getTime() <= now.getTime()) {
    throw invalid('Invalid expires_at: must be in the future', { fields: [{ path: 'expires_at' }] });
  }
  const maxUses = b.max_uses === undefined ? row.maxUses : b.max_uses;
  if (b.max_uses != null && b.max_uses <= row.currentUses) {
    throw invalid(
      `Invalid max_uses: the code was already used ${row.currentUses} times; deactivate it to stop it`,
      { fields: [{ path: 'max_uses' }], current_uses: row.currentUses },
    );
  }
  if (b.price_ids) await refuseUnknownPrices(deps, b.price_ids);
  if (!row.stripePromotionCodeId) {
    throw new AppError(
      'conflict',
      'This code is still pending in Stripe: create it again with the same body first',
    );
  }
  const stripe = requireStripe(deps);
  const next: DiscountCodeRow = {
    ...row,
    isActive: b.is_active ?? row.isActive,
    maxUses,
    maxUsesPerUser: b.max_uses_per_user === undefined ? row.maxUsesPerUser : b.max_uses_per_user,
    expiresAt,
    priceIds: b.price_ids === undefined ? row.priceIds : b.price_ids?.length ? b.price_ids : null,
  };

  const replace = maxUses !== row.maxUses || expiresAt?.getTime() !== row.expiresAt?.getTime();
  let promotionCodeId = row.stripePromotionCodeId;
  if (replace) {
    promotionCodeId = await replacePromotionCode(
      stripe,
      next,
      row.retiredPromotionCodeIds.length + 1,
      row.isActive,
    );
  } else if (next.isActive !== row.isActive) {
    await setPromotionCodeActive(stripe, row.stripePromotionCodeId, next.isActive);
  }

  const updated = await deps.db
    .update(discountCodes)
    .set({
      isActive: next.isActive,
      maxUses: next.maxUses,
      maxUsesPerUser: next.maxUsesPerUser,
      expiresAt: next.expiresAt,
      priceIds: next.priceIds,
      stripePromotionCodeId: promotionCodeId,
      ...(replace
        ? {
            retiredPromotionCodeIds: sql`array_append(${discountCodes.retiredPromotionCodeIds}, ${row.stripePromotionCodeId})`,
          }
        : {}),
      updatedAt: now,
    })
    // Guards against a concurrent edit that replaced the promotion code in between.
    .where(and(eq(discountCodes.id, id), eq(discountCodes.stripePromotionCodeId, row.stripePromotionCodeId)))
    .returning({ id: discountCodes.id });
  if (!updated.length)
    throw new AppError('conflict', 'The discount was changed concurrently; reload and retry');
  deps.logger.info({ discount_id: id, changes: Object.keys(b) }, 'discount code updated');
  return getDiscount(deps, id);
}

/**
 * DELETE = deactivate: the promotion code is deactivated in Stripe and the row kept (redemptions point
 * to it). The coupon stays: Stripe coupons cannot be deactivated, and without an active promotion code
 * nobody can enter it.
 */
export function deactivateDiscount(deps: AdminDeps, id: string): Promise<PublicDiscount> {
  return updateDiscount(deps, id, { is_active: false });
}

async function refuseUnknownPrices(deps: Pick<Deps, 'db'>, priceIds: string[] | undefined) {
  if (!priceIds?.length) return;
  const missing = await missingPriceIds(deps, priceIds);
  if (missing.length) {
    throw invalid(`Invalid price_ids: unknown price ${missing.join(', ')}`, {
      fields: [{ path: 'price_ids' }],
      unknown_price_ids: missing,
    });
  }
}

function sameDefinition(row: DiscountCodeRow, v: Partial<DiscountCodeRow>): boolean {
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  return (
    row.code === v.code &&
    row.discountType === v.discountType &&
    row.discountValue === v.discountValue &&
    same(row.currency, v.currency) &&
    row.duration === v.duration &&
    same(row.durationInMonths, v.durationInMonths) &&
    row.scope === v.scope &&
    same(row.priceIds, v.priceIds) &&
    same(row.maxUses, v.maxUses) &&
    same(row.maxUsesPerUser, v.maxUsesPerUser) &&
    same(row.expiresAt?.getTime(), v.expiresAt?.getTime()) &&
    row.isActive === v.isActive
  );
}
