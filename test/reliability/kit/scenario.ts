import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { queryRows } from '../../../src/db/client';
import { Customer, FAULT_KINDS, type FaultKind, LIFECYCLES, type Lifecycle } from './lifecycles';
import { count, mismatch } from './report';
import { compareSnapshots, type Snapshot, takeSnapshot } from './snapshot';
import { startSystem, T0 } from './system';

export interface ScenarioResult {
  snapshot: Snapshot;
  events: number;
  deliveries: number;
}

/**
 * One lifecycle on a fresh system: in order on one instance (fault null), or on two instances sharing
 * one PostgreSQL with a delivery fault. Ends with every event the emulator made delivered, in the inbox
 * and handled (none lost), then snapshots the database.
 */
export async function runScenario(lifecycle: Lifecycle, fault: FaultKind | null): Promise<ScenarioResult> {
  const wallT0 = Date.now();
  const label = `${lifecycle.name.split(' ')[0]}${fault ? fault.name.slice(0, 4) : 'base'}`;
  const sys = await startSystem({ template: inject('templateDb'), label, instances: fault ? 2 : 1 });
  try {
    if (fault) await sys.control('POST', '/_emulator/faults', fault.faults);
    const customer = new Customer(sys);
    await customer.signUp();
    await lifecycle.run(customer);
    await sys.control('DELETE', '/_emulator/faults');
    await sys.drain();
    await lifecycle.verify(customer);

    const emitted = sys.deliverableEvents();
    const rows = await queryRows<{ id: string; handled: boolean; last_error: string | null }>(
      sys.deps.db,
      sql`select id, handled_at is not null as handled, last_error from stripe_events`,
    );
    const inbox = new Map(rows.map((r) => [r.id, r]));
    const lost = emitted.filter((id) => !inbox.get(id)?.handled);
    if (lost.length) {
      const detail = lost.map((id) => `${id} (${inbox.get(id)?.last_error ?? 'never received'})`).join(', ');
      throw new Error(mismatch(`${lifecycle.name} / ${fault?.name ?? 'in order'}: events lost: ${detail}`));
    }
    const snapshot = await takeSnapshot(sys.database.pool!, { businessT0: T0 * 1000, wallT0 });
    return { snapshot, events: emitted.length, deliveries: sys.deliveries() };
  } finally {
    await sys.close();
  }
}

type Mutation = (s: Snapshot) => { what: string; snapshot: Snapshot } | null;

const tableOf = (s: Snapshot, name: string) => s.tables.find((t) => t.table === name);

/** Small corruptions of a real snapshot that the comparison must report. */
const MUTATIONS: Mutation[] = [
  (s) => {
    const t = tableOf(s, 'credit_transactions');
    if (!t?.rows.length) return null;
    t.rows.push({ ...t.rows[t.rows.length - 1]!, id: '01900000-0000-7000-8000-00000000dead' });
    return { what: 'a doubled ledger row', snapshot: s };
  },
  (s) => {
    const t = tableOf(s, 'payments');
    if (!t?.rows.length) return null;
    t.rows[0]!.amount = String(Number(t.rows[0]!.amount) + 1);
    return { what: 'a changed payment amount', snapshot: s };
  },
  (s) => {
    const t = tableOf(s, 'entitlements');
    const users = tableOf(s, 'users');
    if (!t?.rows.length || !users || users.rows.length < 2) return null;
    const owner = t.rows[0]!.user_id;
    t.rows[0]!.user_id = users.rows.find((u) => u.id !== owner)!.id;
    return { what: 'an entitlement moved to another user', snapshot: s };
  },
  (s) => {
    const t = tableOf(s, 'stripe_events');
    if (!t?.rows.length) return null;
    t.rows.pop();
    return { what: 'a lost event', snapshot: s };
  },
  (s) => {
    const t = tableOf(s, 'payments');
    if (!t?.rows.length) return null;
    t.rows[0]!.paid_at = new Date((t.rows[0]!.paid_at as Date).getTime() + 86_400_000);
    return { what: 'a time a day off', snapshot: s };
  },
];

/**
 * For each lifecycle: the in-order single-instance run, then each delivery fault against two instances,
 * each compared with the in-order run row by row.
 */
export function describeLifecycles(names: string[]) {
  for (const lifecycle of LIFECYCLES.filter((l) => names.includes(l.name))) {
    describe(lifecycle.name, () => {
      let baseline: ScenarioResult;
      beforeAll(async () => {
        baseline = await runScenario(lifecycle, null);
        count('baseline_runs');
      });
      afterAll(() => undefined);

      it('(the comparison itself notices a doubled row, a changed amount and a re-pointed reference)', () => {
        for (const mutate of MUTATIONS) {
          const changed = mutate(structuredClone(baseline.snapshot));
          if (!changed) continue;
          expect(compareSnapshots(baseline.snapshot, changed.snapshot).length, changed.what).toBeGreaterThan(
            0,
          );
        }
        expect(compareSnapshots(baseline.snapshot, structuredClone(baseline.snapshot))).toEqual([]);
      });

      for (const fault of FAULT_KINDS) {
        it(`deliveries ${fault.name}, to two instances at once, end in the same state as in order`, async () => {
          const run = await runScenario(lifecycle, fault);
          count('lifecycle_runs', 1, `${lifecycle.name} x ${fault.name}`);
          expect(run.events, 'the same events happened').toBe(baseline.events);
          expect(run.deliveries, 'every event reached both instances').toBeGreaterThanOrEqual(2 * run.events);
          const diffs = compareSnapshots(baseline.snapshot, run.snapshot);
          for (const d of diffs) mismatch(`${lifecycle.name} x ${fault.name}: ${d.message.split('\n')[0]}`);
          expect(diffs.map((d) => d.message).join('\n\n'), 'database differs from the in-order run').toBe('');
        });
      }
    });
  }
}
