import { eq } from 'drizzle-orm';
import type { Deps } from '../../deps';
import { type SubscriptionRow, subscriptions } from './subscriptions.tables';

/** Local bookkeeping that is not Stripe state (a scheduled change, a trial notice). */
export async function updateSubscriptionRow(
  deps: Pick<Deps, 'db' | 'clock'>,
  id: string,
  values: Partial<
    Pick<SubscriptionRow, 'scheduledPriceId' | 'scheduledChangeAt' | 'stripeScheduleId' | 'trialWillEndAt'>
  >,
): Promise<SubscriptionRow> {
  const [row] = await deps.db
    .update(subscriptions)
    .set({ ...values, updatedAt: deps.clock.now() })
    .where(eq(subscriptions.id, id))
    .returning();
  return row!;
}
