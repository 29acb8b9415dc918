import { type Database, type Db, directHandles, type Queryable } from '../../db/client';
import { pgErrorCode } from '../../db/errors';
import type { Clock } from '../../lib/clock';
import { faultPoint } from '../../lib/faults';
import {
  accountKey,
  type Outcome,
  partOf,
  runBatchDrizzle,
  runBatchPg,
  runBatchPglite,
  runOnAccount,
} from './batch';
import type { CreditsDeps } from './credits.types';
import { KnownAccounts } from './known-accounts';
import type { Op } from './ops';

interface Job {
  op: Op;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

interface AccountQueue {
  key: string;
  userId: string;
  creditType: string;
  jobs: Job[];
  /** In a running batch: its next operations wait for the next one. */
  busy: boolean;
  /** In `ready`. */
  queued: boolean;
}

// Another instance's write with the same idempotency key (unique violation) or a deadlock/serialization
// failure: running the operation again sees the committed state and answers correctly.
const RETRYABLE = new Set(['23505', '40001', '40P01']);

const accountOrder = (a: AccountQueue, b: AccountQueue) =>
  a.userId < b.userId
    ? -1
    : a.userId > b.userId
      ? 1
      : a.creditType < b.creditType
        ? -1
        : a.creditType > b.creditType
          ? 1
          : 0;

/**
 * Group commit. Operations queue per account; a batch takes the waiting operations of every account that
 * has no batch in flight (up to `maxBatch` operations) and runs them in one transaction: per account one
 * lock, one load and one write of all its ledger rows, and one commit for all. So one hot customer's
 * concurrent requests share transactions, and so do many customers' single requests. Each operation
 * keeps its own outcome; if a shared transaction fails, its accounts and then its operations are retried
 * alone, so that no operation's failure becomes another's.
 */
export class LedgerEngine {
  private readonly accounts = new Map<string, AccountQueue>();
  private readonly ready: AccountQueue[] = [];
  private running = 0;
  /** What this process last committed to the accounts it batches (PostgreSQL only). */
  readonly known = new KnownAccounts();

  constructor(
    private readonly database: Pick<Database, 'db' | 'pool' | 'pglite' | 'kind'>,
    private readonly clock: Clock,
    private readonly maxBatch = 500,
    /** Batches in flight at once (over disjoint accounts); PGlite has a single connection anyway. */
    private readonly maxConcurrent = database.pool ? 4 : 1,
  ) {}

  run<T>(userId: string, creditType: string, op: Op): Promise<T> {
    const key = accountKey(userId, creditType);
    let q = this.accounts.get(key);
    if (!q) {
      q = { key, userId, creditType, jobs: [], busy: false, queued: false };
      this.accounts.set(key, q);
    }
    const queue = q;
    const promise = new Promise<T>((resolve, reject) => {
      queue.jobs.push({ op, resolve: resolve as (v: unknown) => void, reject });
    });
    if (!queue.busy && !queue.queued) {
      queue.queued = true;
      this.ready.push(queue);
    }
    this.schedule();
    return promise;
  }

  /** Operations waiting or running (for tests and metrics). */
  get pending(): number {
    let n = 0;
    for (const q of this.accounts.values()) n += q.jobs.length;
    return n;
  }

  private schedule() {
    while (this.running < this.maxConcurrent && this.ready.length) {
      const group: { q: AccountQueue; jobs: Job[] }[] = [];
      let n = 0;
      while (this.ready.length && n < this.maxBatch) {
        const q = this.ready.shift()!;
        q.queued = false;
        // What does not fit waits for this batch to end (an account is in one batch at a time).
        const jobs = q.jobs.splice(0, this.maxBatch - n);
        q.busy = true;
        n += jobs.length;
        group.push({ q, jobs });
      }
      group.sort((a, b) => accountOrder(a.q, b.q));
      this.running++;
      void this.execute(group, 0).finally(() => {
        // The slot stays taken for one turn of the event loop: callers just answered can queue their next
        // operation and join the next batch, instead of the first of them starting a batch of one.
        setImmediate(() => {
          this.running--;
          for (const { q } of group) {
            q.busy = false;
            if (q.jobs.length && !q.queued) {
              q.queued = true;
              this.ready.push(q);
            } else if (!q.jobs.length && !q.queued) this.accounts.delete(q.key);
          }
          this.schedule();
        });
      });
    }
  }

  private async execute(group: { q: AccountQueue; jobs: Job[] }[], attempt: number): Promise<void> {
    let outcomes: Outcome[][];
    try {
      const now = this.clock.now();
      const parts = group.map(({ q, jobs }) =>
        partOf(
          q.userId,
          q.creditType,
          jobs.map((j) => j.op),
        ),
      );
      const { pool, pglite } = this.database;
      outcomes = pool
        ? await runBatchPg(pool, now, parts, this.known)
        : pglite
          ? await runBatchPglite(pglite, now, parts)
          : await runBatchDrizzle(this.database.db, now, parts);
    } catch (err) {
      if (group.length > 1) {
        for (const g of group) await this.execute([g], 0);
        return;
      }
      const [{ q, jobs }] = group as [{ q: AccountQueue; jobs: Job[] }];
      if (jobs.length > 1) {
        for (const job of jobs) await this.execute([{ q, jobs: [job] }], 0);
        return;
      }
      const code = pgErrorCode(err);
      if (attempt < 3 && code && RETRYABLE.has(code)) return this.execute(group, attempt + 1);
      jobs[0]!.reject(err);
      return;
    }
    faultPoint('credits:after-commit', group[0]?.jobs[0]?.op.kind);
    group.forEach(({ jobs }, i) => {
      jobs.forEach((job, j) => {
        const o = outcomes[i]![j]!;
        if (o.ok) job.resolve(o.value);
        else job.reject(o.error);
      });
    });
  }
}

const engines = new WeakMap<Db, WeakMap<Clock, LedgerEngine>>();

/** The engine of a database and clock: one per process, so that its callers' operations coalesce. */
export function ledgerEngine(deps: Pick<CreditsDeps, 'db' | 'database' | 'clock'>): LedgerEngine {
  let byClock = engines.get(deps.db);
  if (!byClock) {
    byClock = new WeakMap();
    engines.set(deps.db, byClock);
  }
  let engine = byClock.get(deps.clock);
  if (!engine) {
    engine = new LedgerEngine(
      { kind: deps.database.kind, db: deps.db, ...directHandles(deps.db, deps.database) },
      deps.clock,
    );
    byClock.set(deps.clock, engine);
  }
  return engine;
}

/** Runs one operation: in the caller's transaction when given (then it commits with it), else batched. */
export async function runOp<T>(
  deps: Pick<CreditsDeps, 'db' | 'database' | 'clock'>,
  userId: string,
  creditType: string,
  op: Op,
  tx?: Queryable,
): Promise<T> {
  if (!tx) return ledgerEngine(deps).run<T>(userId, creditType, op);
  const [outcome] = await runOnAccount(tx, userId, creditType, deps.clock.now(), [op]);
  if (!outcome!.ok) throw outcome!.error;
  return outcome!.value as T;
}
