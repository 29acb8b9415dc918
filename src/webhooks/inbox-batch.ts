import type pg from 'pg';

/** One inbox row as the batcher writes it (the columns recordEvent fills). */
export interface InboxRow {
  id: string;
  type: string;
  apiVersion: string | null;
  livemode: boolean;
  /** ISO timestamps. */
  created: string;
  receivedAt: string;
  /** The event as JSON text (the raw body when at hand). */
  payload: string;
  /** Stored already handled, as ignored (a type without a handler). */
  ignored: boolean;
}

interface Pending {
  row: InboxRow;
  /** The caller answers Stripe as soon as the row is in: its commit must be flushed (see flushMode). */
  durable: boolean;
  resolve(inserted: boolean): void;
  reject(err: unknown): void;
}

/** Rows per statement: bounds the statement's size and the number of texts prepared per connection. */
const MAX_BATCH = 32;

const COLUMNS = 8;

/**
 * Group commit of inbox rows on PostgreSQL. Deliveries that arrive while a batch is being written wait
 * and go together in the next one: one multi-row `INSERT ... ON CONFLICT (id) DO NOTHING RETURNING id`,
 * one commit and one WAL flush for all of them, instead of a round trip and a flush each. Every caller
 * still learns, once the statement has committed, whether its own row was new. Nothing is delayed when
 * the database is idle: a batch starts as soon as none is in flight.
 */
export class InboxBatcher {
  private queue: Pending[] = [];
  private inFlight = false;

  constructor(private readonly pool: pg.Pool) {}

  /** Stores the row; true when this call inserted it (false: a copy is already in the inbox). */
  insert(row: InboxRow, durable: boolean): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ row, durable, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.inFlight || !this.queue.length) return;
    this.inFlight = true;
    const batch = this.queue.splice(0, MAX_BATCH);
    void this.write(batch).finally(() => {
      this.inFlight = false;
      this.next();
    });
  }

  private async write(batch: Pending[]): Promise<void> {
    // Copies of one event in one batch: the first one's row is the one written; the others learn that
    // it is not theirs (false) only once it has committed, as if they had come after it.
    const first = new Map<string, Pending>();
    const copies: Pending[] = [];
    for (const p of batch) {
      if (first.has(p.row.id)) copies.push(p);
      else first.set(p.row.id, p);
    }
    const members = [...first.values()];
    try {
      const inserted = await this.insertRows(members);
      for (const p of members) p.resolve(inserted.has(p.row.id));
      for (const p of copies) p.resolve(false);
    } catch (err) {
      if (members.length === 1) {
        for (const p of batch) p.reject(err);
        return;
      }
      // One bad row (say, a payload jsonb refuses) fails the whole statement: each row alone again, so
      // that only the deliveries whose own row fails get the error.
      await Promise.all(
        members.map(async (p) => {
          try {
            const inserted = await this.insertRows([p]);
            p.resolve(inserted.has(p.row.id));
            for (const c of copies) if (c.row.id === p.row.id) c.resolve(false);
          } catch (one) {
            p.reject(one);
            for (const c of copies) if (c.row.id === p.row.id) c.reject(one);
          }
        }),
      );
    }
  }

  private async insertRows(members: Pending[]): Promise<Set<string>> {
    const durable = members.some((p) => p.durable);
    const result = await this.pool.query<{ id: string }>({
      name: `paywire_inbox_${members.length}_${durable ? 's' : 'a'}`,
      ...inboxInsert(
        members.map((p) => p.row),
        durable,
      ),
    });
    return new Set(result.rows.map((r) => r.id));
  }
}

/** The INSERT of some inbox rows with its values (`$n` placeholders): the batcher's, and recordEvent's elsewhere. */
export function inboxInsert(rows: InboxRow[], durable: boolean): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  for (const row of rows) {
    values.push(
      row.id,
      row.type,
      row.apiVersion,
      row.livemode,
      row.created,
      row.payload,
      row.receivedAt,
      row.ignored,
    );
  }
  return { text: insertText(rows.length, durable), values };
}

/**
 * The batch INSERT for `rows` rows. Not durable: the commit does not wait for its own WAL flush
 * (`set_config(..., true)` applies to the statement's implicit transaction): the rows are visible at
 * once, and the caller answers Stripe only after a later synchronous commit whose flush covers them.
 * Ignored rows go in already handled, the state the two-step protocol would reach.
 */
function insertText(rows: number, durable: boolean): string {
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) {
    const p = (c: number) => `$${r * COLUMNS + c}`;
    tuples.push(
      `(${p(1)}::text, ${p(2)}::text, ${p(3)}::text, ${p(4)}::boolean, ${p(5)}::timestamptz, ${p(6)}::jsonb, ${p(7)}::timestamptz, ${p(8)}::boolean)`,
    );
  }
  const commit = durable ? 'select 1' : `select set_config('synchronous_commit', 'off', true)`;
  return `with s as (${commit})
    insert into stripe_events (id, type, api_version, livemode, created, payload, received_at, handled_at,
      last_attempt_at, ignored, attempts)
    select v.id, v.type, v.api_version, v.livemode, v.created, v.payload, v.received_at,
      case when v.ignored then v.received_at end, case when v.ignored then v.received_at end, v.ignored,
      case when v.ignored then 1 else 0 end
    from s, (values ${tuples.join(', ')})
      v (id, type, api_version, livemode, created, payload, received_at, ignored)
    on conflict (id) do nothing
    returning id`;
}

const batchers = new WeakMap<pg.Pool, InboxBatcher>();

/** The pool's batcher (one per pool, so per app instance). */
export function inboxBatcher(pool: pg.Pool): InboxBatcher {
  let b = batchers.get(pool);
  if (!b) {
    b = new InboxBatcher(pool);
    batchers.set(pool, b);
  }
  return b;
}
