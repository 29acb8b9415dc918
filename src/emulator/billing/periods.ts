import type { Interval } from './types';

const DAY = 86_400;

/**
 * `count` intervals after `anchor`, in UTC. Months keep the anchor's day of month and clamp to the
 * month's last day (an anchor on Jan 31 bills Feb 28, then Mar 31), as Stripe's billing cycle does.
 */
export function addInterval(anchor: number, interval: Interval, count: number): number {
  if (interval === 'day') return anchor + count * DAY;
  if (interval === 'week') return anchor + count * 7 * DAY;
  const d = new Date(anchor * 1000);
  const months = d.getUTCMonth() + (interval === 'year' ? 12 * count : count);
  const year = d.getUTCFullYear() + Math.floor(months / 12);
  const month = ((months % 12) + 12) % 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(d.getUTCDate(), lastDay);
  return Date.UTC(year, month, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()) / 1000;
}

/** The first billing boundary (anchor + k periods, k >= 1) strictly after `after`. */
export function nextBoundary(anchor: number, interval: Interval, count: number, after: number): number {
  // Jump close first so long-running daily subscriptions do not loop through every period; the
  // longest possible interval length keeps the jump from overshooting.
  const longest = interval === 'month' ? 31 * DAY : interval === 'year' ? 366 * DAY : approxSeconds(interval);
  const approx = Math.max(1, Math.floor((after - anchor) / (longest * count)));
  for (let k = approx; ; k++) {
    const t = addInterval(anchor, interval, count * k);
    if (t > after) return t;
  }
}

/** Rough interval length, used for jumping ahead and for comparing intervals. */
export function approxSeconds(interval: Interval): number {
  switch (interval) {
    case 'day':
      return DAY;
    case 'week':
      return 7 * DAY;
    case 'month':
      return 30 * DAY;
    default:
      return 365 * DAY;
  }
}

/**
 * Prorated share of `amount` for the part of [start, end) from `from` on. Stripe rounds every
 * proration line on its own to the nearest minor unit; halves round away from zero.
 */
export function prorate(amount: number, from: number, start: number, end: number): number {
  const total = end - start;
  const remaining = Math.min(end - from, total);
  if (total <= 0 || remaining <= 0) return 0;
  const exact = (amount * remaining) / total;
  return Math.sign(exact) * Math.round(Math.abs(exact));
}

export const SECONDS_PER_DAY = DAY;
