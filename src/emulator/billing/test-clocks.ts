import type { EmulatorContext } from '../context';
import { invalidParam } from '../errors';
import { emitEvent } from '../events';
import { newestFirst, paginate } from '../lists';
import type { ApiRouter } from '../router';
import { reqInt, optString } from '../wire';
import { runUntil } from './advance';
import { addInterval } from './periods';
import { buildTestClock } from './render-misc';
import {
  allSubs,
  allTestClocks,
  deleteTestClock,
  priceInterval,
  requireTestClock,
  saveSub,
  saveTestClock,
} from './state';
import type { TestClockRecord } from './types';

const THIRTY_DAYS = 30 * 86_400;

/**
 * Stripe refuses to advance a test clock by more than two intervals of the shortest subscription on
 * it, so a single advance can never skip a whole billing cycle's events.
 */
function advanceLimit(ctx: EmulatorContext, clock: TestClockRecord): number | null {
  let limit: number | null = null;
  for (const sub of allSubs(ctx)) {
    if (sub.test_clock !== clock.id || ['canceled', 'incomplete_expired'].includes(sub.status)) continue;
    for (const item of sub.items) {
      const { interval, count } = priceInterval(ctx, item.price);
      const l = addInterval(clock.frozen_time, interval, 2 * count);
      if (limit === null || l < limit) limit = l;
    }
  }
  return limit;
}

export function registerTestClockRoutes(r: ApiRouter): void {
  r.post('/v1/test_helpers/test_clocks', ({ ctx, params }) => {
    const frozen = reqInt(params, 'frozen_time');
    const rec: TestClockRecord = {
      id: ctx.store.newId('clock'),
      name: optString(params, 'name') ?? null,
      created: ctx.clock.nowSeconds(),
      frozen_time: frozen,
      status: 'ready',
      target_frozen_time: null,
      deletes_after: ctx.clock.nowSeconds() + THIRTY_DAYS,
    };
    const wire = saveTestClock(ctx, rec);
    emitEvent(ctx, 'test_helpers.test_clock.created', wire, null, { created: frozen });
    return wire;
  });

  r.get('/v1/test_helpers/test_clocks/:id', ({ ctx, path }) =>
    buildTestClock(requireTestClock(ctx, path.id)),
  );

  r.get('/v1/test_helpers/test_clocks', ({ ctx, params, url }) =>
    paginate(newestFirst(allTestClocks(ctx).map(buildTestClock)), params, url),
  );

  r.delete('/v1/test_helpers/test_clocks/:id', ({ ctx, path }) => {
    const rec = requireTestClock(ctx, path.id);
    // Deleting a clock deletes what lives on it, as in Stripe (quietly: no per-object events).
    for (const sub of allSubs(ctx)) {
      if (sub.test_clock !== rec.id || sub.status === 'canceled') continue;
      sub.status = 'canceled';
      sub.ended_at = rec.frozen_time;
      sub.canceled_at = sub.canceled_at ?? rec.frozen_time;
      saveSub(ctx, sub);
    }
    for (const c of ctx.store.all<{ id: string; test_clock?: string | null }>('customers')) {
      if (c.test_clock === rec.id) ctx.store.delete('customers', c.id);
    }
    deleteTestClock(ctx, rec.id);
    emitEvent(ctx, 'test_helpers.test_clock.deleted', buildTestClock(rec), null, {
      created: rec.frozen_time,
    });
    return { id: rec.id, object: 'test_helpers.test_clock', deleted: true };
  });

  r.post('/v1/test_helpers/test_clocks/:id/advance', ({ ctx, path, params }) => {
    const rec = requireTestClock(ctx, path.id);
    const target = reqInt(params, 'frozen_time');
    if (target <= rec.frozen_time) {
      throw invalidParam(
        'frozen_time',
        "The frozen_time must be later than the test clock's current frozen_time.",
      );
    }
    const limit = advanceLimit(ctx, rec);
    if (limit !== null && target > limit) {
      throw invalidParam(
        'frozen_time',
        `Cannot advance the test clock more than two intervals of the shortest subscription on it at a time: frozen_time must be at most ${limit}.`,
      );
    }
    rec.status = 'advancing';
    rec.target_frozen_time = target;
    const advancing = saveTestClock(ctx, rec);
    emitEvent(ctx, 'test_helpers.test_clock.advancing', advancing, null, { created: rec.frozen_time });
    // Stripe advances in the background and answers `advancing`; the emulator finishes before it
    // answers, so a client polling for `ready` sees it on its first retrieve.
    runUntil(ctx, rec.id, target, (t) => {
      rec.frozen_time = t;
      saveTestClock(ctx, rec);
    });
    rec.frozen_time = target;
    rec.status = 'ready';
    rec.target_frozen_time = null;
    const ready = saveTestClock(ctx, rec);
    emitEvent(ctx, 'test_helpers.test_clock.ready', ready, null, { created: target });
    return advancing;
  });
}
