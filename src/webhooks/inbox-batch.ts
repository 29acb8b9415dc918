import type pg from 'pg';
import { SETTLED_SQL, type SettledProbe } from './settled';

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
  /** Stored already handled when this check holds (settled on arrival: src/webhooks/settled.ts). */
  settle: SettledProbe | null;
}

/**
 * What became of a row: `new` (inserted, to be processed unless ignored), `settled` (inserted already
 * handled: its settle check held), `copy` (a row with its id was already in the inbox; nothing written).
 */
export type Stored = 'new' | 'settled' | 'copy';

interface Pending {
  row: InboxRow;
  /** The caller answers Stripe as soon as the row is in: its commit must be flushed (see flushMode). */
  durable: boolean;
  resolve(stored: Stored): void;
  reject(err: unknown): void;
}

/** Rows per statement: bounds the statement's size and the number of texts prepared per connection. */
const MAX_BATCH = 32;

const COLUMNS = 11;

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

  /** Stores the row and says what became of it. */
  insert(row: InboxRow, durable: boolean): Promise<Stored> {
    return new Promise<Stored>((resolve, reject) => {
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
    // it is not theirs (`copy`) only once it has committed, as if they had come after it.
    const first = new Map<string, Pending>();
    const copies: Pending[] = [];
    for (const p of batch) {
      if (first.has(p.row.id)) copies.push(p);
      else first.set(p.row.id, p);
    }
    const members = [...first.values()];
    try {
      const stored = await this.insertRows(members);
      for (const p of members) p.resolve(stored.get(p.row.id) ?? 'copy');
      for (const p of copies) p.resolve('copy');
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
            const stored = await this.insertRows([p]);
            p.resolve(stored.get(p.row.id) ?? 'copy');
            for (const c of copies) if (c.row.id === p.row.id) c.resolve('copy');
          } catch (one) {
            p.reject(one);
            for (const c of copies) if (c.row.id === p.row.id) c.reject(one);
          }
        }),
      );
    }
  }

  private async insertRows(members: Pending[]): Promise<Map<string, Stored>> {
    const durable = members.some((p) => p.durable);
    const result = await this.pool.query<InsertedRow>({
      name: `paywire_inbox_${members.length}_${durable ? 's' : 'a'}`,
      ...inboxInsert(
        members.map((p) => p.row),
        durable,
      ),
    });
    return storedRows(result.rows);
  }
}

/** What inboxInsert's statement returns: one row per row it inserted. */
export interface InsertedRow {
  id: string;
  settled: boolean;
}

/** Inserted rows by id, `new` or `settled` (an id missing from the map was a copy). */
export const storedRows = (rows: InsertedRow[]): Map<string, Stored> =>
  new Map(rows.map((r) => [r.id, r.settled ? 'settled' : 'new']));

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
      row.settle?.check ?? null,
      row.settle?.key ?? null,
      row.settle?.after?.toISOString() ?? null,
    );
  }
  return { text: insertText(rows.length, durable), values };
}

/**
 * The batch INSERT for `rows` rows. Rows of types without a handler go in already handled (ignored), the
 * state the two-step protocol would reach; so do settled ones (their settle check holds, evaluated here:
 * src/webhooks/settled.ts), as handled. The caller of such a row answers Stripe right after, so its commit
 * must be flushed.
 *
 * `durable`: the commit waits for its WAL flush, as usual. Otherwise the statement decides: its commit
 * skips the wait (`set_config('synchronous_commit', 'off', true)`, local to the statement's implicit
 * transaction) unless a row went in handled. A row left for its handler is visible at once, and its caller
 * answers Stripe only after a later synchronous commit whose flush covers it: one flush per event either
 * way. (When no row is inserted the setting may stay on: such a commit writes nothing to flush.)
 */
function insertText(rows: number, durable: boolean): string {
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) {
    const p = (c: number) => `$${r * COLUMNS + c}`;
    tuples.push(
      `(${p(1)}::text, ${p(2)}::text, ${p(3)}::text, ${p(4)}::boolean, ${p(5)}::timestamptz, ${p(6)}::jsonb, ${p(7)}::timestamptz, ${p(8)}::boolean, ${p(9)}::text, ${p(10)}::text, ${p(11)}::timestamptz)`,
    );
  }
  const insert = `insert into stripe_events (id, type, api_version, livemode, created, payload, received_at,
      handled_at, last_attempt_at, ignored, attempts)
    select v.id, v.type, v.api_version, v.livemode, v.created, v.payload, v.received_at,
      case when d.done then v.received_at end, case when d.done then v.received_at end, v.ignored,
      case when d.done then 1 else 0 end
    from (values ${tuples.join(', ')})
      v (id, type, api_version, livemode, created, payload, received_at, ignored, settle_check, settle_key,
        settle_after),
      lateral (select v.ignored or ${SETTLED_SQL} as done) d
    on conflict (id) do nothing
    returning id, handled_at is not null and not ignored as settled, handled_at is not null as done`;
  if (durable) return `with ins as (${insert}) select id, settled from ins`;
  return `with ins as (${insert}),
    s as (select set_config('synchronous_commit', case when bool_or(done) then 'on' else 'off' end, true)
      from ins)
    select ins.id, ins.settled from ins cross join s`;
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
