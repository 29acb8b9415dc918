import { formatMoney } from '../lib/money';

/** Formatting for people (server side; the browser scripts have the same rules in app.js). */

export const money = (amount: number | null | undefined, currency: string | null | undefined): string =>
  amount === null || amount === undefined || !currency ? '—' : formatMoney(amount, currency);

export const count = (n: number | null | undefined): string =>
  n === null || n === undefined ? '—' : new Intl.NumberFormat('en-US').format(n);

const dateFmt = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  timeZone: 'UTC',
});
const dateTimeFmt = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  timeZone: 'UTC',
});

const toDate = (v: Date | string | null | undefined): Date | null => {
  if (!v) return null;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
};

export const date = (v: Date | string | null | undefined): string => {
  const d = toDate(v);
  return d ? dateFmt.format(d) : '—';
};

export const dateTime = (v: Date | string | null | undefined): string => {
  const d = toDate(v);
  return d ? `${dateTimeFmt.format(d)} UTC` : '—';
};

/** "/ month", "/ 3 months", "once". */
export function intervalLabel(interval: string | null | undefined, intervalCount?: number | null): string {
  if (!interval) return 'once';
  const n = intervalCount ?? 1;
  return n === 1 ? `/ ${interval}` : `/ ${n} ${interval}s`;
}

/** "ai_tokens" -> "AI tokens"; any other identifier -> words. */
export const creditTypeLabel = (type: string): string => featureLabel(type);

const ACRONYMS = new Set(['ai', 'api', 'sso', 'id', 'url', 'csv', 'pdf', 'sla']);

/** "advanced_analytics" -> "Advanced analytics", "api_access" -> "API access". */
export const featureLabel = (key: string): string =>
  key
    .split(/[_.:-]+/)
    .filter(Boolean)
    .map((w) => (ACRONYMS.has(w.toLowerCase()) ? w.toUpperCase() : w))
    .join(' ')
    .replace(/^./, (c) => c.toUpperCase());
