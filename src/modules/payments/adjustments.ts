import { and, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import type Stripe from 'stripe';
import { type Db, queryRows, type Tx } from '../../db/client';
import type { Deps } from '../../deps';
import { clawback, restoreClawback } from '../credits/credits.lifecycle';
import type { EntitlementRow } from '../entitlements/entitlements.tables';
import { grant, revokeByReference } from '../entitlements/entitlements.service';
import { lockPayment, paidStatus, referencesOf, updatePayment } from './payments.service';
import { type PaymentRow, type RevokedGrant, paymentDisputes, paymentRefunds } from './payments.tables';

/**
 * Refunds and disputes (SPEC sections 7 and 10). Each Stripe refund and dispute is recorded once (its
 * own id is unique); its effect on grants is applied by `applyAdjustments`, which is idempotent and is
 * also run after a payment's grants are created - so a refund or dispute that arrives before the
 * payment's fulfilment still takes effect, whatever the order of events.
 */

const inTx = (deps: Deps, tx: Tx): Deps => ({ ...deps, db: tx as unknown as Db });
const LIVE_REFUND = new Set(['succeeded', 'pending', 'requires_action']);
/** Dispute statuses under which the payment's grants are withheld. */
const WITHHOLD = new Set([
  'warning_needs_response',
  'needs_response',
  'under_review',
  'warning_under_review',
  'lost',
]);
const disputeState = (status: string): 'open' | 'won' | 'lost' =>
  status === 'won' || status === 'warning_closed' ? 'won' : status === 'lost' ? 'lost' : 'open';

/** Records the charge's refunds (each once, by refund id) and moves the payment's amounts and status. */
export async function recordRefunds(
  deps: Deps,
  tx: Tx,
  payment: PaymentRow,
  refunds: Stripe.Refund[],
): Promise<PaymentRow> {
  const now = deps.clock.now();
  for (const r of refunds) {
    await tx
      .insert(paymentRefunds)
      .values({
        paymentId: payment.id,
        stripeRefundId: r.id,
        amount: r.amount,
        currency: r.currency,
        status: r.status ?? 'succeeded',
        reason: (r.metadata?.paywire_reason as string | undefined) ?? r.reason ?? null,
        createdAt: now,
      })
      .onConflictDoUpdate({
        target: paymentRefunds.stripeRefundId,
        set: { status: r.status ?? 'succeeded' },
      });
  }
  const [sum] = await tx
    .select({ n: sql<number>`coalesce(sum(${paymentRefunds.amount}), 0)`.mapWith(Number) })
    .from(paymentRefunds)
    .where(and(eq(paymentRefunds.paymentId, payment.id), inArray(paymentRefunds.status, [...LIVE_REFUND])));
  const amountRefunded = sum?.n ?? 0;
  const fresh = (await lockPayment(tx, { id: payment.id }))!;
  const next = { ...fresh, amountRefunded };
  return updatePayment(tx, payment.id, {
    amountRefunded,
    status: fresh.status === 'pending' ? 'pending' : paidStatus(next),
    updatedAt: now,
  });
}

/** Records a dispute as Stripe has it now; withholding starts the first time it is seen open or lost. */
export async function recordDispute(
  deps: Deps,
  tx: Tx,
  payment: PaymentRow,
  dispute: Stripe.Dispute,
): Promise<PaymentRow> {
  const now = deps.clock.now();
  const withhold = WITHHOLD.has(dispute.status);
  await tx
    .insert(paymentDisputes)
    .values({
      paymentId: payment.id,
      stripeDisputeId: dispute.id,
      amount: dispute.amount,
      currency: dispute.currency,
      status: dispute.status,
      reason: dispute.reason ?? null,
      revokedAt: withhold ? now : null,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoUpdate({
      target: paymentDisputes.stripeDisputeId,
      set: {
        status: dispute.status,
        updatedAt: now,
        ...(withhold
          ? { revokedAt: sql`coalesce(${paymentDisputes.revokedAt}, ${now.toISOString()}::timestamptz)` }
          : {}),
      },
    });
  const fresh = (await lockPayment(tx, { id: payment.id }))!;
  const disputeStatus = disputeState(dispute.status);
  return updatePayment(tx, payment.id, {
    disputeStatus,
    status: fresh.status === 'pending' ? 'pending' : paidStatus({ ...fresh, disputeStatus }),
    updatedAt: now,
  });
}

const snapshot = (r: EntitlementRow): RevokedGrant => ({
  id: r.id,
  type: r.type,
  grant_reason: r.grantReason,
  feature: r.feature,
  tier: r.tierKey,
  product_id: r.productId,
  subscription_id: r.subscriptionId,
  quantity_granted: r.quantityGranted,
  consumption_type: r.consumptionType,
  expires_at: r.expiresAt?.toISOString() ?? null,
  reference_id: r.referenceId,
  price_id: r.priceId,
  price_version: r.priceVersion,
  metadata: r.metadata,
});

/**
 * Brings a payment's grants in line with its refunds and disputes: every recorded refund claws credits
 * back (keyed on the refund id, so once), a full refund revokes what the payment granted, an open or lost
 * dispute revokes and claws back, and a won dispute restores exactly that (new grants, never past the
 * original expiry). Safe to run any number of times.
 */
/**
 * Whether the payment has live refunds or withheld disputes, in one round trip: most payments have
 * neither, and then the two reads below (the disputes' with a row lock) are not sent at all.
 */
async function adjustmentsOf(tx: Tx, paymentId: string): Promise<{ refunds: boolean; disputes: boolean }> {
  const live = sql.join(
    [...LIVE_REFUND].map((s) => sql`${s}`),
    sql`, `,
  );
  const [row] = await queryRows<{ refunds: boolean; disputes: boolean }>(
    tx,
    sql`select exists (select 1 from ${paymentRefunds} where ${paymentRefunds.paymentId} = ${paymentId}
          and ${paymentRefunds.status} in (${live})) as refunds,
        exists (select 1 from ${paymentDisputes} where ${paymentDisputes.paymentId} = ${paymentId}
          and ${paymentDisputes.revokedAt} is not null) as disputes`,
  );
  return row!;
}

export async function applyAdjustments(deps: Deps, tx: Tx, payment: PaymentRow): Promise<void> {
  const refs = referencesOf(payment);
  if (!refs.length) return;
  const d = inTx(deps, tx);
  const policy = deps.config.CREDIT_CLAWBACK;
  const has = await adjustmentsOf(tx, payment.id);
  const refunds = has.refunds
    ? await tx
        .select()
        .from(paymentRefunds)
        .where(
          and(eq(paymentRefunds.paymentId, payment.id), inArray(paymentRefunds.status, [...LIVE_REFUND])),
        )
    : [];
  for (const r of refunds) {
    const taken = await clawback(
      d,
      {
        refundId: r.stripeRefundId,
        referenceIds: refs,
        refunded: r.amount,
        paid: Math.max(payment.amount, r.amount, 1),
      },
      tx,
    );
    if (taken.clawed_back !== r.creditsClawedBack) {
      await tx
        .update(paymentRefunds)
        .set({ creditsClawedBack: taken.clawed_back })
        .where(eq(paymentRefunds.id, r.id));
    }
  }
  if (payment.amountRefunded > 0 && payment.amountRefunded >= payment.amount) {
    for (const ref of refs)
      await revokeByReference(d, tx, ref, 'refunded', { includeCredits: policy !== 'none' });
  }

  const disputes = has.disputes
    ? await tx
        .select()
        .from(paymentDisputes)
        .where(and(eq(paymentDisputes.paymentId, payment.id), isNotNull(paymentDisputes.revokedAt)))
        .for('update')
    : [];
  for (const dp of disputes) {
    const won = disputeState(dp.status) === 'won';
    if (!won) {
      const revoked: EntitlementRow[] = [];
      for (const ref of refs) revoked.push(...(await revokeByReference(d, tx, ref, 'disputed')));
      await clawback(d, { refundId: dp.stripeDisputeId, referenceIds: refs }, tx);
      if (revoked.length) {
        await tx
          .update(paymentDisputes)
          .set({ revokedGrants: [...dp.revokedGrants, ...revoked.map(snapshot)] })
          .where(eq(paymentDisputes.id, dp.id));
      }
    } else if (!dp.restoredAt) {
      await restoreDisputed(deps, tx, dp.stripeDisputeId, dp.revokedGrants, payment);
      await tx
        .update(paymentDisputes)
        .set({ restoredAt: deps.clock.now() })
        .where(and(eq(paymentDisputes.id, dp.id), isNull(paymentDisputes.restoredAt)));
    }
  }
}

async function restoreDisputed(
  deps: Deps,
  tx: Tx,
  disputeId: string,
  grants: RevokedGrant[],
  payment: PaymentRow,
) {
  const d = inTx(deps, tx);
  const now = deps.clock.now();
  await restoreClawback(d, { disputeId }, tx);
  for (const g of grants) {
    const expiresAt = g.expires_at ? new Date(g.expires_at) : null;
    if (expiresAt && expiresAt.getTime() <= now.getTime()) continue; // it would have ended by now
    await grant(d, tx, {
      userId: payment.userId,
      type: g.type,
      grantReason: g.grant_reason,
      feature: g.feature,
      tier: g.tier,
      productId: g.product_id,
      subscriptionId: g.subscription_id,
      quantityGranted: g.quantity_granted,
      consumptionType: g.consumption_type,
      expiresAt,
      referenceId: g.reference_id,
      paymentId: payment.id,
      priceId: g.price_id,
      priceVersion: g.price_version,
      notes: 'Restored: dispute won',
      metadata: { ...g.metadata, restored_from: g.id, dispute_id: disputeId },
      source: { key: `dispute_restore:${disputeId}:${g.id}` },
    });
  }
}
