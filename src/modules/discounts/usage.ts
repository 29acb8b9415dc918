import { sql } from 'drizzle-orm';
import { type Queryable, queryRows } from '../../db/client';
import type { Usage } from './discounts.rules';

/**
 * How much of a code is taken: redeemed uses plus held reservations not yet past their expiry (judged
 * against business time, so a crashed checkout stops counting on its own), globally and for one user.
 */
export async function usageOf(
  db: Queryable,
  code: { id: string; currentUses: number },
  userId: string | null | undefined,
  now: Date,
  /**
   * A price whose held uses by this user do not count: a user's new checkout for a price expires their
   * previous open one, so the pricing page must not call the code "already used" because of it.
   */
  releasablePriceId?: string,
): Promise<Usage> {
  const at = now.toISOString();
  const user = userId ?? null;
  const skip = user && releasablePriceId ? releasablePriceId : null;
  const [row] = await queryRows<{ held: number; user_held: number; user_redeemed: number }>(
    db,
    sql`select
      (select count(*)::int from discount_reservations
        where code_id = ${code.id} and status = 'held' and expires_at > ${at}::timestamptz
          and (user_id = ${user}::uuid and price_id = ${skip}::uuid) is not true) as held,
      (select count(*)::int from discount_reservations
        where code_id = ${code.id} and user_id = ${user}::uuid and status = 'held'
          and expires_at > ${at}::timestamptz and price_id is distinct from ${skip}::uuid) as user_held,
      (select count(*)::int from discount_redemptions
        where code_id = ${code.id} and user_id = ${user}::uuid) as user_redeemed`,
  );
  return {
    globalUsed: code.currentUses + (row?.held ?? 0),
    userUsed: user ? (row?.user_held ?? 0) + (row?.user_redeemed ?? 0) : 0,
  };
}
