import { eq, sql } from 'drizzle-orm';
import type Stripe from 'stripe';
import type { Deps } from '../../deps';
import { AppError, notFound } from '../../lib/errors';
import { isUuid } from '../../lib/ids';
import { requireStripe } from '../../stripe/client';
import { getUser } from '../users/users.service';
import { intervalInMonths, maxCyclesFor, refusalOf } from './discounts.rules';
import { findCode } from './discounts.service';
import { discountCodes, discountRedemptions } from './discounts.tables';
import { priceFactsByStripeId } from './prices';
import { discountNotFound, refusal } from './reservations';
import { endSubscriptionDiscounts, startSubscriptionDiscount } from './subscription-discounts';
import { usageOf } from './usage';

type SubDeps = Pick<Deps, 'db' | 'clock' | 'stripe' | 'logger'>;

/**
 * Admin: apply a code to an existing subscription, addressed by its Stripe id (sub_...) until the
 * local subscriptions table exists. The same checks as a checkout (a subscription purchase), then
 * Stripe (`discounts: [{promotion_code}]`, which replaces what was there), then the local record under
 * the code's row lock. If another checkout took the last use in between, Stripe is put back as it was.
 */
export async function applyDiscountToSubscription(
  deps: SubDeps,
  input: { stripeSubscriptionId: string; code: string },
) {
  const stripe = requireStripe(deps);
  const code = await findCode(deps.db, input.code);
  if (!code) throw discountNotFound(input.code);
  const sub = await retrieveSubscription(stripe, input.stripeSubscriptionId);
  if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
    throw new AppError('conflict', `The subscription has ended (${sub.status})`);
  }
  const item = sub.items.data[0];
  const local = item ? await priceFactsByStripeId(deps, item.price.id) : null;
  const price = {
    id: local?.id ?? '',
    kind: 'subscription' as const,
    currency: sub.currency,
    intervalMonths: intervalInMonths(item?.price.recurring?.interval, item?.price.recurring?.interval_count),
  };
  const userId = await userOf(deps, sub);

  const check = async (db: Parameters<typeof usageOf>[0], current: typeof code) => {
    const now = deps.clock.now();
    const usage = await usageOf(db, current, userId, now);
    const reason = refusalOf(current, { now, priceId: price.id, price, usage });
    if (reason) throw refusal(current, reason);
  };
  await check(deps.db, code); // refused before any Stripe call

  const previous = sub.discounts.map((d) => ({ discount: typeof d === 'string' ? d : d.id }));
  await stripe.subscriptions.update(sub.id, { discounts: [{ promotion_code: code.stripePromotionCodeId! }] });
  try {
    return await deps.db.transaction(async (tx) => {
      const [locked] = await tx
        .select()
        .from(discountCodes)
        .where(eq(discountCodes.id, code.id))
        .for('update');
      await check(tx, locked!);
      const now = deps.clock.now();
      const [redemption] = await tx
        .insert(discountRedemptions)
        .values({
          codeId: code.id,
          userId,
          stripeSubscriptionId: sub.id,
          amountDiscounted: 0, // known per invoice; Stripe applies it from the next one
          currency: sub.currency,
          createdAt: now,
        })
        .returning();
      await tx
        .update(discountCodes)
        .set({ currentUses: sql`${discountCodes.currentUses} + 1` })
        .where(eq(discountCodes.id, code.id));
      const running = await startSubscriptionDiscount(tx, {
        stripeSubscriptionId: sub.id,
        codeId: code.id,
        maxCycles: maxCyclesFor(code, price.intervalMonths),
        redemptionId: redemption!.id,
        now,
      });
      deps.logger.info({ subscription: sub.id, code: code.code }, 'discount applied to subscription');
      return {
        stripe_subscription_id: sub.id,
        code: code.code,
        discount_id: code.id,
        redemption_id: redemption!.id,
        cycles_applied: running.cyclesApplied,
        max_cycles: running.maxCycles,
        started_at: running.createdAt.toISOString(),
      };
    });
  } catch (err) {
    await stripe.subscriptions
      .update(sub.id, { discounts: previous.length ? previous : '' })
      .catch((e) =>
        deps.logger.error({ err: e, subscription: sub.id }, 'could not restore subscription discounts'),
      );
    throw err;
  }
}

/** Admin: remove every discount from a subscription, in Stripe and in the local record. */
export async function removeDiscountFromSubscription(deps: SubDeps, stripeSubscriptionId: string) {
  const stripe = requireStripe(deps);
  const sub = await retrieveSubscription(stripe, stripeSubscriptionId);
  // The SDK sends `discounts=` (empty), Stripe's "unset".
  await stripe.subscriptions.update(sub.id, { discounts: '' });
  const ended = await endSubscriptionDiscounts(deps.db, sub.id, deps.clock.now());
  deps.logger.info({ subscription: sub.id, ended }, 'discounts removed from subscription');
  return { stripe_subscription_id: sub.id, discounts_ended: ended };
}

async function retrieveSubscription(stripe: Stripe, id: string): Promise<Stripe.Subscription> {
  try {
    return await stripe.subscriptions.retrieve(id);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) throw notFound('Subscription', { id });
    throw err;
  }
}

/** The Paywire user behind the subscription's customer (checkout sets metadata.user_id), if any. */
async function userOf(deps: SubDeps, sub: Stripe.Subscription): Promise<string | null> {
  const fromSub = sub.metadata?.user_id;
  let candidate = typeof fromSub === 'string' ? fromSub : undefined;
  if (!candidate && typeof sub.customer === 'string') {
    const customer = await deps.stripe!.customers.retrieve(sub.customer);
    if (!('deleted' in customer && customer.deleted)) candidate = customer.metadata?.user_id;
  }
  if (!candidate || !isUuid(candidate)) return null;
  return (await getUser(deps.db, candidate)) ? candidate : null;
}
