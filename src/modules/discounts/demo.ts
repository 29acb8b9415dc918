import type { Deps } from '../../deps';
import { AppError } from '../../lib/errors';
import { createDiscount } from './discounts.admin';
import type { CreateDiscountInput } from './discounts.schemas';
import { findCode, getDiscount, type PublicDiscount } from './discounts.service';

/** The demo catalog's codes: WELCOME20 = 20% off once, on anything, unlimited uses, one per user. */
export const DEMO_DISCOUNTS: CreateDiscountInput[] = [
  {
    code: 'WELCOME20',
    discount_type: 'percentage',
    discount_value: 20,
    duration: 'once',
    scope: 'both',
    max_uses: null,
    max_uses_per_user: 1,
  },
];

type SeedDeps = Pick<Deps, 'db' | 'stripe' | 'logger' | 'wallClock'> & Partial<Pick<Deps, 'clock'>>;

/**
 * Creates the demo codes that do not exist yet (idempotent: a second start creates nothing; a pending
 * one is resumed). A code an admin already created under the same name with other terms is left alone.
 */
export async function seedDemoDiscounts(deps: SeedDeps): Promise<PublicDiscount[]> {
  const full = { ...deps, clock: deps.clock ?? deps.wallClock };
  const out: PublicDiscount[] = [];
  for (const input of DEMO_DISCOUNTS) {
    const existing = await findCode(deps.db, input.code);
    if (existing) {
      out.push(await getDiscount(full, existing.id));
      continue;
    }
    try {
      out.push(await createDiscount(full, input));
      deps.logger.info({ code: input.code }, 'demo discount code seeded');
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'conflict')) throw err;
      deps.logger.warn({ code: input.code }, 'demo discount code exists with other terms; left as is');
    }
  }
  return out;
}
