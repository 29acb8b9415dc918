import type { EmulatorContext } from '../context';
import {
  cancelSubscription,
  collectInvoice,
  endTrial,
  expireIncomplete,
  renew,
  trialWillEnd,
} from './lifecycle';
import { createPreview } from './preview';
import { SECONDS_PER_DAY } from './periods';
import { runScheduleBoundary, scheduleDueAt } from './schedules';
import { allInvoices, allSchedules, allSubs, emitAt, nowOn, saveSub, settings } from './state';
import type { SubscriptionRecord } from './types';

/**
 * The advance engine: everything due on one clock (a test clock, or `null` for the emulator-wide
 * clock), run one task at a time in time order. Ties keep Stripe's order: schedule phase changes,
 * then trial notices, cancellations, trial ends, renewals, incomplete expiry, payment retries.
 */
interface Task {
  at: number;
  rank: number;
  run: (at: number) => void;
}

function tasksOn(ctx: EmulatorContext, clock: string | null): Task[] {
  const cfg = settings(ctx);
  const tasks: Task[] = [];
  for (const s of allSchedules(ctx)) {
    if (s.test_clock !== clock) continue;
    const at = scheduleDueAt(s, nowOn(ctx, clock));
    if (at !== null) tasks.push({ at, rank: 0, run: (t) => runScheduleBoundary(ctx, s, t) });
  }
  for (const sub of allSubs(ctx)) {
    if (sub.test_clock !== clock) continue;
    const periodEnd = sub.items[0]?.current_period_end;
    const live = ['active', 'past_due', 'unpaid', 'trialing', 'paused'].includes(sub.status);
    if (live && sub.cancel_at !== null) {
      tasks.push({
        at: sub.cancel_at,
        rank: 2,
        run: (t) => cancelSubscription(ctx, sub, t, { reason: 'cancellation_requested' }),
      });
    }
    const renewsAt =
      sub.cancel_at !== null && periodEnd !== undefined && sub.cancel_at <= periodEnd ? null : periodEnd;
    if (
      ['active', 'past_due', 'trialing'].includes(sub.status) &&
      renewsAt !== undefined &&
      renewsAt !== null
    ) {
      const notice = renewsAt - cfg.upcomingDays * SECONDS_PER_DAY;
      if (sub.upcoming_sent_for !== renewsAt && notice > (sub.items[0]?.current_period_start ?? 0)) {
        tasks.push({ at: notice, rank: 1, run: () => upcomingNotice(ctx, sub, renewsAt) });
      }
    }
    if (sub.status === 'trialing' && sub.trial_end !== null) {
      if (sub.trial_will_end_sent_for !== sub.trial_end) {
        const notice = Math.max(sub.trial_end - cfg.trialWillEndDays * SECONDS_PER_DAY, sub.created);
        tasks.push({ at: notice, rank: 1, run: () => trialWillEnd(ctx, sub) });
      }
      tasks.push({ at: sub.trial_end, rank: 3, run: (t) => endTrial(ctx, sub, t) });
    } else if (['active', 'past_due', 'unpaid'].includes(sub.status) && periodEnd !== undefined) {
      tasks.push({ at: periodEnd, rank: 4, run: (t) => renew(ctx, sub, t) });
    } else if (sub.status === 'incomplete') {
      tasks.push({
        at: sub.created + cfg.incompleteExpirySeconds,
        rank: 5,
        run: (t) => expireIncomplete(ctx, sub, t),
      });
    }
  }
  for (const inv of allInvoices(ctx)) {
    if (inv.test_clock !== clock || inv.status !== 'open' || inv.next_payment_attempt === null) continue;
    tasks.push({
      at: inv.next_payment_attempt,
      rank: 6,
      run: () => {
        collectInvoice(ctx, inv, { offSession: true, isRetry: true });
      },
    });
  }
  return tasks;
}

/** `invoice.upcoming` carries the invoice the renewal will produce (a preview, like Stripe's). */
function upcomingNotice(ctx: EmulatorContext, sub: SubscriptionRecord, renewsAt: number): void {
  sub.upcoming_sent_for = renewsAt;
  saveSub(ctx, sub);
  emitAt(ctx, 'invoice.upcoming', createPreview(ctx, { subscription: sub.id }), sub.test_clock);
}

/** The earliest task due at or before `until`, if any. */
function nextTask(ctx: EmulatorContext, clock: string | null, until: number): Task | undefined {
  let best: Task | undefined;
  for (const t of tasksOn(ctx, clock)) {
    if (t.at > until) continue;
    if (!best || t.at < best.at || (t.at === best.at && t.rank < best.rank)) best = t;
  }
  return best;
}

/**
 * Runs one due task, moving the clock to its time first; false when nothing is due before `until`.
 * Each task makes progress (moves a period, marks a notice sent, schedules or stops a retry).
 */
export function stepOnce(
  ctx: EmulatorContext,
  clock: string | null,
  until: number,
  setTime: (t: number) => void,
): boolean {
  const task = nextTask(ctx, clock, until);
  if (!task) return false;
  if (task.at > nowOn(ctx, clock)) setTime(task.at);
  task.run(task.at);
  return true;
}

const MAX_STEPS = 10_000;

/** Runs everything due up to `until` synchronously (test clocks, and catching up inside a request). */
export function runUntil(
  ctx: EmulatorContext,
  clock: string | null,
  until: number,
  setTime: (t: number) => void,
): void {
  for (let i = 0; i < MAX_STEPS && stepOnce(ctx, clock, until, setTime); i++);
  if (until > nowOn(ctx, clock)) setTime(until);
}

/** Emulator-wide objects whose time has come on the running clock (wall time moves it too). */
export function catchUp(ctx: EmulatorContext): void {
  runUntil(ctx, null, ctx.clock.nowSeconds(), () => {});
}

/**
 * The emulator-wide advance. One task per lock turn, so API calls (the app reacting to webhooks)
 * interleave; resolves after every resulting delivery had its first attempt.
 */
export async function advanceEmulatorClock(ctx: EmulatorContext, toSeconds: number): Promise<void> {
  for (let i = 0; i < MAX_STEPS; i++) {
    const more = await ctx.lock.run(() => stepOnce(ctx, null, toSeconds, (t) => ctx.clock.advanceTo(t)));
    if (!more) break;
  }
  await ctx.lock.run(() => ctx.clock.advanceTo(toSeconds));
  ctx.persistSoon();
  await ctx.webhooks.settle();
}
