import type { LineRecord } from './types';

/** The coupon fields that matter for money (the coupon object itself is owned by the core emulator). */
export interface CouponTerms {
  percent_off: number | null;
  amount_off: number | null;
  currency: string | null;
}

export interface AppliedDiscount {
  id: string;
  coupon: CouponTerms;
}

export interface InvoiceAmounts {
  subtotal: number;
  total: number;
  total_discount_amounts: { amount: number; discount: string }[];
}

/**
 * Applies discounts in order to the discountable lines (each discount works on what the previous
 * ones left). A percentage is rounded once on the invoice level, then spread over the lines in
 * proportion with the remainder on the last line, so line discounts always add up to the total.
 * Credits (negative lines) are never discounted.
 */
export function computeAmounts(
  lines: LineRecord[],
  discounts: AppliedDiscount[],
  currency: string,
): InvoiceAmounts {
  for (const l of lines) l.discount_amounts = [];
  const subtotal = lines.reduce((s, l) => s + l.amount, 0);
  const remaining = new Map<LineRecord, number>();
  for (const l of lines) if (l.discountable && l.amount > 0) remaining.set(l, l.amount);
  const totals: { amount: number; discount: string }[] = [];
  for (const d of discounts) {
    const base = [...remaining.values()].reduce((s, v) => s + v, 0);
    let amount = 0;
    if (d.coupon.percent_off !== null) amount = Math.round((base * d.coupon.percent_off) / 100);
    else if (d.coupon.amount_off !== null && (d.coupon.currency ?? currency) === currency) {
      amount = Math.min(d.coupon.amount_off, base);
    }
    totals.push({ amount, discount: d.id });
    spread(remaining, amount, base, d.id);
  }
  const discountTotal = totals.reduce((s, t) => s + t.amount, 0);
  return { subtotal, total: subtotal - discountTotal, total_discount_amounts: totals };
}

function spread(remaining: Map<LineRecord, number>, amount: number, base: number, discount: string): void {
  const entries = [...remaining.entries()];
  let left = amount;
  entries.forEach(([line, value], i) => {
    const share = i === entries.length - 1 ? left : base > 0 ? Math.round((amount * value) / base) : 0;
    const capped = Math.min(share, value, left);
    left -= capped;
    remaining.set(line, value - capped);
    line.discount_amounts.push({ amount: capped, discount });
  });
}
