import type { Deps } from '../../deps';
import { getBalances, listTransactions, type TransactionView } from '../../modules/credits/credits.queries';
import { summary } from '../../modules/entitlements/entitlements.service';
import { loadOffers } from './offers';

const DAY_MS = 86_400_000;
/** How far back the usage chart reaches, and the least it shows (a one-day chart says little). */
export const CHART_DAYS = 60;
const CHART_MIN_DAYS = 14;
/** Ledger rows read for the chart and the activity table. */
const LEDGER_ROWS = 1000;

export interface UsageChart {
  creditType: string;
  /** Day starts (Unix seconds, UTC). */
  days: number[];
  /** Balance at the end of each day. */
  balance: number[];
  /** Credits spent that day. */
  used: number[];
}

/**
 * Balance and daily use per credit type from the ledger (oldest to newest), over the days since the
 * first movement (at most CHART_DAYS), up to today in business time.
 */
export function usageCharts(rows: TransactionView[], now: Date): UsageChart[] {
  const byType = new Map<string, TransactionView[]>();
  for (const r of [...rows].reverse()) byType.set(r.credit_type, [...(byType.get(r.credit_type) ?? []), r]);
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  const charts: UsageChart[] = [];
  for (const [creditType, list] of byType) {
    const first = Math.floor(new Date(list[0]!.created_at).getTime() / DAY_MS) * DAY_MS;
    const start = Math.min(
      Math.max(first, today - (CHART_DAYS - 1) * DAY_MS),
      today - (CHART_MIN_DAYS - 1) * DAY_MS,
    );
    const days: number[] = [];
    const balance: number[] = [];
    const used: number[] = [];
    let i = 0;
    let last = 0;
    for (let day = start; day <= today; day += DAY_MS) {
      let spent = 0;
      while (i < list.length && new Date(list[i]!.created_at).getTime() < day + DAY_MS) {
        const r = list[i]!;
        last = r.balance_after;
        if (r.type === 'usage' && new Date(r.created_at).getTime() >= day) spent += -r.amount;
        i++;
      }
      days.push(day / 1000);
      balance.push(last);
      used.push(spent);
    }
    charts.push({ creditType, days, balance, used });
  }
  return charts.sort((a, b) => a.creditType.localeCompare(b.creditType));
}

/** Everything the account billing page renders on the server, read through the services. */
export async function loadAccount(deps: Deps, userId: string) {
  const [plan, balances, ledger, offers] = await Promise.all([
    summary(deps, userId),
    getBalances(deps, userId),
    listTransactions(deps, { userId, limit: LEDGER_ROWS }),
    loadOffers(deps.db),
  ]);
  const tier = offers.tiers.find((t) => t.key === plan.tier) ?? null;
  return {
    plan,
    tierName: tier?.name ?? (plan.tier === 'free' ? 'Free' : plan.tier),
    balances,
    recent: ledger.data.slice(0, 15),
    charts: usageCharts(ledger.data, deps.clock.now()),
    offers,
  };
}

export type AccountView = Awaited<ReturnType<typeof loadAccount>>;
