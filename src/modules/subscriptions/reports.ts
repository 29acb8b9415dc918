import { sql } from 'drizzle-orm';
import { type Queryable, queryRows } from '../../db/client';

export interface SubscriptionTotals {
  /** Monthly recurring revenue per currency, largest first, in minor units. */
  mrr: { currency: string; amount: number }[];
  /** Active, trialing and past-due subscriptions. */
  active: number;
}

/** Monthly amount of a price: yearly / 12, weekly * 52 / 12, daily * 365 / 12; per interval count. */
const monthlySql = sql`case p.billing_interval
  when 'month' then p.unit_amount::numeric
  when 'year' then p.unit_amount::numeric / 12
  when 'week' then p.unit_amount::numeric * 52 / 12
  when 'day' then p.unit_amount::numeric * 365 / 12
  else 0 end / greatest(coalesce(p.billing_interval_count, 1), 1)`;

/**
 * MRR and the number of live subscriptions, for the admin overview. Trials pay nothing yet: they count
 * as live subscriptions but not towards MRR; past-due ones count for both until they end.
 */
export async function subscriptionTotals(q: Queryable): Promise<SubscriptionTotals> {
  const mrr = await queryRows<{ currency: string; amount: string }>(
    q,
    sql`select p.currency, round(sum(${monthlySql} * greatest(coalesce(s.quantity, 1), 1)))::bigint as amount
      from subscriptions s join prices p on p.id = s.price_id
      where s.status in ('active', 'past_due') group by p.currency order by 2 desc`,
  );
  const [active] = await queryRows<{ n: number }>(
    q,
    sql`select count(*)::int as n from subscriptions where status in ('active', 'trialing', 'past_due')`,
  );
  return {
    mrr: mrr.map((r) => ({ currency: r.currency, amount: Number(r.amount) })),
    active: Number(active?.n ?? 0),
  };
}
