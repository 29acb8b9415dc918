import type { KnownState } from './account';

/**
 * What this process last committed to each account it writes (PostgreSQL): the account's totals and its
 * buckets holding credits. A batch on known accounts skips the lock-and-load round trip: it computes from
 * the known state and sends one guarded write (see writeText in statements.ts), which writes only if every
 * account row still holds exactly those totals - any other writer (another instance, a caller's
 * transaction) moves `seq` with every ledger row it adds, and changes a bucket only with a ledger row -
 * and else writes nothing, so the batch is run again the usual way.
 *
 * An account whose guard missed is left out for `backoffMs`: with two instances on one hot account, each
 * would otherwise miss on most batches and pay a wasted round trip. At most `limit` accounts are kept
 * (least recently used dropped first).
 */
export class KnownAccounts {
  private readonly states = new Map<string, KnownState>();
  private readonly missed = new Map<string, number>();
  /** Guarded batches that wrote, whose guard missed, and that the database refused (tests, metrics). */
  readonly counts = { written: 0, missed: 0, refused: 0 };

  constructor(
    private readonly now: () => number = Date.now,
    private readonly limit = 10_000,
    private readonly backoffMs = 1_000,
  ) {}

  get(key: string): KnownState | undefined {
    const state = this.states.get(key);
    if (!state) return undefined;
    this.states.delete(key);
    this.states.set(key, state);
    return state;
  }

  /** The state a committed batch left (null: the account does not exist, or is not to be trusted). */
  remember(key: string, state: KnownState | null): void {
    this.states.delete(key);
    if (!state) return;
    const missedAt = this.missed.get(key);
    if (missedAt !== undefined) {
      if (this.now() - missedAt < this.backoffMs) return;
      this.missed.delete(key);
    }
    this.states.set(key, state);
    if (this.states.size > this.limit) this.states.delete(this.states.keys().next().value!);
    if (this.missed.size > this.limit) this.missed.delete(this.missed.keys().next().value!);
  }

  /** Forgets an account whose guarded write missed (or failed), for a while. */
  miss(key: string): void {
    this.states.delete(key);
    this.missed.delete(key);
    this.missed.set(key, this.now());
  }

  /** Forgets an account whose batch failed or whose commit is in doubt. */
  forget(key: string): void {
    this.states.delete(key);
  }

  get size(): number {
    return this.states.size;
  }
}
