/**
 * Benchmark 2: one hot customer. 64 concurrent consumers on one user, each consumption with its own
 * idempotency key and ledger row, durable (synchronous_commit on): through the library (target 10,000/s)
 * and through HTTP, against the bare transaction on one hot row. After each run the account is checked:
 * balance = initial - sum(usage rows), one row per success, no key twice, never below zero; and a budget
 * of credits is then drained by 64 consumers to show that none is ever overspent.
 * Alone: `npm run bench -- --only consume_hot`.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { queryRows } from '../src/db/client';
import { AppError } from '../src/lib/errors';
import { newId } from '../src/lib/ids';
import { auditAccount } from '../src/modules/credits/credits.queries';
import { consume } from '../src/modules/credits/credits.service';
import { barePglite, bareConsume, seedBare } from './consume-many';
import { cannon } from './lib/cannon';
import { CONCURRENCY, type BenchContext } from './lib/context';
import { openPglite } from './lib/database';
import { CREDIT_TYPE, createUsers, grant, libraryDeps } from './lib/fixtures';
import { type Entry, entry } from './lib/results';
import { alternate, closedLoop, ROUNDS } from './lib/stats';
import type { Deps } from '../src/deps';

const INITIAL = 1e11;
const TARGET_PER_SECOND = 10_000;

/**
 * Fails loudly unless the account is exactly its initial grant minus its usage rows, with one row per
 * success: `successes` exactly, or a range over HTTP, where requests still in flight when autocannon stops
 * are completed by the server but not counted by the client.
 */
export async function verifyHotAccount(
  deps: Deps,
  userId: string,
  initial: number,
  successes: number | { min: number; max: number },
) {
  const { min, max } = typeof successes === 'number' ? { min: successes, max: successes } : successes;
  const [r] = await queryRows<Record<string, string | number | null>>(
    deps.db,
    sql`select
      (select balance from credit_balances where user_id = ${userId} and credit_type = ${CREDIT_TYPE}) as balance,
      coalesce(sum(amount), 0) as used, count(*) as rows, count(distinct idempotency_key) as keys,
      min(balance_after) as lowest
    from credit_transactions where user_id = ${userId} and credit_type = ${CREDIT_TYPE} and type = 'usage'`,
  );
  const balance = Number(r!.balance);
  const used = Number(r!.used);
  const rows = Number(r!.rows);
  const problems: string[] = [];
  if (balance !== initial + used) problems.push(`balance ${balance} != initial ${initial} - ledger ${-used}`);
  if (rows < min || rows > max)
    problems.push(`${rows} usage rows for ${min}..${max} successful consumptions`);
  if (Number(r!.keys) !== rows) problems.push(`${rows} usage rows but ${r!.keys} distinct idempotency keys`);
  if (r!.lowest !== null && Number(r!.lowest) < 0) problems.push(`balance went to ${r!.lowest}`);
  if (balance < 0) problems.push(`final balance ${balance} < 0`);
  const audit = await auditAccount(deps.db, userId, CREDIT_TYPE);
  if (!audit.ok) problems.push(`ledger audit: ${JSON.stringify(audit)}`);
  if (problems.length) throw new Error(`hot account ${userId} is inconsistent:\n  ${problems.join('\n  ')}`);
  return { balance, used: -used, rows };
}

const isInsufficient = (err: unknown) => err instanceof AppError && err.code === 'insufficient_credits';

/** 64 consumers drain a small budget with amounts of 1-3: exactly the budget is consumed, never more. */
async function drain(deps: Deps, budget: number) {
  const [userId] = await createUsers(deps.database, 1);
  await grant(deps, [userId!], budget);
  let consumed = 0;
  let successes = 0;
  let n = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      let amount = 1 + (w % 3);
      for (;;) {
        try {
          await consume(deps, {
            userId: userId!,
            creditType: CREDIT_TYPE,
            amount,
            idempotencyKey: `d${n++}`,
          });
          consumed += amount;
          successes++;
        } catch (err) {
          if (!isInsufficient(err)) throw err;
          if (amount === 1) return;
          amount = 1;
        }
      }
    }),
  );
  const v = await verifyHotAccount(deps, userId!, budget, successes);
  if (v.used !== consumed || v.balance !== 0) {
    throw new Error(
      `drain: ${consumed} of ${budget} consumed by callers, ledger says ${v.used}, balance ${v.balance}`,
    );
  }
  return { budget, successes };
}

export async function benchConsumeHot(ctx: BenchContext): Promise<Entry[]> {
  const { database, deps } = ctx;
  const [libUser, httpUser] = await createUsers(database, 2);
  await grant(deps, [libUser!, httpUser!], INITIAL);
  const bareUser = newId();
  await seedBare(database, [bareUser]);
  let n = 0;
  const bareOp = () => bareConsume(database.pool!, bareUser, `b${n++}`);
  let libOk = 0;
  const libOp = async () => {
    await consume(deps, { userId: libUser!, creditType: CREDIT_TYPE, amount: 1, idempotencyKey: `h${n++}` });
    libOk++;
  };
  let sent = 0;
  let httpOk = 0;
  const http = async (seconds: number) => {
    const r = await cannon({
      url: `${ctx.app.url}/api/v1/credits/consume`,
      connections: CONCURRENCY,
      seconds,
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.serviceKey}`, 'content-type': 'application/json' },
      setupRequest: (req) => {
        sent++;
        req.body = JSON.stringify({
          credit_type: CREDIT_TYPE,
          amount: 1,
          idempotency_key: randomUUID(),
          user_id: httpUser,
        });
        return req;
      },
    });
    httpOk += r.okTotal;
    return r;
  };
  const loop = (op: () => Promise<unknown>, seconds: number) =>
    closedLoop({ concurrency: CONCURRENCY, seconds, op });

  ctx.log('consume, one hot customer: warm-up (bare hot row, library, HTTP)');
  await loop(bareOp, ctx.warmup);
  await loop(libOp, ctx.warmup);
  await http(ctx.warmup);
  ctx.log('consume, one hot customer: bare transaction on one row, library and HTTP, alternating');
  const share = ctx.seconds / ROUNDS;
  const [bare, lib, viaHttp] = await alternate([
    () => loop(bareOp, share),
    () => loop(libOp, share),
    () => http(share),
  ]);
  const libCheck = await verifyHotAccount(deps, libUser!, INITIAL, libOk);
  const httpCheck = await verifyHotAccount(deps, httpUser!, INITIAL, { min: httpOk, max: sent });

  ctx.log('consume, one hot customer: draining a budget (overspend check)');
  const drained = await drain(deps, 5_000);
  const checked = (c: { rows: number; balance: number }) =>
    `balance ${c.balance} = initial - ${c.rows} ledger rows: checked`;

  const entries = [
    entry({
      name: 'consume_hot_library',
      figure: lib.rate,
      unit: 'consumptions/s',
      baseline: bare.rate,
      baselineName: 'bare tx, one hot row',
      target: TARGET_PER_SECOND,
      targetOn: 'figure',
      latency: lib,
      baselineLatency: bare,
      note: `${CONCURRENCY} consumers on one user; ${checked(libCheck)}; drained ${drained.budget} credits in ${drained.successes} calls, none overspent`,
    }),
    entry({
      name: 'consume_hot_http',
      figure: viaHttp.rate,
      unit: 'consumptions/s',
      baseline: bare.rate,
      baselineName: 'bare tx, one hot row',
      latency: viaHttp,
      note: `autocannon, ${CONCURRENCY} connections on one user; ${checked(httpCheck)}`,
    }),
  ];
  if (ctx.pglite) entries.push(await pgliteHot(ctx));
  return entries;
}

async function pgliteHot(ctx: BenchContext): Promise<Entry> {
  const database = await openPglite();
  try {
    const deps = await libraryDeps(database, { bus: false });
    const [user] = await createUsers(database, 1);
    await grant(deps, [user!], INITIAL);
    const bareUser = newId();
    await seedBare(database, [bareUser]);
    ctx.log('consume, one hot customer: PGlite bare and library');
    const bareTx = barePglite(database);
    let n = 0;
    let ok = 0;
    const bareOp = () => bareTx(bareUser, `b${n++}`);
    const libOp = async () => {
      await consume(deps, { userId: user!, creditType: CREDIT_TYPE, amount: 1, idempotencyKey: `h${n++}` });
      ok++;
    };
    const loop = (op: () => Promise<unknown>, seconds: number) =>
      closedLoop({ concurrency: CONCURRENCY, seconds, op });
    await loop(bareOp, 1);
    await loop(libOp, 1);
    const share = Math.max(2, ctx.seconds / 2) / ROUNDS;
    const [bare, lib] = await alternate([() => loop(bareOp, share), () => loop(libOp, share)]);
    const c = await verifyHotAccount(deps, user!, INITIAL, ok);
    return entry({
      name: 'consume_hot_library_pglite',
      figure: lib.rate,
      unit: 'consumptions/s',
      baseline: bare.rate,
      baselineName: 'bare tx, one hot row (PGlite)',
      latency: lib,
      baselineLatency: bare,
      note: `embedded PGlite (data directory on disk); balance ${c.balance} = initial - ${c.rows} ledger rows: checked`,
    });
  } finally {
    await database.close();
  }
}
