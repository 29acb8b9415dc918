import { describe, expect, test } from 'vitest';
import { computeAmounts } from './amounts';
import { addInterval, nextBoundary, prorate } from './periods';
import type { LineRecord } from './types';

const utc = (s: string) => Date.parse(s) / 1000;

function line(amount: number, discountable = true): LineRecord {
  return {
    id: `il_${amount}`,
    amount,
    currency: 'usd',
    description: null,
    discountable,
    discount_amounts: [],
    metadata: {},
    period: { start: 0, end: 0 },
    price: null,
    quantity: 1,
    proration: false,
    invoice_item: null,
    subscription: null,
    subscription_item: null,
  };
}

describe('billing periods', () => {
  test('monthly periods keep the anchor day and clamp to the month end', () => {
    const jan31 = utc('2026-01-31T10:00:00Z');
    expect(addInterval(jan31, 'month', 1)).toBe(utc('2026-02-28T10:00:00Z'));
    expect(addInterval(jan31, 'month', 2)).toBe(utc('2026-03-31T10:00:00Z'));
    expect(addInterval(jan31, 'year', 1)).toBe(utc('2027-01-31T10:00:00Z'));
    expect(addInterval(utc('2024-02-29T00:00:00Z'), 'year', 1)).toBe(utc('2025-02-28T00:00:00Z'));
    expect(addInterval(jan31, 'week', 2)).toBe(jan31 + 14 * 86_400);
  });

  test('the next boundary is counted from the anchor, not from the previous (clamped) end', () => {
    const jan31 = utc('2026-01-31T00:00:00Z');
    expect(nextBoundary(jan31, 'month', 1, utc('2026-02-28T00:00:00Z'))).toBe(utc('2026-03-31T00:00:00Z'));
    expect(nextBoundary(jan31, 'month', 1, utc('2046-01-31T00:00:00Z'))).toBe(utc('2046-02-28T00:00:00Z'));
    expect(nextBoundary(jan31, 'day', 1, jan31 + 10 * 86_400 + 5)).toBe(jan31 + 11 * 86_400);
  });

  test('prorations round each line to the nearest minor unit, halves away from zero', () => {
    expect(prorate(1000, 50, 0, 100)).toBe(500);
    expect(prorate(1001, 50, 0, 100)).toBe(501); // 500.5
    expect(prorate(-1001, 50, 0, 100)).toBe(-501);
    expect(prorate(999, 0, 0, 300)).toBe(999);
    expect(prorate(1000, 100, 0, 100)).toBe(0);
  });
});

describe('discounts on invoices', () => {
  test('a percentage is rounded once and split over the discountable lines', () => {
    const lines = [line(1000), line(333), line(500, false), line(-200)];
    const r = computeAmounts(
      lines,
      [{ id: 'di_1', coupon: { percent_off: 15, amount_off: null, currency: null } }],
      'usd',
    );
    expect(r.subtotal).toBe(1633);
    expect(r.total_discount_amounts).toEqual([{ amount: 200, discount: 'di_1' }]);
    expect(r.total).toBe(1433);
    expect(lines[0].discount_amounts[0].amount + lines[1].discount_amounts[0].amount).toBe(200);
    expect(lines[2].discount_amounts).toEqual([]);
    expect(lines[3].discount_amounts).toEqual([]);
  });

  test('a fixed amount is capped at what is discountable; a second discount works on the rest', () => {
    const lines = [line(700)];
    const r = computeAmounts(
      lines,
      [
        { id: 'di_a', coupon: { percent_off: null, amount_off: 500, currency: 'usd' } },
        { id: 'di_b', coupon: { percent_off: null, amount_off: 500, currency: 'usd' } },
        { id: 'di_c', coupon: { percent_off: null, amount_off: 100, currency: 'eur' } },
      ],
      'usd',
    );
    expect(r.total_discount_amounts.map((d) => d.amount)).toEqual([500, 200, 0]);
    expect(r.total).toBe(0);
  });
});
