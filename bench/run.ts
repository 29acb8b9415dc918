/**
 * `npm run bench`: every figure beside a baseline measured in the same run (SPEC section 12), printed as a
 * table and written to bench/results.json. PostgreSQL from BENCH_DATABASE_URL (a fresh database per run,
 * dropped afterwards); PGlite figures where they make sense.
 *
 *   npm run bench                          # everything (about 4 minutes on 2 cores)
 *   npm run bench -- --only consume_hot    # some benchmarks: consume_many, consume_hot, check, webhooks, startup
 *   npm run bench -- --seconds 3 --no-pglite --strict
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchCheck } from './check';
import { benchConsumeHot } from './consume-hot';
import { benchConsumeMany } from './consume-many';
import type { BenchContext } from './lib/context';
import { createBenchDatabase } from './lib/database';
import { libraryDeps, serviceKey } from './lib/fixtures';
import { type Entry, formatMarkdown, formatTable, writeResults } from './lib/results';
import { serverScript, startApp, startChild, type ChildServer } from './lib/servers';
import { machine } from './lib/stats';
import { benchStartup } from './startup';
import { benchWebhooks, WEBHOOK_SECRET } from './webhooks';

const BENCHMARKS = {
  consume_many: benchConsumeMany,
  consume_hot: benchConsumeHot,
  check: benchCheck,
  webhooks: benchWebhooks,
} as const;
const ALL = [...Object.keys(BENCHMARKS), 'startup'];

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    'no-pglite': { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    out: { type: 'string', default: fileURLToPath(new URL('./results.json', import.meta.url)) },
  },
});
const only = values.only ? values.only.split(',').map((s) => s.trim()) : ALL;
for (const name of only)
  if (!ALL.includes(name)) throw new Error(`unknown benchmark ${name}; one of ${ALL.join(', ')}`);

const started = performance.now();
const log = (m: string) =>
  console.error(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${m}`);
const info = machine();
log(
  `machine: ${info.cpu}, ${info.memory_gb} GB, node ${info.node}; load average ${info.load_at_start.join(' ')}`,
);

const entries: Entry[] = [];
const pg = await createBenchDatabase();
log(`database ${pg.name}`);
const database = await pg.open();
// Durability is part of every figure: record the settings the run had.
const settings = await database.pool!.query(
  `select current_setting('server_version') as version, current_setting('synchronous_commit') as synchronous_commit,
     current_setting('fsync') as fsync`,
);
const postgres = settings.rows[0] as Record<string, string>;
log(
  `PostgreSQL ${postgres.version}, synchronous_commit=${postgres.synchronous_commit}, fsync=${postgres.fsync}`,
);
const dataDir = mkdtempSync(join(tmpdir(), 'paywire-bench-'));
const children: ChildServer[] = [];
let failed = false;
const errors: string[] = [];
// The machine is shared: sample its load during the run, to be reported beside the figures.
const loads: number[] = [];
const sampler = setInterval(() => loads.push(loadavg()[0]!), 5_000);
let deps: Awaited<ReturnType<typeof libraryDeps>> | undefined;
try {
  deps = await libraryDeps(database);
  const needsApp = only.some((n) => n !== 'startup');
  if (needsApp) {
    const emulator = await startChild(serverScript('emulator'), {});
    children.push(emulator);
    // BENCH_APP_NODE_ARGS profiles the product under load, e.g. '--cpu-prof --cpu-prof-dir=prof'.
    const app = await startApp(
      pg.url,
      dataDir,
      {
        STRIPE_API_BASE: emulator.url,
        STRIPE_SECRET_KEY: 'sk_test_bench',
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      },
      process.env.BENCH_APP_NODE_ARGS,
    );
    children.push(app);
    const ctx: BenchContext = {
      pg,
      database,
      deps,
      app,
      emulatorUrl: emulator.url,
      serviceKey: await serviceKey(deps),
      seconds: Number(values.seconds),
      warmup: Number(values.warmup),
      pglite: !values['no-pglite'],
      log,
    };
    for (const [name, run] of Object.entries(BENCHMARKS)) {
      if (!only.includes(name)) continue;
      // One benchmark failing (an invariant check, a server error) must not hide the others' figures.
      try {
        const got = await run(ctx);
        entries.push(...got);
        console.log(`\n${formatTable(got)}\n`);
      } catch (err) {
        failed = true;
        errors.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
        console.error(`benchmark ${name} FAILED:`, err);
      }
    }
    for (const c of children.splice(0)) await c.stop();
  }
  if (only.includes('startup')) {
    const got = await benchStartup({ log });
    entries.push(...got);
    console.log(`\n${formatTable(got)}\n`);
  }
} catch (err) {
  failed = true;
  console.error(err);
} finally {
  for (const c of children) await c.stop().catch(() => {});
  await deps?.invalidation?.close();
  await database.close().catch(() => {});
  await pg.drop().catch((err) => console.error('could not drop', pg.name, err));
  rmSync(dataDir, { recursive: true, force: true });
  clearInterval(sampler);
}

const total = (performance.now() - started) / 1000;
const during = loads.length
  ? {
      min: Math.min(...loads),
      max: Math.max(...loads),
      mean: loads.reduce((a, b) => a + b, 0) / loads.length,
    }
  : null;
const loadText = during
  ? `1-minute load average during the run ${during.min.toFixed(1)}-${during.max.toFixed(1)} (mean ${during.mean.toFixed(1)}) on ${cpus().length} cores`
  : `load average at start ${info.load_at_start.join(' ')}`;
console.log(`\nPaywire benchmarks (${total.toFixed(0)} s; ${loadText})\n`);
console.log(formatTable(entries));
if (entries.length) {
  const load = during && {
    min: Math.round(during.min * 100) / 100,
    max: Math.round(during.max * 100) / 100,
    mean: Math.round(during.mean * 100) / 100,
  };
  writeResults(
    values.out,
    { ...info, postgres, load_during: load, duration_s: Math.round(total), errors },
    entries,
  );
  const md = `${values.out.replace(/\.json$/, '')}.md`;
  writeFileSync(md, `${formatMarkdown(entries)}\n`);
  console.log(`\nwritten to ${values.out} (and the table as Markdown in ${md})`);
}
const missed = entries.filter((e) => e.pass === false).map((e) => e.name);
if (missed.length) console.log(`\ntargets missed: ${missed.join(', ')}`);
for (const e of errors) console.log(`\nFAILED ${e}`);
process.exit(failed || (values.strict && missed.length) ? 1 : 0);
