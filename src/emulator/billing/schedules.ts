import type { EmulatorContext } from '../context';
import { invalidParam, missingParam, stripeError } from '../errors';
import { type Params, applyMetadata, optArray, optEnum, optInt, optObject, optString } from '../wire';
import { cancelSubscription } from './lifecycle';
import { addInterval } from './periods';
import {
  emitAt,
  getSub,
  nowForCustomer,
  nowOn,
  priceInterval,
  renderSchedule,
  requireSchedule,
  requireSub,
  saveSchedule,
  updateSub,
} from './state';
import { applyItemChange, type ProrationBehavior } from './sub-changes';
import { createSubscription } from './subscriptions';
import type { Metadata, PhaseRecord, ScheduleRecord, SubscriptionRecord } from './types';

const BEHAVIORS = ['create_prorations', 'none', 'always_invoice'] as const;

function readTime(p: Params, name: string, now: number): number | undefined {
  const v = optString(p, name);
  if (v === undefined || v === null) return undefined;
  if (v === 'now') return now;
  const n = Number(v);
  if (!Number.isInteger(n)) throw invalidParam(name, `Invalid timestamp: ${v}`, 'parameter_invalid_integer');
  return n;
}

/** A phase without `end_date` lasts `duration` (current API), `iterations` (older), or one interval. */
function phaseEnd(ctx: EmulatorContext, p: Params, start: number, price: string): number {
  const duration = optObject(p, 'duration');
  if (duration) {
    const interval = optEnum(duration, 'interval', ['day', 'week', 'month', 'year'] as const) ?? 'month';
    return addInterval(start, interval, optInt(duration, 'interval_count') ?? 1);
  }
  const { interval, count } = priceInterval(ctx, price);
  return addInterval(start, interval, count * (optInt(p, 'iterations') ?? 1));
}

/** Phases as sent (`items`, `start_date`, `end_date` or `iterations`) -> consecutive stored phases. */
function readPhases(ctx: EmulatorContext, raw: unknown[], start: number, now: number): PhaseRecord[] {
  const phases: PhaseRecord[] = [];
  let cursor = start;
  raw.forEach((r, n) => {
    const p = (r ?? {}) as Params;
    const items = (optArray(p, 'items') ?? []).map((x, k) => {
      const it = (x ?? {}) as Params;
      const price = optString(it, 'price') ?? optString(it, 'plan');
      if (!price) throw missingParam(`phases[${n}][items][${k}][price]`);
      ctx.store.require('prices', price, 'price', `phases[${n}][items][${k}][price]`);
      return { price, quantity: optInt(it, 'quantity') ?? 1, metadata: (it.metadata ?? {}) as Metadata };
    });
    if (!items.length) throw missingParam(`phases[${n}][items]`);
    const phaseStart = n === 0 ? (readTime(p, 'start_date', now) ?? cursor) : cursor;
    const end = readTime(p, 'end_date', now) ?? phaseEnd(ctx, p, phaseStart, items[0].price);
    if (end <= phaseStart) throw invalidParam(`phases[${n}][end_date]`, 'A phase must end after it starts.');
    phases.push({
      start_date: phaseStart,
      end_date: end,
      items,
      proration_behavior: optEnum(p, 'proration_behavior', BEHAVIORS) ?? 'create_prorations',
      metadata: (p.metadata ?? {}) as Metadata,
    });
    cursor = end;
  });
  return phases;
}

function newSchedule(
  ctx: EmulatorContext,
  customer: string,
  now: number,
  sub: SubscriptionRecord | null,
): ScheduleRecord {
  return {
    id: ctx.store.newId('sub_sched'),
    customer,
    subscription: sub?.id ?? null,
    created: now,
    status: 'active',
    end_behavior: 'release',
    phases: [],
    metadata: {},
    canceled_at: null,
    completed_at: null,
    released_at: null,
    released_subscription: null,
    test_clock: sub?.test_clock ?? null,
  };
}

export function createSchedule(ctx: EmulatorContext, p: Params) {
  const fromSub = optString(p, 'from_subscription');
  if (fromSub) {
    const sub = requireSub(ctx, fromSub, 'from_subscription');
    if (sub.schedule)
      throw invalidParam(
        'from_subscription',
        `The subscription is already attached to a schedule: ${sub.schedule}.`,
      );
    if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
      throw invalidParam('from_subscription', 'A canceled subscription cannot be scheduled.');
    }
    const now = nowOn(ctx, sub.test_clock);
    const s = newSchedule(ctx, sub.customer, now, sub);
    const first = sub.items[0];
    s.phases = [
      {
        start_date: first.current_period_start,
        end_date: first.current_period_end,
        items: sub.items.map((i) => ({ price: i.price, quantity: i.quantity, metadata: {} })),
        proration_behavior: 'create_prorations',
        metadata: {},
      },
    ];
    s.metadata = applyMetadata({}, p);
    saveSchedule(ctx, s);
    updateSub(ctx, sub, () => (sub.schedule = s.id));
    emitAt(ctx, 'subscription_schedule.created', renderSchedule(ctx, s), s.test_clock);
    return renderSchedule(ctx, s);
  }
  const customer = optString(p, 'customer');
  if (!customer) throw missingParam('customer');
  ctx.store.require('customers', customer, 'customer', 'customer');
  const now = nowForCustomer(ctx, customer);
  const start = readTime(p, 'start_date', now) ?? now;
  if (start > now)
    throw invalidParam('start_date', 'The emulator only starts schedules now (start_date: now).');
  const phases = readPhases(ctx, optArray(p, 'phases') ?? [], start, now);
  if (!phases.length) throw missingParam('phases');
  const created = createSubscription(ctx, {
    customer,
    items: phases[0].items,
    default_payment_method: optString((p.default_settings ?? {}) as Params, 'default_payment_method') ?? null,
    metadata: {},
    description: null,
    trial_end: null,
    trial_missing_pm: 'create_invoice',
    discounts: [],
    payment_behavior: 'allow_incomplete',
    cancel_at_period_end: false,
    cancel_at: null,
    collection_method: 'charge_automatically',
    days_until_due: null,
    offSession: true,
  });
  const s = newSchedule(ctx, customer, now, created.sub);
  s.phases = phases;
  s.end_behavior = optEnum(p, 'end_behavior', ['release', 'cancel'] as const) ?? 'release';
  s.metadata = applyMetadata({}, p);
  saveSchedule(ctx, s);
  updateSub(ctx, created.sub, () => (created.sub.schedule = s.id));
  emitAt(ctx, 'subscription_schedule.created', renderSchedule(ctx, s), s.test_clock);
  return renderSchedule(ctx, s);
}

function requireActive(s: ScheduleRecord): void {
  if (s.status !== 'active' && s.status !== 'not_started') {
    throw stripeError(400, {
      code: 'subscription_schedule_not_active',
      message: `You cannot update a subscription schedule that is ${s.status}.`,
    });
  }
}

export function updateSchedule(ctx: EmulatorContext, id: string, p: Params) {
  const s = requireSchedule(ctx, id);
  requireActive(s);
  const now = nowOn(ctx, s.test_clock);
  const before = renderSchedule(ctx, s);
  const raw = optArray(p, 'phases');
  if (raw) {
    const start = s.phases[0]?.start_date ?? now;
    s.phases = readPhases(ctx, raw, start, now);
  }
  s.end_behavior = optEnum(p, 'end_behavior', ['release', 'cancel'] as const) ?? s.end_behavior;
  s.metadata = applyMetadata(s.metadata, p);
  saveSchedule(ctx, s);
  const sub = s.subscription ? getSub(ctx, s.subscription) : undefined;
  const current = s.phases.find((ph) => ph.start_date <= now && now < ph.end_date);
  // A changed current phase takes effect now, with that phase's proration behaviour.
  if (sub && current) applyPhase(ctx, sub, current, optEnum(p, 'proration_behavior', BEHAVIORS));
  const after = renderSchedule(ctx, s);
  const prev: Record<string, unknown> = {};
  for (const k of Object.keys(after) as (keyof typeof after)[]) {
    if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) prev[k] = before[k];
  }
  emitAt(ctx, 'subscription_schedule.updated', after, s.test_clock, prev);
  return after;
}

function applyPhase(
  ctx: EmulatorContext,
  sub: SubscriptionRecord,
  phase: PhaseRecord,
  behavior?: ProrationBehavior,
) {
  const same =
    phase.items.length === sub.items.length &&
    phase.items.every((it, i) => sub.items[i].price === it.price && sub.items[i].quantity === it.quantity);
  if (same) return;
  const desired = phase.items.map((it, i) => ({
    id: sub.items[i]?.id ?? null,
    price: it.price,
    quantity: it.quantity,
    metadata: it.metadata,
  }));
  applyItemChange(ctx, sub, desired, {
    behavior: behavior ?? phase.proration_behavior,
    prorationDate: null,
    paymentBehavior: 'allow_incomplete',
  });
}

export function releaseSchedule(ctx: EmulatorContext, id: string) {
  const s = requireSchedule(ctx, id);
  requireActive(s);
  release(ctx, s, nowOn(ctx, s.test_clock));
  return renderSchedule(ctx, s);
}

function release(ctx: EmulatorContext, s: ScheduleRecord, at: number): void {
  const sub = s.subscription ? getSub(ctx, s.subscription) : undefined;
  s.status = 'released';
  s.released_at = at;
  s.released_subscription = s.subscription;
  s.subscription = null;
  saveSchedule(ctx, s);
  if (sub) updateSub(ctx, sub, () => (sub.schedule = null));
  emitAt(ctx, 'subscription_schedule.released', renderSchedule(ctx, s), s.test_clock);
}

export function cancelSchedule(ctx: EmulatorContext, id: string, p: Params) {
  const s = requireSchedule(ctx, id);
  requireActive(s);
  const at = nowOn(ctx, s.test_clock);
  const sub = s.subscription ? getSub(ctx, s.subscription) : undefined;
  s.status = 'canceled';
  s.canceled_at = at;
  saveSchedule(ctx, s);
  emitAt(ctx, 'subscription_schedule.canceled', renderSchedule(ctx, s), s.test_clock);
  if (sub && sub.status !== 'canceled') {
    cancelSubscription(ctx, sub, at, {
      reason: 'cancellation_requested',
      invoiceNow: p.invoice_now === 'true',
      prorate: p.prorate !== 'false',
    });
  }
  return renderSchedule(ctx, s);
}

/** When the running phase of an active schedule ends (for the advance engine). */
export function scheduleDueAt(s: ScheduleRecord, now: number): number | null {
  if (s.status !== 'active' || !s.phases.length) return null;
  const current = s.phases.find((ph) => ph.start_date <= now && now < ph.end_date);
  if (current) return current.end_date;
  const last = s.phases[s.phases.length - 1];
  return last.end_date <= now ? last.end_date : s.phases[0].start_date;
}

/** A phase boundary: the next phase's items take effect, or the schedule ends per `end_behavior`. */
export function runScheduleBoundary(ctx: EmulatorContext, s: ScheduleRecord, at: number): void {
  const sub = s.subscription ? getSub(ctx, s.subscription) : undefined;
  const next = s.phases.find((ph) => ph.start_date <= at && at < ph.end_date);
  if (next && sub && sub.status !== 'canceled') {
    applyPhase(ctx, sub, next);
    emitAt(ctx, 'subscription_schedule.updated', saveSchedule(ctx, s), s.test_clock);
    return;
  }
  if (s.end_behavior === 'cancel' && sub && sub.status !== 'canceled') {
    s.status = 'completed';
    s.completed_at = at;
    saveSchedule(ctx, s);
    emitAt(ctx, 'subscription_schedule.completed', renderSchedule(ctx, s), s.test_clock);
    cancelSubscription(ctx, sub, at, { reason: 'cancellation_requested' });
    return;
  }
  release(ctx, s, at);
}
