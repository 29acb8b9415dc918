import { desc, sql } from 'drizzle-orm';
import { queryRows } from '../../db/client';
import type { Deps } from '../../deps';
import { jobRuns } from '../../jobs/jobs.tables';
import { paidRevenueByDay } from '../../modules/payments/payments.service';
import { subscriptionTotals } from '../../modules/subscriptions/subscriptions.service';

const DAY_MS = 86_400_000;
export const REVENUE_DAYS = 30;

export interface MoneyTotal {
  currency: string;
  amount: number;
}

export interface Overview {
  /** Monthly recurring revenue per currency, largest first (null: the report failed, see the log). */
  mrr: MoneyTotal[] | null;
  activeSubscriptions: number | null;
  /** Paid revenue per day over the last REVENUE_DAYS in the main currency (null: the report failed). */
  revenue: {
    currency: string;
    days: number[];
    amounts: number[];
    total: number;
    others: MoneyTotal[];
  } | null;
  users: number;
  events: { failed: number; pending: number };
}

/**
 * One figure of the overview from its module's report function; a failing query (logged) leaves that
 * figure unavailable instead of failing the page.
 */
async function report<T>(deps: Deps, name: string, run: () => Promise<T>): Promise<T | null> {
  try {
    return await run();
  } catch (err) {
    deps.logger.warn({ report: name, err: String(err) }, 'admin overview: report query failed');
    return null;
  }
}

const num = (v: unknown) => Number(v ?? 0);

export async function loadOverview(deps: Deps): Promise<Overview> {
  const now = deps.clock.now();
  const since = new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS - (REVENUE_DAYS - 1) * DAY_MS);

  const subscriptions = await report(deps, 'subscriptions', () => subscriptionTotals(deps.db));

  const revenue = await report(deps, 'revenue', async () => {
    const rows = await paidRevenueByDay(deps.db, since);
    const totals = new Map<string, number>();
    for (const r of rows) totals.set(r.currency, (totals.get(r.currency) ?? 0) + r.amount);
    const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]);
    const currency = ranked[0]?.[0] ?? 'usd';
    const days: number[] = [];
    const amounts: number[] = [];
    for (let d = since.getTime(); d <= now.getTime(); d += DAY_MS) {
      const day = Math.round(d / DAY_MS);
      days.push(d / 1000);
      amounts.push(
        rows.filter((r) => r.currency === currency && r.day === day).reduce((n, r) => n + r.amount, 0),
      );
    }
    return {
      currency,
      days,
      amounts,
      total: totals.get(currency) ?? 0,
      others: ranked.slice(1).map(([c, a]) => ({ currency: c, amount: a })),
    };
  });

  const [users] = await queryRows<{ n: number }>(
    deps.db,
    sql`select count(*)::int as n from users where deleted_at is null`,
  );
  const [events] = await queryRows<{ failed: number; pending: number }>(
    deps.db,
    sql`select count(*) filter (where handled_at is null and last_error is not null)::int as failed,
      count(*) filter (where handled_at is null and last_error is null)::int as pending from stripe_events`,
  );
  return {
    mrr: subscriptions?.mrr ?? null,
    activeSubscriptions: subscriptions?.active ?? null,
    revenue,
    users: num(users?.n),
    events: { failed: num(events?.failed), pending: num(events?.pending) },
  };
}

/** The latest job runs, newest first (the job runner records each in job_runs). */
export function recentJobRuns(deps: Deps, limit = 100) {
  return deps.db.select().from(jobRuns).orderBy(desc(jobRuns.startedAt)).limit(limit);
}
