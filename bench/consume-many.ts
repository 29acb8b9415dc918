/**
 * Benchmark 1: credit consumption, many customers. 64 callers, each on its own user: through the library
 * (consume, batching per account), through HTTP (POST /credits/consume with a service key), against the
 * bare transaction "conditional UPDATE of a balance row + INSERT of a ledger row" with the same driver
 * (pg), pool and concurrency.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Database } from '../src/db/client';
import { newId } from '../src/lib/ids';
import { auditAccount } from '../src/modules/credits/credits.queries';
import { consume } from '../src/modules/credits/credits.service';
import { cannon } from './lib/cannon';
import { openPglite } from './lib/database';
import { CONCURRENCY, type BenchContext } from './lib/context';
import { CREDIT_TYPE, createUsers, grant, libraryDeps } from './lib/fixtures';
import { type Entry, entry } from './lib/results';
import { alternate, closedLoop, ROUNDS } from './lib/stats';

const INITIAL = 1e11;

/** The bare transaction, as direct as pg allows: named (prepared) statements, one pooled client. */
export async function bareConsume(pool: pg.Pool, userId: string, key: string) {
  const c = await pool.connect();
  try {
    await c.query('begin');
    const u = await c.query({
      name: 'bare_update',
      text: 'update bare_balances set balance = balance - $3 where user_id = $1 and credit_type = $2 and balance >= $3',
      values: [userId, CREDIT_TYPE, 1],
    });
    if (u.rowCount !== 1) throw new Error('bare balance exhausted');
    await c.query({
      name: 'bare_insert',
      text: 'insert into bare_ledger (id, user_id, credit_type, amount, idempotency_key) values ($1, $2, $3, $4, $5)',
      values: [newId(), userId, CREDIT_TYPE, -1, key],
    });
    await c.query('commit');
  } catch (err) {
    await c.query('rollback').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

/** The same on PGlite (one connection: its transactions run one at a time). */
export function barePglite(database: Database) {
  const pglite = database.pglite!;
  return (userId: string, key: string) =>
    pglite.transaction(async (tx) => {
      const u = await tx.query(
        'update bare_balances set balance = balance - $3 where user_id = $1 and credit_type = $2 and balance >= $3',
        [userId, CREDIT_TYPE, 1],
      );
      if (u.affectedRows !== 1) throw new Error('bare balance exhausted');
      await tx.query(
        'insert into bare_ledger (id, user_id, credit_type, amount, idempotency_key) values ($1, $2, $3, $4, $5)',
        [newId(), userId, CREDIT_TYPE, -1, key],
      );
    });
}

export async function seedBare(database: Database, userIds: string[]) {
  const values = userIds.map((u) => `('${u}', '${CREDIT_TYPE}', ${INITIAL})`).join(',');
  const text = `insert into bare_balances (user_id, credit_type, balance) values ${values}`;
  if (database.pool) await database.pool.query(text);
  else await database.pglite!.exec(text);
}

export async function benchConsumeMany(ctx: BenchContext): Promise<Entry[]> {
  const { database, deps } = ctx;
  const users = await createUsers(database, CONCURRENCY);
  await grant(deps, users, INITIAL);
  await seedBare(database, users);
  let n = 0;
  const bareOp = (w: number) => bareConsume(database.pool!, users[w]!, `b${n++}`);
  const libOp = (w: number) =>
    consume(deps, { userId: users[w]!, creditType: CREDIT_TYPE, amount: 1, idempotencyKey: `l${n++}` });
  let next = 0;
  const http = (seconds: number) =>
    cannon({
      url: `${ctx.app.url}/api/v1/credits/consume`,
      connections: CONCURRENCY,
      seconds,
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.serviceKey}`, 'content-type': 'application/json' },
      setupRequest: (req, c) => {
        c.user ??= users[next++ % users.length];
        req.body = JSON.stringify({
          credit_type: CREDIT_TYPE,
          amount: 1,
          idempotency_key: randomUUID(),
          user_id: c.user,
        });
        return req;
      },
    });
  const loop = (op: (w: number) => Promise<unknown>, seconds: number) =>
    closedLoop({ concurrency: CONCURRENCY, seconds, op });

  ctx.log('consume, many customers: warm-up (bare, library, HTTP)');
  await loop(bareOp, ctx.warmup);
  await loop(libOp, ctx.warmup);
  await http(ctx.warmup);
  ctx.log('consume, many customers: bare transaction, library and HTTP, alternating');
  const share = ctx.seconds / ROUNDS;
  const [bare, lib, viaHttp] = await alternate([
    () => loop(bareOp, share),
    () => loop(libOp, share),
    () => http(share),
  ]);
  for (const u of users) {
    const audit = await auditAccount(database.db, u, CREDIT_TYPE);
    if (!audit.ok) throw new Error(`ledger audit failed for ${u}: ${JSON.stringify(audit)}`);
  }

  const entries = [
    entry({
      name: 'consume_many_library',
      figure: lib.rate,
      unit: 'consumptions/s',
      baseline: bare.rate,
      baselineName: 'bare UPDATE+INSERT tx',
      target: 0.8,
      latency: lib,
      baselineLatency: bare,
      note: `${CONCURRENCY} callers on ${CONCURRENCY} users, pg pool ${database.pool!.options.max}`,
    }),
    entry({
      name: 'consume_many_http',
      figure: viaHttp.rate,
      unit: 'consumptions/s',
      baseline: bare.rate,
      baselineName: 'bare UPDATE+INSERT tx',
      latency: viaHttp,
      note: `autocannon, ${CONCURRENCY} keep-alive connections, service key with user_id`,
    }),
  ];
  if (ctx.pglite) entries.push(await pgliteMany(ctx));
  return entries;
}

async function pgliteMany(ctx: BenchContext): Promise<Entry> {
  const database = await openPglite();
  try {
    const deps = await libraryDeps(database, { bus: false });
    const users = await createUsers(database, CONCURRENCY);
    await grant(deps, users, INITIAL);
    await seedBare(database, users);
    ctx.log('consume, many customers: PGlite bare and library');
    const bareTx = barePglite(database);
    let n = 0;
    const bareOp = (w: number) => bareTx(users[w]!, `b${n++}`);
    const libOp = (w: number) =>
      consume(deps, { userId: users[w]!, creditType: CREDIT_TYPE, amount: 1, idempotencyKey: `l${n++}` });
    const loop = (op: (w: number) => Promise<unknown>, seconds: number) =>
      closedLoop({ concurrency: CONCURRENCY, seconds, op });
    await loop(bareOp, 1);
    await loop(libOp, 1);
    const share = Math.max(2, ctx.seconds / 2) / ROUNDS;
    const [bare, lib] = await alternate([() => loop(bareOp, share), () => loop(libOp, share)]);
    return entry({
      name: 'consume_many_library_pglite',
      figure: lib.rate,
      unit: 'consumptions/s',
      baseline: bare.rate,
      baselineName: 'bare UPDATE+INSERT tx (PGlite)',
      latency: lib,
      baselineLatency: bare,
      note: 'embedded PGlite (data directory on disk); one connection',
    });
  } finally {
    await database.close();
  }
}
