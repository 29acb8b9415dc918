/**
 * Benchmark 3: entitlement checks. GET /api/v1/entitlements/check over keep-alive HTTP (a service key
 * asking about 64 users) against a bare node:http server answering the same JSON as a constant, with the
 * same autocannon settings; the app's RSS at rest and under that load; and library check latency
 * (cached, and uncached = every question read from the database) against one bare round trip.
 */
import { sql } from 'drizzle-orm';
import type { Database } from '../src/db/client';
import type { Deps } from '../src/deps';
import { check, grant, transact } from '../src/modules/entitlements/entitlements.service';
import { cannon } from './lib/cannon';
import { CONCURRENCY, type BenchContext } from './lib/context';
import { openPglite } from './lib/database';
import { createUsers, libraryDeps } from './lib/fixtures';
import { type Entry, entry } from './lib/results';
import { serverScript, startChild } from './lib/servers';
import { alternate, latencyUs, ROUNDS } from './lib/stats';

export const FEATURE = 'advanced_analytics';
const LATENCY_CALLS = 3_000;

/** `n` users, each granted FEATURE (what the check benchmark and its probe ask about). */
export async function usersWithFeature(deps: Deps, n: number) {
  const users = await createUsers(deps.database, n);
  for (const userId of users) {
    await transact(deps, (tx) =>
      grant(deps, tx, {
        userId,
        type: 'feature_unlock',
        feature: FEATURE,
        grantReason: 'promotion',
        // The app's business clock is the emulator's, read with one-second resolution: start a bit earlier.
        grantedAt: new Date(Date.now() - 60_000),
      }),
    );
  }
  return users;
}

async function libraryLatency(deps: Deps, database: Database, userId: string) {
  const ask = (d: Deps) => async () => {
    const a = await check(d, userId, { feature: FEATURE });
    if (!a.has_access) throw new Error('check answered no');
  };
  const cached = await latencyUs(ask(deps), LATENCY_CALLS);
  const uncached = await latencyUs(ask({ ...deps, invalidation: undefined }), LATENCY_CALLS);
  const roundTrip = await latencyUs(() => database.db.execute(sql`select 1`), LATENCY_CALLS);
  return { cached, uncached, roundTrip };
}

export async function benchCheck(ctx: BenchContext): Promise<Entry[]> {
  const users = await usersWithFeature(ctx.deps, CONCURRENCY);
  const path = (u: string) => `/api/v1/entitlements/check?feature=${FEATURE}&user_id=${u}`;
  const headers = { authorization: `Bearer ${ctx.serviceKey}` };
  const first = await fetch(`${ctx.app.url}${path(users[0]!)}`, { headers });
  const answer = await first.text();
  if (first.status !== 200 || !answer.includes('"has_access":true'))
    throw new Error(`check: ${first.status} ${answer}`);

  let next = 0;
  const load = (url: string, seconds: number) =>
    cannon({
      url,
      connections: CONCURRENCY,
      seconds,
      headers,
      setupRequest: (req, c) => {
        c.path ??= path(users[next++ % users.length]!);
        req.path = c.path as string;
        return req;
      },
    });
  const rssRest = ctx.app.rssMb();
  const bareServer = await startChild(serverScript('bare-http'), {});
  let bare: Awaited<ReturnType<typeof load>>;
  let http: Awaited<ReturnType<typeof load>>;
  let rssLoad: number;
  try {
    ctx.log('entitlement check: warm-up (bare node:http, app)');
    await load(bareServer.url, ctx.warmup);
    await load(ctx.app.url, ctx.warmup);
    ctx.log('entitlement check: bare node:http and app, alternating');
    const peak = ctx.app.sampleRss();
    const share = ctx.seconds / ROUNDS;
    [bare, http] = await alternate([() => load(bareServer.url, share), () => load(ctx.app.url, share)]);
    rssLoad = peak();
  } finally {
    await bareServer.stop();
  }

  ctx.log('entitlement check: library latency');
  const lib = await libraryLatency(ctx.deps, ctx.database, users[0]!);
  const rt = 'one bare SELECT 1 round trip';
  const entries = [
    entry({
      name: 'check_http',
      figure: http.rate,
      unit: 'checks/s',
      baseline: bare.rate,
      baselineName: 'bare node:http constant JSON',
      target: 0.5,
      latency: http,
      baselineLatency: bare,
      note: `autocannon, ${CONCURRENCY} keep-alive connections; service key asking about ${CONCURRENCY} users`,
    }),
    entry({
      name: 'check_library_p99_us',
      figure: lib.cached.p99,
      unit: 'us',
      baseline: lib.roundTrip.p99,
      baselineName: rt,
      better: 'lower',
      note: `cached (per-instance, LISTEN/NOTIFY invalidation); p50 ${lib.cached.p50.toFixed(1)} us`,
    }),
    entry({
      name: 'check_library_uncached_p99_us',
      figure: lib.uncached.p99,
      unit: 'us',
      baseline: lib.roundTrip.p99,
      baselineName: rt,
      better: 'lower',
      note: `every question read from PostgreSQL; p50 ${lib.uncached.p50.toFixed(1)} us (round trip p50 ${lib.roundTrip.p50.toFixed(1)} us)`,
    }),
    entry({
      name: 'rss_rest_mb',
      figure: rssRest,
      unit: 'MB',
      note: 'the app server (PostgreSQL) at rest, after the consumption benchmarks',
    }),
    entry({
      name: 'rss_check_load_mb',
      figure: rssLoad,
      unit: 'MB',
      note: 'peak during the check_http load',
    }),
  ];
  if (ctx.pglite) entries.push(await pgliteLatency(ctx));
  return entries;
}

async function pgliteLatency(ctx: BenchContext): Promise<Entry> {
  const database = await openPglite();
  try {
    const deps = await libraryDeps(database, { bus: true });
    const [user] = await usersWithFeature(deps, 1);
    ctx.log('entitlement check: PGlite library latency');
    const lib = await libraryLatency(deps, database, user!);
    await deps.invalidation?.close();
    return entry({
      name: 'check_library_uncached_p99_us_pglite',
      figure: lib.uncached.p99,
      unit: 'us',
      baseline: lib.roundTrip.p99,
      baselineName: 'one bare SELECT 1 (PGlite)',
      better: 'lower',
      note: `embedded PGlite; p50 ${lib.uncached.p50.toFixed(1)} us; cached p50/p99 ${lib.cached.p50.toFixed(1)}/${lib.cached.p99.toFixed(1)} us`,
    });
  } finally {
    await database.close();
  }
}
