import { sql } from 'drizzle-orm';
import { type Queryable, queryRows } from '../../db/client';

export interface DayAmount {
  currency: string;
  /** Whole days since the epoch (UTC). */
  day: number;
  /** Paid, net of refunds, in minor units. */
  amount: number;
}

/**
 * Money received per currency and UTC day since `since` (by the payment's paid time, else its creation):
 * payments that were paid - succeeded, refunded in part or whole, disputed - net of what was refunded.
 * For the admin overview's revenue chart.
 */
export async function paidRevenueByDay(q: Queryable, since: Date): Promise<DayAmount[]> {
  // Days as whole numbers since the epoch: no driver-specific date parsing.
  const rows = await queryRows<{ currency: string; day: number; amount: string }>(
    q,
    sql`select currency, floor(extract(epoch from coalesce(paid_at, created_at)) / 86400)::int as day,
        sum(amount - coalesce(amount_refunded, 0))::bigint as amount
      from payments
      where status in ('succeeded', 'partially_refunded', 'refunded', 'disputed')
        and coalesce(paid_at, created_at) >= ${since.toISOString()}::timestamptz
      group by 1, 2 order by 2`,
  );
  return rows.map((r) => ({ currency: r.currency, day: Number(r.day), amount: Number(r.amount) }));
}
