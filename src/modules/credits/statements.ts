import type { SQL } from 'drizzle-orm';
import { numberedSql } from '../../db/client';
import type { Bucket, LedgerRow, LoadNeeds, Reservation } from './account-types';

/**
 * Every statement the ledger runs on an account, with a fixed text (parameters `$n` with explicit casts;
 * arrays travel as array literals, batches as JSON). One text serves both executors: drizzle (any driver,
 * inside any transaction) and, on the PostgreSQL hot path, named statements PREPAREd once per connection
 * and EXECUTEd inside multi-statement simple queries, so that a batch of one plans nothing.
 */
export interface Statement {
  name: string;
  text: string;
  params: unknown[];
}

const define =
  (name: string, text: string) =>
  (params: unknown[]): Statement => ({ name, text, params });

/** A PostgreSQL array literal of strings: `{"a","b\"c"}`. */
export const pgArray = (values: Iterable<string>): string =>
  `{${[...values].map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;

export const lockAccount = define(
  'pw_credits_lock',
  `select balance, reserved, debt, used, seq from credit_balances
    where user_id = $1::uuid and credit_type = $2::text for update`,
);

/**
 * Locks several accounts in one statement, in the database's own (user, credit type) order: every
 * instance locks in the same order, so batches spanning accounts cannot deadlock one another.
 */
export const lockAccounts = define(
  'pw_credits_lock_many',
  `select b.user_id, b.credit_type, b.balance, b.reserved, b.debt, b.used, b.seq
    from credit_balances b
    join unnest($1::uuid[], $2::text[]) as a(user_id, credit_type)
      on a.user_id = b.user_id and a.credit_type = b.credit_type
    order by b.user_id, b.credit_type
    for update of b`,
);

export const createAccount = define(
  'pw_credits_create',
  `insert into credit_balances (user_id, credit_type, updated_at) values ($1::uuid, $2::text, $3::timestamptz)
    on conflict do nothing`,
);

/**
 * The loads of many accounts whose operations need only their keys and credits (a batch of plain
 * consumptions and grants), one statement each instead of one per account: ledger rows holding any of
 * the (user, key) pairs, and the buckets with credits of every (user, credit type).
 */
export const loadKeysMany = define(
  'pw_credits_keys_many',
  `select t.* from credit_transactions t
    join unnest($1::uuid[], $2::text[]) as k(user_id, idempotency_key)
      on t.user_id = k.user_id and t.idempotency_key = k.idempotency_key
    where t.idempotency_key is not null`,
);

export const loadGrantsMany = define(
  'pw_credits_grants_many',
  `select g.* from credit_grants g
    join unnest($1::uuid[], $2::text[]) as a(user_id, credit_type)
      on g.user_id = a.user_id and g.credit_type = a.credit_type
    where g.remaining > 0`,
);

/** Whether an account's loads are only its keys and its buckets with credits (see loadKeysMany). */
export const plainNeeds = (needs: LoadNeeds): boolean =>
  !needs.sourceKeys.size &&
  !needs.reservationIds.size &&
  !needs.grantIds.size &&
  !needs.reservationsByKey &&
  !needs.allowanceSources.size;

/** A statement whose text depends on the batch: run with its values inlined, never prepared. */
const adhoc = (text: string, params: unknown[]): Statement => ({ name: '', text, params });

export interface LoadStatements {
  keys: Statement | null;
  reservations: Statement | null;
  grants: Statement;
}

/**
 * What a batch reads after taking the lock (so it sees what earlier holders committed): ledger rows
 * holding its keys, the reservations it settles or that its keys point to, and the buckets with credits
 * or that those reservations hold from. Plain statements with only the conditions the batch needs:
 * measured, they cost a third of one generic statement covering every case.
 */
export function loadStatements(userId: string, creditType: string, needs: LoadNeeds): LoadStatements {
  const keys = pgArray(needs.keys);
  const keyWhere: string[] = [];
  const keyParams: unknown[] = [userId];
  if (needs.keys.size) {
    keyParams.push(keys);
    keyWhere.push(`(user_id = $1::uuid and idempotency_key = any($${keyParams.length}::text[]))`);
  }
  if (needs.sourceKeys.size) {
    keyParams.push(pgArray(needs.sourceKeys));
    keyWhere.push(`source_key = any($${keyParams.length}::text[])`);
  }
  const resWhere: string[] = [];
  const resParams: unknown[] = [userId, creditType];
  if (needs.reservationIds.size) {
    resParams.push(pgArray(needs.reservationIds));
    resWhere.push(`id = any($${resParams.length}::uuid[])`);
  }
  if (needs.reservationsByKey && needs.keys.size) {
    resParams.push(keys);
    resWhere.push(`id in (select reservation_id from credit_transactions where user_id = $1::uuid
      and idempotency_key = any($${resParams.length}::text[]) and reservation_id is not null)`);
  }
  const grantParams: unknown[] = [userId, creditType];
  let grantExtra = '';
  if (needs.grantIds.size) {
    grantParams.push(pgArray(needs.grantIds));
    grantExtra += ` or id = any($${grantParams.length}::uuid[])`;
  }
  if (needs.reservationIds.size) {
    grantParams.push(pgArray(needs.reservationIds));
    grantExtra += ` or id in (select (a->>'grant_id')::uuid from credit_reservations r,
      jsonb_array_elements(r.allocations) a where r.id = any($${grantParams.length}::uuid[]) and r.status = 'held')`;
  }
  let grantColumns = '';
  if (needs.allowanceSources.size) {
    // The previous period's buckets of a renewing subscription, even empty: once expired (usually by
    // the expiry job before the renewal is paid), their leftover is what their expiration rows took.
    const since = Math.min(...[...needs.allowanceSources.values()].map((d) => d.getTime()));
    grantParams.push(pgArray(needs.allowanceSources.keys()));
    grantParams.push(new Date(since).toISOString());
    grantExtra += ` or (source_id = any($${grantParams.length - 1}::text[])
      and pool in ('subscription_allowance', 'rollover') and expires_at >= $${grantParams.length}::timestamptz)`;
    grantColumns = `, (select coalesce(sum(-t.amount), 0) from credit_transactions t
      where t.grant_id = g.id and t.type = 'expiration') as expired_amount`;
  }
  return {
    keys: keyWhere.length
      ? adhoc(`select * from credit_transactions where ${keyWhere.join(' or ')}`, keyParams)
      : null,
    reservations: resWhere.length
      ? adhoc(
          `select * from credit_reservations where user_id = $1::uuid and credit_type = $2::text
            and (${resWhere.join(' or ')})`,
          resParams,
        )
      : null,
    grants: adhoc(
      `select g.*${grantColumns} from credit_grants g where user_id = $1::uuid and credit_type = $2::text
        and (remaining > 0${grantExtra})`,
      grantParams,
    ),
  };
}

const OPTIONAL_FIELDS = [
  'description',
  'reference_id',
  'idempotency_key',
  'source_key',
  'grant_id',
  'reservation_id',
  'pool',
  'allocations',
  'actor_id',
] as const;

/** A ledger row as JSON without its empty fields (absent keys read as NULL): smaller batches to send. */
function leanRow(r: LedgerRow, owner: { user_id: string; credit_type: string }): Record<string, unknown> {
  const o: Record<string, unknown> = {
    ...owner,
    id: r.id,
    seq: r.seq,
    type: r.type,
    amount: r.amount,
    balance_before: r.balance_before,
    balance_after: r.balance_after,
  };
  for (const k of OPTIONAL_FIELDS) if (r[k] !== null) o[k] = r[k];
  return o;
}

const reservationJson = (r: Reservation) => ({
  id: r.id,
  amount: r.amount,
  committed_amount: r.committedAmount,
  status: r.status,
  expires_at: r.expiresAt.toISOString(),
  idempotency_key: r.idempotencyKey,
  description: r.description,
  allocations: r.allocations,
  reserve_transaction_id: r.reserveTransactionId,
  usage_transaction_id: r.usageTransactionId,
  created_at: r.createdAt.toISOString(),
  settled_at: r.settledAt?.toISOString() ?? null,
});

/** The columns of each JSON array the write takes apart (jsonb_to_recordset). */
const ROW_COLUMNS = `id uuid, user_id uuid, credit_type text, seq bigint, type text, amount bigint,
  balance_before bigint, balance_after bigint, description text, reference_id text, idempotency_key text,
  source_key text, grant_id uuid, reservation_id uuid, pool text, allocations jsonb, actor_id uuid`;

/**
 * The text of the write of a batch. Guarded (`guard`): every part only if `ok` holds - every account row
 * still holds exactly the totals the batch was computed from (locked, in the same order as lockAccounts)
 * and no ledger row of the user holds any of the batch's keys - and the statement returns the accounts
 * it updated, so that a miss (no row) is known to have written nothing.
 */
function writeText(guard: boolean): string {
  const only = guard ? ' where exists (select from ok)' : '';
  const andOnly = guard ? ' and exists (select from ok)' : '';
  const was = guard
    ? ', was_balance bigint, was_reserved bigint, was_debt bigint, was_used bigint, was_seq bigint'
    : '';
  const ok = guard
    ? `locked as (
      select b.user_id from credit_balances b
      join jsonb_to_recordset($7::jsonb) as w(user_id uuid, credit_type text${was})
        on b.user_id = w.user_id and b.credit_type = w.credit_type
      where b.user_id = any($10::uuid[]) and b.balance = w.was_balance and b.reserved = w.was_reserved
        and b.debt = w.was_debt and b.used = w.was_used and b.seq = w.was_seq
      order by b.user_id, b.credit_type
      for update of b),
    ok as (
      select from (select count(*) as n from locked) c
      where c.n = jsonb_array_length($7::jsonb) and not exists (
        select from credit_transactions t
        join unnest($11::uuid[], $12::text[]) as k(user_id, idempotency_key)
          on t.user_id = k.user_id and t.idempotency_key = k.idempotency_key
        where t.idempotency_key is not null)),
    `
    : '';
  return `with ${ok}rows as (
      insert into credit_transactions (id, user_id, credit_type, seq, type, amount, balance_before,
        balance_after, description, reference_id, idempotency_key, source_key, grant_id, reservation_id, pool,
        allocations, actor_id, created_at)
      select x.id, x.user_id, x.credit_type, x.seq, x.type, x.amount, x.balance_before, x.balance_after,
        x.description, x.reference_id, x.idempotency_key, x.source_key, x.grant_id, x.reservation_id, x.pool,
        x.allocations, x.actor_id, $1::timestamptz
      from jsonb_to_recordset($2::jsonb) as x(${ROW_COLUMNS})${only}),
    new_grants as (
      insert into credit_grants (id, user_id, credit_type, pool, amount, remaining, expires_at, source_type,
        source_id, reference_id, cost_microcents, description, granted_by, created_at, expired_at)
      select x.id, x.user_id, x.credit_type, x.pool, x.amount, x.remaining, x.expires_at, x.source_type,
        x.source_id, x.reference_id, x.cost_microcents, x.description, x.granted_by, $1::timestamptz,
        x.expired_at
      from jsonb_to_recordset($3::jsonb) as x(id uuid, user_id uuid, credit_type text, pool text,
        amount bigint, remaining bigint, expires_at timestamptz, source_type text, source_id text,
        reference_id text, cost_microcents bigint, description text, granted_by uuid, expired_at timestamptz)${only}),
    changed_grants as (
      update credit_grants g set remaining = x.remaining, expired_at = x.expired_at
      from jsonb_to_recordset($4::jsonb) as x(id uuid, remaining bigint, expired_at timestamptz)
      where g.id = x.id and g.id = any($8::uuid[])${andOnly}),
    new_holds as (
      insert into credit_reservations (id, user_id, credit_type, amount, committed_amount, status,
        expires_at, idempotency_key, description, allocations, reserve_transaction_id, usage_transaction_id,
        created_at, settled_at)
      select x.id, x.user_id, x.credit_type, x.amount, x.committed_amount, x.status, x.expires_at,
        x.idempotency_key, x.description, x.allocations, x.reserve_transaction_id, x.usage_transaction_id,
        x.created_at, x.settled_at
      from jsonb_to_recordset($5::jsonb) as x(id uuid, user_id uuid, credit_type text, amount bigint,
        committed_amount bigint, status text, expires_at timestamptz, idempotency_key text, description text,
        allocations jsonb, reserve_transaction_id uuid, usage_transaction_id uuid, created_at timestamptz,
        settled_at timestamptz)${only}),
    changed_holds as (
      update credit_reservations r set status = x.status, committed_amount = x.committed_amount,
        usage_transaction_id = x.usage_transaction_id, settled_at = x.settled_at
      from jsonb_to_recordset($6::jsonb) as x(id uuid, status text, committed_amount bigint,
        usage_transaction_id uuid, settled_at timestamptz)
      where r.id = x.id and r.id = any($9::uuid[])${andOnly})
  update credit_balances b set balance = x.balance, reserved = x.reserved, debt = x.debt, used = x.used,
    seq = x.seq, updated_at = $1::timestamptz
  from jsonb_to_recordset($7::jsonb) as x(user_id uuid, credit_type text, balance bigint, reserved bigint,
    debt bigint, used bigint, seq bigint)
  where b.user_id = x.user_id and b.credit_type = x.credit_type and b.user_id = any($10::uuid[])${andOnly}${guard ? '\n  returning b.user_id' : ''}`;
}

const write = define('pw_credits_write_many', writeText(false));
const writeGuarded = define('pw_credits_write_guarded', writeText(true));

export interface Totals {
  balance: number;
  reserved: number;
  debt: number;
  used: number;
  seq: number;
}

export interface Changes {
  rows: LedgerRow[];
  newBuckets: Bucket[];
  changedBuckets: Bucket[];
  newReservations: Reservation[];
  changedReservations: Reservation[];
}

/** What one account's batch changed, ready to be written with other accounts' changes. */
export interface AccountWrite {
  userId: string;
  creditType: string;
  changes: Changes;
  totals: Totals;
}

/**
 * What a guarded write checks before writing anything: the totals each account (in the order of the
 * write's accounts) was computed from, and the (user, key) pairs that no ledger row may hold yet.
 */
export interface WriteGuard {
  was: Totals[];
  keys: { userId: string; key: string }[];
}

/**
 * Everything a batch changed on any number of accounts, in one statement (data-modifying CTEs over JSON
 * arrays; one fixed text, prepared once): a batch of many customers' single consumptions costs one
 * statement, not one per account.
 */
export function writeStatement(now: Date, accounts: AccountWrite[], guard?: WriteGuard): Statement {
  const rows: Record<string, unknown>[] = [];
  const newBuckets: Record<string, unknown>[] = [];
  const changedBuckets: Record<string, unknown>[] = [];
  const newHolds: Record<string, unknown>[] = [];
  const changedHolds: Record<string, unknown>[] = [];
  const changedBucketIds: string[] = [];
  const changedHoldIds: string[] = [];
  const totals: Record<string, unknown>[] = [];
  for (const { userId, creditType, changes: c, totals: t } of accounts) {
    const owner = { user_id: userId, credit_type: creditType };
    for (const r of c.rows) rows.push(leanRow(r, owner));
    for (const b of c.newBuckets)
      newBuckets.push({
        ...owner,
        id: b.id,
        pool: b.pool,
        amount: b.amount,
        remaining: b.remaining,
        expires_at: b.expiresAt?.toISOString() ?? null,
        source_type: b.sourceType,
        source_id: b.sourceId,
        reference_id: b.referenceId,
        cost_microcents: b.costMicrocents,
        description: b.description,
        granted_by: b.grantedBy,
        expired_at: b.expiredAt?.toISOString() ?? null,
      });
    for (const b of c.changedBuckets) {
      changedBuckets.push({
        id: b.id,
        remaining: b.remaining,
        expired_at: b.expiredAt?.toISOString() ?? null,
      });
      changedBucketIds.push(b.id);
    }
    for (const r of c.newReservations) newHolds.push({ ...owner, ...reservationJson(r) });
    for (const r of c.changedReservations) {
      changedHolds.push(reservationJson(r));
      changedHoldIds.push(r.id);
    }
    const was = guard?.was[totals.length];
    totals.push({
      ...owner,
      balance: t.balance,
      reserved: t.reserved,
      debt: t.debt,
      used: t.used,
      seq: t.seq,
      ...(was && {
        was_balance: was.balance,
        was_reserved: was.reserved,
        was_debt: was.debt,
        was_used: was.used,
        was_seq: was.seq,
      }),
    });
  }
  const params = [
    now.toISOString(),
    JSON.stringify(rows),
    JSON.stringify(newBuckets),
    JSON.stringify(changedBuckets),
    JSON.stringify(newHolds),
    JSON.stringify(changedHolds),
    JSON.stringify(totals),
    // The ids again as arrays: an index condition for the updates, whatever the plan guessed of the JSON.
    pgArray(changedBucketIds),
    pgArray(changedHoldIds),
    pgArray(accounts.map((a) => a.userId)),
  ];
  if (!guard) return write(params);
  if (guard.was.length !== accounts.length) throw new Error('credits: a guarded write needs every account');
  return writeGuarded([
    ...params,
    pgArray(guard.keys.map((k) => k.userId)),
    pgArray(guard.keys.map((k) => k.key)),
  ]);
}

/** The statement for drizzle (any driver, any transaction). */
export const toSql = (s: Statement): SQL => numberedSql(s.text, s.params);

/**
 * A session that runs several statements per round trip (simple query protocol, values inlined as
 * literals): a pg pool client, or PGlite inside one of its transactions. `owner` is what prepared
 * statements belong to (the connection; PGlite's one session), `escape` quotes a string literal.
 */
export interface SqlSession {
  owner: object;
  escape(text: string): string;
  run(text: string): Promise<{ rows: Record<string, unknown>[] }[]>;
}

const prepared = new WeakMap<object, Set<string>>();

/** A literal for any parameter value: dollar-quoted (no escaping needed) unless the text could close it. */
function literal(session: SqlSession, v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  const text = String(v);
  return `${text}$`.includes('$pw$') ? session.escape(text) : `$pw$${text}$pw$`;
}

/**
 * `EXECUTE name(literals)` for a multi-statement simple query (an unnamed statement: its text with the
 * literals inlined). Statements this session has not prepared yet are added to `prepare` (run them
 * first, then `markPrepared`): prepared statements live per session (and survive rollbacks), so each
 * connection plans each statement once.
 */
export function executeText(session: SqlSession, s: Statement, prepare: Map<string, string>): string {
  if (!s.name) return s.text.replace(/\$(\d+)/g, (_, n: string) => literal(session, s.params[Number(n) - 1]));
  if (!prepared.get(session.owner)?.has(s.name)) prepare.set(s.name, `prepare ${s.name} as ${s.text}`);
  return `execute ${s.name}(${s.params.map((p) => literal(session, p)).join(', ')})`;
}

export function markPrepared(session: SqlSession, names: Iterable<string>): void {
  let done = prepared.get(session.owner);
  if (!done) {
    done = new Set();
    prepared.set(session.owner, done);
  }
  for (const n of names) done.add(n);
}
