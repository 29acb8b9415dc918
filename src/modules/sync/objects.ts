import type Stripe from 'stripe';
import type { Deps } from '../../deps';
import { isUuid } from '../../lib/ids';
import { listAll, requireStripe, STRIPE_API_VERSION } from '../../stripe/client';
import { handlersFor } from '../../webhooks/dispatch';
import { transact } from '../entitlements/entitlements.service';
import {
  getPaymentByInvoice,
  getPaymentByPaymentIntent,
  getPaymentBySession,
  isPaid,
  stalePendingCheckouts,
} from '../payments/payments.service';
import { getSubscriptionByStripeId } from '../subscriptions/subscriptions.service';
import {
  findUserByEmail,
  findUserByStripeCustomer,
  getUserIn,
  setStripeCustomerIfUnset,
} from '../users/users.service';
import { type ObjectCounts, type Progress, type SyncFailure, type SyncPhase, zeroCounts } from './sync.types';

/**
 * Object re-reads: Stripe state that has no event in the listed range (older than the events Stripe
 * keeps, or from before the first sync) is applied through the same webhook handlers, as a synthetic
 * event naming the object. Handlers re-read the object in `prepare` and are idempotent, so applying
 * one to state that is already right changes nothing. Objects already consistent locally are skipped
 * without calling a handler.
 */

type Fingerprint = string | null;
// Bookkeeping columns that move on every re-read without the state changing.
const VOLATILE = new Set(['updatedAt', 'stripeSyncedAt']);
const fingerprint = (row: object | undefined | null): Fingerprint =>
  row ? JSON.stringify(Object.entries(row).filter(([k]) => !VOLATILE.has(k))) : null;

interface Phase<T extends { id: string }> {
  phase: SyncPhase;
  items: T[];
  /** Local state the object maps to, before and after (null: none); undefined = skip the object. */
  read(item: T): Promise<Fingerprint>;
  /** Whether the object needs applying given the local state; default always. */
  needed?(item: T, before: Fingerprint): boolean | Promise<boolean>;
  apply(item: T): Promise<void>;
}

async function runPhase<T extends { id: string }>(
  p: Phase<T>,
  failures: SyncFailure[],
  onProgress?: Progress,
): Promise<ObjectCounts> {
  const counts = zeroCounts();
  onProgress?.(p.phase, 0, p.items.length);
  for (const item of p.items) {
    counts.seen++;
    try {
      const before = await p.read(item);
      if (p.needed && !(await p.needed(item, before))) counts.unchanged++;
      else {
        await p.apply(item);
        const after = await p.read(item);
        if (after === null) counts.skipped++;
        else if (after !== before) counts.changed++;
        else counts.unchanged++;
      }
    } catch (err) {
      counts.failed++;
      failures.push({
        object: p.phase,
        id: item.id,
        error: err instanceof Error ? err.message : String(err),
      });
    }
    onProgress?.(p.phase, counts.seen, p.items.length);
  }
  return counts;
}

/** Runs a webhook handler for `object` as if Stripe had sent `type` for it (outside the inbox). */
export async function applySynthetic(deps: Deps, type: string, object: { id: string; livemode?: boolean }) {
  const handler = handlersFor(deps)[type];
  if (!handler) return;
  const event = {
    // Recorded as the source of what the handler grants: says "from sync" in the ledger.
    id: `sync_${object.id}`,
    object: 'event',
    type,
    api_version: STRIPE_API_VERSION,
    created: Math.floor(deps.clock.now().getTime() / 1000),
    livemode: !!object.livemode,
    pending_webhooks: 0,
    request: { id: null, idempotency_key: null },
    data: { object },
  } as unknown as Stripe.Event;
  const work = async () => {
    const prepared = handler.prepare ? await handler.prepare(event, deps) : undefined;
    await transact(deps, (tx) => handler.apply(tx, event, prepared, deps));
  };
  await (deps.lifecycle ? deps.lifecycle.trackEvent(work) : work());
}

/** Links Stripe customers to users: by the link itself, else metadata.user_id, else the email. */
export async function syncCustomers(deps: Deps, failures: SyncFailure[], onProgress?: Progress) {
  const customers = (await listAll(requireStripe(deps).customers.list({ limit: 100 }))).filter(
    (c) => !(c as { deleted?: boolean }).deleted,
  );
  const linkedUser = async (c: Stripe.Customer) =>
    (await findUserByStripeCustomer(deps.db, c.id))?.id ?? null;
  return runPhase(
    {
      phase: 'customers',
      items: customers,
      read: linkedUser,
      needed: (_c, before) => before === null,
      async apply(c) {
        const metaUser = c.metadata?.user_id;
        const user =
          (metaUser && isUuid(metaUser) ? await getUserIn(deps.db, metaUser) : undefined) ??
          (c.email ? await findUserByEmail(deps.db, c.email) : undefined);
        // A user already linked to another customer keeps it (checkout created that one).
        if (user && !user.stripeCustomerId) await setStripeCustomerIfUnset(deps.db, user.id, c.id);
      },
    },
    failures,
    onProgress,
  );
}

export async function syncSubscriptions(deps: Deps, failures: SyncFailure[], onProgress?: Progress) {
  const subs = await listAll(requireStripe(deps).subscriptions.list({ status: 'all', limit: 100 }));
  return runPhase(
    {
      phase: 'subscriptions',
      items: subs,
      read: async (s) => fingerprint(await getSubscriptionByStripeId(deps.db, s.id)),
      apply: (s) => applySynthetic(deps, 'customer.subscription.updated', s),
    },
    failures,
    onProgress,
  );
}

/** Local checkouts still pending: fulfilled if their session completed, closed if it expired. */
export async function syncCheckouts(deps: Deps, failures: SyncFailure[], onProgress?: Progress) {
  const stripe = requireStripe(deps);
  const horizon = new Date(deps.clock.now().getTime() + 7 * 86_400_000);
  const pending = await stalePendingCheckouts(deps.db, horizon, 10_000);
  const sessions: Array<{ id: string; session: Stripe.Checkout.Session | null }> = [];
  for (const p of pending) {
    const session = await stripe.checkout.sessions.retrieve(p.stripeCheckoutSessionId!).catch(() => null);
    sessions.push({ id: p.stripeCheckoutSessionId!, session });
  }
  return runPhase(
    {
      phase: 'checkouts',
      items: sessions,
      read: async (s) => fingerprint(await getPaymentBySession(deps.db, s.id)),
      needed: (s) => s.session?.status === 'complete' || s.session?.status === 'expired',
      apply: (s) =>
        applySynthetic(
          deps,
          s.session!.status === 'complete' ? 'checkout.session.completed' : 'checkout.session.expired',
          s.session!,
        ),
    },
    failures,
    onProgress,
  );
}

/** Paid invoices without a paid local payment are applied as invoice.paid; failed renewals likewise. */
export async function syncInvoices(deps: Deps, failures: SyncFailure[], onProgress?: Progress) {
  const invoices = await listAll(requireStripe(deps).invoices.list({ limit: 100 }));
  return runPhase(
    {
      phase: 'invoices',
      items: invoices as Array<Stripe.Invoice & { id: string }>,
      read: async (inv) => fingerprint(await getPaymentByInvoice(deps.db, inv.id)),
      async needed(inv) {
        const local = await getPaymentByInvoice(deps.db, inv.id);
        if (inv.status === 'paid') return !local || !isPaid(local);
        return inv.status === 'open' && (inv.attempt_count ?? 0) > 0 && !local;
      },
      apply: (inv) =>
        applySynthetic(deps, inv.status === 'paid' ? 'invoice.paid' : 'invoice.payment_failed', inv),
    },
    failures,
    onProgress,
  );
}

/** Refunded charges whose refunds are not all recorded locally. */
export async function syncCharges(deps: Deps, failures: SyncFailure[], onProgress?: Progress) {
  const charges = (await listAll(requireStripe(deps).charges.list({ limit: 100 }))).filter(
    (c) => c.amount_refunded > 0,
  );
  const local = (c: Stripe.Charge) => {
    const pi = typeof c.payment_intent === 'string' ? c.payment_intent : c.payment_intent?.id;
    return pi ? getPaymentByPaymentIntent(deps.db, pi) : Promise.resolve(undefined);
  };
  return runPhase(
    {
      phase: 'charges',
      items: charges,
      read: async (c) => fingerprint(await local(c)),
      needed: async (c) => (await local(c))?.amountRefunded !== c.amount_refunded,
      apply: (c) => applySynthetic(deps, 'charge.refunded', c),
    },
    failures,
    onProgress,
  );
}

/** Every dispute, applied as it stands (open withholds the payment's grants, won restores them). */
export async function syncDisputes(deps: Deps, failures: SyncFailure[], onProgress?: Progress) {
  const disputes = await listAll(requireStripe(deps).disputes.list({ limit: 100 }));
  const local = (d: Stripe.Dispute) => {
    const pi = typeof d.payment_intent === 'string' ? d.payment_intent : d.payment_intent?.id;
    return pi ? getPaymentByPaymentIntent(deps.db, pi) : Promise.resolve(undefined);
  };
  return runPhase(
    {
      phase: 'disputes',
      items: disputes,
      read: async (d) => fingerprint(await local(d)),
      apply: (d) => applySynthetic(deps, 'charge.dispute.updated', d),
    },
    failures,
    onProgress,
  );
}
