import type { Deps } from '../deps';
import { expireDueCredits, expireDueHolds } from '../modules/credits/credits.lifecycle';
import { expireReservations } from '../modules/discounts/reservations';
import { expireStaleCheckouts } from '../modules/checkout/checkout.service';
import { enforceGracePeriods } from '../modules/subscriptions/grace';
import { retryUnhandledEvents } from '../webhooks/inbox';
import { type JobDefinition, JobRunner } from './runner';

export type { JobDefinition, JobRunSummary } from './runner';
export { JobRunner } from './runner';

/** The scheduled jobs of this service; later work appends its own (grace periods, event retries). */
export function builtinJobs(): JobDefinition<Deps>[] {
  return [
    { name: 'credits.expire', everyMs: 60_000, run: ({ deps }) => expireDueCredits(deps) },
    { name: 'credits.holds', everyMs: 15_000, run: ({ deps }) => expireDueHolds(deps) },
    { name: 'discounts.reservations', everyMs: 60_000, run: ({ deps }) => expireReservations(deps) },
    { name: 'subscriptions.grace', everyMs: 15 * 60_000, run: ({ deps }) => enforceGracePeriods(deps) },
    { name: 'payments.stale_checkouts', everyMs: 15 * 60_000, run: ({ deps }) => expireStaleCheckouts(deps) },
    // Events whose handler failed or whose process died mid-way: retried with backoff, 10 attempts at most.
    {
      name: 'webhooks.retry',
      everyMs: 60_000,
      run: async ({ deps }) => (await retryUnhandledEvents(deps)).processed,
    },
  ];
}

export function createJobRunner(deps: Deps, extra: JobDefinition<Deps>[] = []): JobRunner<Deps> {
  return new JobRunner(deps, [...builtinJobs(), ...extra]);
}
