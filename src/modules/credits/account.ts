import { type Queryable, queryRows } from '../../db/client';
import { newId } from '../../lib/ids';
import {
  type Bucket,
  type LedgerRow,
  type Loaded,
  type LoadNeeds,
  type NewRow,
  num,
  parseLoaded,
  type Reservation,
} from './account-types';
import type { Allocation } from './credits.tables';
import type { TransactionType } from './credits.types';
import {
  type AccountWrite,
  createAccount,
  loadStatements,
  lockAccount,
  type Statement,
  type Totals,
  toSql,
  writeStatement,
} from './statements';

export type { Bucket, LedgerRow, LoadNeeds, NewRow, Reservation } from './account-types';

/** An account's totals and its buckets holding credits (see Account.state). */
export interface KnownState {
  totals: Totals;
  buckets: readonly Bucket[];
}
export { emptyNeeds } from './account-types';

/**
 * One credit account (user x credit type) loaded under its row lock, changed in memory by any number of
 * operations, then written back in one statement. The in-memory rules keep three invariants that the
 * database checks again: balance = sum of the ledger (each row carries balance_before/after and the next
 * seq), balance = sum of bucket remainders - debt, and 0 <= remaining <= amount for every bucket.
 */

/** Soonest-expiring first (no expiry last), then oldest, then by id: the consume order of SPEC section 7. */
function consumeOrder(a: Bucket, b: Bucket): number {
  const ea = a.expiresAt ? a.expiresAt.getTime() : Number.POSITIVE_INFINITY;
  const eb = b.expiresAt ? b.expiresAt.getTime() : Number.POSITIVE_INFINITY;
  if (ea !== eb) return ea < eb ? -1 : 1;
  const ca = a.createdAt.getTime();
  const cb = b.createdAt.getTime();
  if (ca !== cb) return ca - cb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export class Account {
  balance = 0;
  reserved = 0;
  debt = 0;
  used = 0;
  seq = 0;
  /** Sum of bucket remainders (all spendable: dead buckets are expired as soon as they hold credits). */
  total = 0;
  readonly buckets = new Map<string, Bucket>();
  /** Live buckets in consume order. */
  private order: Bucket[] = [];
  private unsorted = false;
  readonly reservations = new Map<string, Reservation>();
  /** Ledger rows already holding a caller key or source key (from the database or this batch). */
  readonly byKey = new Map<string, LedgerRow>();
  readonly bySourceKey = new Map<string, LedgerRow>();
  readonly rows: LedgerRow[] = [];
  private exists = false;
  private drift = 0;
  private dirtyBalance = false;

  private constructor(
    readonly userId: string,
    readonly creditType: string,
    readonly now: Date,
  ) {}

  /** Locks the account row (FOR UPDATE), then loads what the batch needs (drizzle path: any driver). */
  static async open(db: Queryable, userId: string, creditType: string, now: Date, needs: LoadNeeds) {
    const rows = (q: Statement | null) =>
      q ? queryRows<Record<string, unknown>>(db, toSql(q)) : Promise.resolve([] as Record<string, unknown>[]);
    let [lock] = await rows(lockAccount([userId, creditType]));
    if (!lock && needs.create) {
      await rows(createAccount([userId, creditType, now.toISOString()]));
      [lock] = await rows(lockAccount([userId, creditType]));
    }
    const load = loadStatements(userId, creditType, needs);
    const keys = await rows(load.keys);
    const reservations = lock ? await rows(load.reservations) : [];
    const grants = lock ? await rows(load.grants) : [];
    return Account.from(userId, creditType, now, lock, parseLoaded(keys, reservations, grants, !!lock));
  }

  /** Builds the in-memory account from its locked row (absent: no account yet) and what was loaded. */
  static from(
    userId: string,
    creditType: string,
    now: Date,
    lock: Record<string, unknown> | undefined,
    loaded: Loaded,
  ): Account {
    const acct = new Account(userId, creditType, now);
    if (lock) {
      acct.exists = true;
      acct.balance = num(lock.balance);
      acct.reserved = num(lock.reserved);
      acct.debt = num(lock.debt);
      acct.used = num(lock.used);
      acct.seq = num(lock.seq);
    }
    for (const row of loaded.keys) {
      if (row.idempotency_key && row.user_id === userId) acct.byKey.set(row.idempotency_key, row);
      if (row.source_key) acct.bySourceKey.set(row.source_key, row);
    }
    if (lock) {
      for (const r of loaded.reservations) acct.reservations.set(r.id, r);
      for (const b of loaded.buckets) acct.addBucket(b);
    }
    acct.drift = acct.balance - (acct.total - acct.debt);
    acct.expireDead();
    return acct;
  }

  private addBucket(b: Bucket) {
    this.buckets.set(b.id, b);
    this.total += b.remaining;
    if (b.remaining > 0 || !this.isDead(b)) {
      this.order.push(b);
      this.unsorted = true;
    }
  }

  /** Live buckets in consume order. */
  private ordered(): Bucket[] {
    if (this.unsorted) {
      this.order.sort(consumeOrder);
      this.unsorted = false;
    }
    return this.order;
  }

  isDead(b: Bucket): boolean {
    return b.expiredAt !== null || (b.expiresAt !== null && b.expiresAt.getTime() <= this.now.getTime());
  }

  /** Appends a ledger row, moving the balance and the account's sequence. */
  record(r: NewRow): LedgerRow {
    const before = this.balance;
    this.balance += r.amount;
    this.seq += 1;
    if (r.type === 'usage') this.used -= r.amount;
    this.dirtyBalance = true;
    const row: LedgerRow = {
      id: r.id ?? newId(),
      seq: this.seq,
      type: r.type,
      credit_type: this.creditType,
      amount: r.amount,
      balance_before: before,
      balance_after: this.balance,
      description: r.description ?? null,
      reference_id: r.reference_id ?? null,
      idempotency_key: r.idempotency_key ?? null,
      source_key: r.source_key ?? null,
      grant_id: r.grant_id ?? null,
      reservation_id: r.reservation_id ?? null,
      pool: r.pool ?? null,
      allocations: r.allocations ?? null,
      actor_id: r.actor_id ?? null,
    };
    this.rows.push(row);
    if (row.idempotency_key) this.byKey.set(row.idempotency_key, row);
    if (row.source_key) this.bySourceKey.set(row.source_key, row);
    return row;
  }

  /** Credits spendable now, optionally only from buckets matching `filter`. */
  available(filter?: (b: Bucket) => boolean): number {
    if (!filter) return this.total;
    let n = 0;
    for (const b of this.ordered()) if (b.remaining > 0 && filter(b)) n += b.remaining;
    return n;
  }

  /** Takes `amount` from the buckets in consume order; the caller has checked it is available. */
  take(amount: number, filter?: (b: Bucket) => boolean, first?: Bucket): Allocation[] {
    const allocations: Allocation[] = [];
    let left = amount;
    const order = this.ordered();
    const candidates = first ? [first, ...order.filter((b) => b !== first)] : order;
    for (const b of candidates) {
      if (left === 0) break;
      if (b.remaining === 0 || (filter && !filter(b))) continue;
      const n = Math.min(b.remaining, left);
      this.changeBucket(b, -n);
      allocations.push({ grant_id: b.id, amount: n });
      left -= n;
    }
    if (left !== 0) throw new Error('credits: take() beyond what is available');
    return allocations;
  }

  /**
   * Returns credits to the buckets they came from. Debt is paid first; what lands in a bucket that has
   * expired (or been revoked) in the meantime expires at once, so no dead bucket ever holds credits.
   */
  give(allocations: Allocation[]): void {
    for (const a of allocations) {
      let n = a.amount;
      const pay = Math.min(n, this.debt);
      this.debt -= pay;
      n -= pay;
      if (n === 0 || !a.grant_id) continue;
      const b = this.buckets.get(a.grant_id);
      if (!b) throw new Error(`credits: bucket ${a.grant_id} not loaded`);
      this.changeBucket(b, n);
    }
    this.expireDead();
  }

  private changeBucket(b: Bucket, delta: number) {
    b.remaining += delta;
    this.total += delta;
    b.dirty = true;
  }

  /** A new bucket; debt is paid from it first (SPEC section 7: later grants pay a clawback debt). */
  addNewBucket(b: Omit<Bucket, 'remaining' | 'isNew' | 'dirty' | 'expiredAt' | 'createdAt'>): Bucket {
    const pay = Math.min(b.amount, this.debt);
    this.debt -= pay;
    const bucket: Bucket = {
      ...b,
      remaining: b.amount - pay,
      createdAt: this.now,
      expiredAt: null,
      isNew: true,
      dirty: false,
    };
    this.addBucket(bucket);
    return bucket;
  }

  /** Writes `expiration` rows for every dead bucket still holding credits. */
  expireDead(): void {
    for (const b of this.buckets.values()) {
      if (b.remaining > 0 && this.isDead(b)) this.expire(b, 'expiration', 'Credits expired');
    }
  }

  expire(b: Bucket, type: TransactionType, description: string, extra: Partial<NewRow> = {}): LedgerRow {
    const n = b.remaining;
    this.changeBucket(b, -n);
    if (b.expiredAt === null) b.expiredAt = this.now;
    return this.record({
      type,
      amount: -n,
      grant_id: b.id,
      pool: b.pool,
      description,
      allocations: [{ grant_id: b.id, amount: n }],
      ...extra,
    });
  }

  addDebt(n: number) {
    this.debt += n;
  }

  changeReserved(delta: number) {
    this.reserved += delta;
    this.dirtyBalance = true;
  }

  addReservation(r: Omit<Reservation, 'isNew' | 'dirty'>): Reservation {
    const res: Reservation = { ...r, isNew: true, dirty: false };
    this.reservations.set(res.id, res);
    return res;
  }

  /** Everything this batch changed (null: nothing), for writeStatement. Checks the invariants first. */
  changes(): AccountWrite | null {
    const drift = this.balance - (this.total - this.debt);
    if (drift !== this.drift)
      throw new Error(`credits: invariant broken for ${this.userId}/${this.creditType}`);
    if (this.debt < 0 || this.reserved < 0) throw new Error('credits: negative debt or reserve');
    const buckets = [...this.buckets.values()];
    const reservations = [...this.reservations.values()];
    const changes = {
      rows: this.rows,
      newBuckets: buckets.filter((b) => b.isNew),
      changedBuckets: buckets.filter((b) => !b.isNew && b.dirty),
      newReservations: reservations.filter((r) => r.isNew),
      changedReservations: reservations.filter((r) => !r.isNew && r.dirty),
    };
    const any =
      this.dirtyBalance ||
      changes.rows.length ||
      changes.newBuckets.length ||
      changes.changedBuckets.length ||
      changes.newReservations.length ||
      changes.changedReservations.length;
    if (!any) return null;
    if (!this.exists) throw new Error('credits: writing to an account that was not created');
    const { balance, reserved, debt, used, seq } = this;
    return {
      userId: this.userId,
      creditType: this.creditType,
      changes,
      totals: { balance, reserved, debt, used, seq },
    };
  }

  /**
   * The account as it stands after this batch (null: it does not exist): its totals and copies of its
   * buckets holding credits - what locking and loading it again would find once the batch committed.
   */
  state(): KnownState | null {
    if (!this.exists) return null;
    const { balance, reserved, debt, used, seq } = this;
    const buckets: Bucket[] = [];
    for (const b of this.buckets.values()) {
      if (b.remaining <= 0) continue;
      const { expiredBefore: _, ...rest } = b;
      buckets.push({ ...rest, isNew: false, dirty: false });
    }
    return { totals: { balance, reserved, debt, used, seq }, buckets };
  }

  /** Builds the account from a state (`state()` of an earlier batch) instead of a lock and a load. */
  static fromState(userId: string, creditType: string, now: Date, known: KnownState): Account {
    return Account.from(
      userId,
      creditType,
      now,
      { ...known.totals },
      {
        keys: [],
        reservations: [],
        buckets: known.buckets.map((b) => ({ ...b })),
      },
    );
  }

  /** Writes everything this batch changed (the lock is already held). */
  async flush(db: Queryable): Promise<void> {
    const c = this.changes();
    if (c) await db.execute(toSql(writeStatement(this.now, [c])));
  }
}
