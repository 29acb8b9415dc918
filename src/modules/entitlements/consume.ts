import { and, asc, eq, gt, isNull, lte, ne, or, sql } from 'drizzle-orm';
import { AppError, invalid } from '../../lib/errors';
import { MAX_AMOUNT } from '../../lib/money';
import { publishUserChange, transact } from './cache';
import { type EntitlementRow, entitlementUsage, entitlements } from './entitlements.tables';
import { type EntitlementDeps, remainingOf } from './entitlements.types';

export interface ConsumeQuantityInput {
  userId: string;
  /** The feature (or credit type) a USAGE_ALLOWANCE or other quantity grant targets. */
  key: string;
  amount: number;
  /** The same key twice consumes once and answers the first result. */
  idempotencyKey?: string;
  description?: string;
}

export interface ConsumeQuantityResult {
  usage_id: string;
  key: string;
  consumed: number;
  /** What is left for this key after the consumption; null when an unlimited grant covers it. */
  remaining: number | null;
  allocations: { entitlement_id: string; amount: number }[];
  replayed: boolean;
}

/**
 * Consumes `amount` from the user's live quantity grants for `key` (not CREDIT_GRANT: credits are spent
 * through the credits service), soonest-expiring first, then oldest; an unlimited grant takes what the
 * limited ones cannot. All or nothing: too little -> 402 `insufficient_quantity` and nothing written.
 * `renewable` grants live one billing period each (the next period's grant starts afresh) and
 * `accumulative` ones do not expire, so what is left rolls over.
 */
export async function consumeQuantity(
  deps: EntitlementDeps,
  input: ConsumeQuantityInput,
): Promise<ConsumeQuantityResult> {
  if (!Number.isSafeInteger(input.amount) || input.amount <= 0 || input.amount > MAX_AMOUNT) {
    throw invalid('amount must be a positive integer up to 10^12');
  }
  return transact(deps, async (tx) => {
    const now = deps.clock.now();
    let usageId: string | null = null;
    if (input.idempotencyKey) {
      const [claimed] = await tx
        .insert(entitlementUsage)
        .values({
          userId: input.userId,
          key: input.key,
          amount: input.amount,
          idempotencyKey: input.idempotencyKey,
          allocations: [],
          description: input.description ?? null,
          createdAt: now,
        })
        .onConflictDoNothing({ target: [entitlementUsage.userId, entitlementUsage.idempotencyKey] })
        .returning({ id: entitlementUsage.id });
      if (!claimed) {
        const [first] = await tx
          .select()
          .from(entitlementUsage)
          .where(
            and(
              eq(entitlementUsage.userId, input.userId),
              eq(entitlementUsage.idempotencyKey, input.idempotencyKey),
            ),
          );
        if (first!.key !== input.key || first!.amount !== input.amount) {
          throw new AppError(
            'idempotency_conflict',
            'This idempotency key was used for a different consumption',
          );
        }
        const rows = await liveRows(tx, input.userId, input.key, now, false);
        return {
          usage_id: first!.id,
          key: first!.key,
          consumed: first!.amount,
          remaining: totalRemaining(rows),
          allocations: first!.allocations,
          replayed: true,
        };
      }
      usageId = claimed.id;
    }

    const rows = await liveRows(tx, input.userId, input.key, now, true);
    let left = input.amount;
    const allocations: { entitlement_id: string; amount: number }[] = [];
    for (const row of rows) {
      if (left === 0) break;
      const remaining = remainingOf(row);
      if (remaining === null || remaining === 0) continue;
      const take = Math.min(remaining, left);
      allocations.push({ entitlement_id: row.id, amount: take });
      left -= take;
    }
    const unlimited = rows.find((r) => r.quantityGranted === null);
    if (left > 0 && unlimited) {
      allocations.push({ entitlement_id: unlimited.id, amount: left });
      left = 0;
    }
    if (left > 0) {
      throw new AppError('insufficient_quantity', `Not enough ${input.key} left`, {
        key: input.key,
        needed: input.amount,
        available: input.amount - left,
      });
    }
    for (const a of allocations) {
      await tx
        .update(entitlements)
        .set({ quantityUsed: sql`${entitlements.quantityUsed} + ${a.amount}` })
        .where(eq(entitlements.id, a.entitlement_id));
    }
    if (usageId) {
      await tx.update(entitlementUsage).set({ allocations }).where(eq(entitlementUsage.id, usageId));
    } else {
      const [row] = await tx
        .insert(entitlementUsage)
        .values({
          userId: input.userId,
          key: input.key,
          amount: input.amount,
          allocations,
          description: input.description ?? null,
          createdAt: now,
        })
        .returning({ id: entitlementUsage.id });
      usageId = row!.id;
    }
    await publishUserChange(deps, tx, input.userId);
    const used = new Map(allocations.map((a) => [a.entitlement_id, a.amount]));
    const after = rows.map((r) => ({ ...r, quantityUsed: r.quantityUsed + (used.get(r.id) ?? 0) }));
    return {
      usage_id: usageId,
      key: input.key,
      consumed: input.amount,
      remaining: totalRemaining(after),
      allocations,
      replayed: false,
    };
  });
}

/** Sum of what is left; null when an unlimited grant is among them. */
export function totalRemaining(rows: EntitlementRow[]): number | null {
  let sum = 0;
  for (const r of rows) {
    const rem = remainingOf(r);
    if (rem === null) return null;
    sum += rem;
  }
  return sum;
}

/** Live quantity grants for a key, in consumption order; locked when about to change them. */
function liveRows(
  tx: Parameters<Parameters<typeof transact>[1]>[0],
  userId: string,
  key: string,
  now: Date,
  lock: boolean,
) {
  const q = tx
    .select()
    .from(entitlements)
    .where(
      and(
        eq(entitlements.userId, userId),
        isNull(entitlements.revokedAt),
        ne(entitlements.type, 'credit_grant'),
        ne(entitlements.consumptionType, 'none'),
        or(eq(entitlements.feature, key), eq(entitlements.creditType, key)),
        lte(entitlements.grantedAt, now),
        or(isNull(entitlements.expiresAt), gt(entitlements.expiresAt, now)),
      ),
    )
    .orderBy(
      sql`${entitlements.expiresAt} asc nulls last`,
      asc(entitlements.grantedAt),
      asc(entitlements.id),
    );
  return lock ? q.for('update') : q;
}
