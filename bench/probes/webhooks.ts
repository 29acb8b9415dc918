/**
 * Where a webhook's cost goes, per event type: CPU time per event of the product's process, of
 * PostgreSQL (all its processes) and of the emulator, read from /proc before and after a fixed load of
 * one group of the benchmark's mix (bench/webhooks.ts) at concurrency 16, with commits per event.
 * CPU per event moves much less with the machine's load than events per second do, which makes it the
 * figure to compare before and after a change. Linux only (/proc).
 *
 *   npm run bench:probe-webhooks                                  # every group
 *   PROBE_ONLY=ignored,handled,invoice.paid npm run bench:probe-webhooks
 *   PROBE_SECONDS=6 PROBE_NODE_ARGS='--cpu-prof --cpu-prof-dir=prof' npm run bench:probe-webhooks
 *   PROBE_EMULATOR_NODE_ARGS='--cpu-prof --cpu-prof-dir=prof-emulator' npm run bench:probe-webhooks
 *
 * Groups: `warm` (the mix, to warm the JIT and do the first, real, fulfilments), `mix`, `ignored` (types
 * without a handler), `handled`, then each handled type alone; `bare` sends the mix to the benchmark's
 * baseline ("verify + one INSERT", bench/servers/bare-webhook.ts) instead. `load gen` is this process's
 * own CPU per event (autocannon, signing): both sides pay it in the benchmark.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { cannon } from '../lib/cannon';
import { createBenchDatabase } from '../lib/database';
import { libraryDeps } from '../lib/fixtures';
import { serverScript, startApp, startChild } from '../lib/servers';
import { isHandled, templates, WEBHOOK_SECRET } from '../webhooks';

const TICK_MS = 10;

/** CPU time (user + system, ms) of some processes so far. */
function cpuMs(pids: string[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop()!.trim().split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended between listing and reading.
    }
  }
  return ticks * TICK_MS;
}

function postgresPids(): string[] {
  return readdirSync('/proc').filter((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('postgres');
    } catch {
      return false;
    }
  });
}

const pg = await createBenchDatabase();
const db = await pg.open(2);
const emulator = await startChild(
  serverScript('emulator'),
  {},
  {
    nodeArgs: process.env.PROBE_EMULATOR_NODE_ARGS?.split(' ').filter(Boolean),
  },
);
const app = await startApp(
  pg.url,
  mkdtempSync(join(tmpdir(), 'paywire-probe-')),
  {
    STRIPE_API_BASE: emulator.url,
    STRIPE_SECRET_KEY: 'sk_test_bench',
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  },
  process.env.PROBE_NODE_ARGS,
);
const bare = await startChild(serverScript('bare-webhook'), {
  DATABASE_URL: pg.url,
  STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  POOL_SIZE: '20',
});
try {
  const deps = await libraryDeps(db, { bus: false });
  const mix = await templates({ emulatorUrl: emulator.url, appUrl: app.url, deps });
  const groups: Record<string, Stripe.Event[]> = {
    warm: mix,
    mix,
    ignored: mix.filter((e) => !isHandled(e)),
    handled: mix.filter(isHandled),
    bare: mix,
  };
  for (const e of mix.filter(isHandled)) {
    const byType = groups[e.type] ?? [];
    byType.push(e);
    groups[e.type] = byType;
  }
  const only = process.env.PROBE_ONLY?.split(',');
  const seconds = Number(process.env.PROBE_SECONDS ?? 4);
  const run = Date.now().toString(36);
  let seq = 0;
  const commits = async () =>
    (
      await db.pool!.query<{ c: number }>(
        'select xact_commit::int as c from pg_stat_database where datname = current_database()',
      )
    ).rows[0]!.c;
  for (const [name, events] of Object.entries(groups)) {
    if (only && !only.includes(name)) continue;
    const load = (s: number) =>
      cannon({
        url: `${name === 'bare' ? bare.url : app.url}/api/v1/webhooks/stripe`,
        connections: 16,
        seconds: s,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => {
          const n = seq++;
          const payload = JSON.stringify({ ...events[n % events.length]!, id: `evt_probe_${run}_${n}` });
          req.body = payload;
          req.headers = {
            ...req.headers,
            'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }),
          };
          return req;
        },
      });
    await load(1);
    const pgPids = postgresPids();
    const server = String(name === 'bare' ? bare.pid : app.pid);
    const own0 = process.cpuUsage();
    const before = { app: cpuMs([server]), emu: cpuMs([String(emulator.pid)]), pg: cpuMs(pgPids) };
    const c0 = await commits();
    const r = await load(seconds);
    const c1 = await commits();
    const own = process.cpuUsage(own0);
    const after = { app: cpuMs([server]), emu: cpuMs([String(emulator.pid)]), pg: cpuMs(pgPids) };
    const us = (ms: number) => ((ms * 1000) / r.ok).toFixed(0).padStart(5);
    console.log(
      `${name.padEnd(34)} ${r.rate.toFixed(0).padStart(6)}/s  app ${us(after.app - before.app)} us` +
        `  postgres ${us(after.pg - before.pg)} us  emulator ${us(after.emu - before.emu)} us` +
        `  load gen ${us((own.user + own.system) / 1000)} us  commits/event ${((c1 - c0) / r.ok).toFixed(2)}`,
    );
  }
} catch (err) {
  // What the product logged at error level (a handler that failed answers 500) says why.
  const errors = app
    .output()
    .split('\n')
    .filter((l) => l.includes('"level":50'));
  console.error(errors.slice(-5).join('\n'));
  throw err;
} finally {
  await app.stop();
  await bare.stop();
  await emulator.stop();
  await db.close();
  await pg.drop();
}
process.exit(0);
