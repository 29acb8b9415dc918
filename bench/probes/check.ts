/**
 * Where an entitlement check's cost goes: CPU time per request of the product's process, of the bare
 * node:http baseline (bench/servers/bare-http.ts) and of this process (autocannon, which shares the
 * machine with both in the benchmark), read from /proc before and after a fixed load of the benchmark's
 * requests (bench/check.ts: 64 connections, each asking about its own user). CPU per request moves much
 * less with the machine's load than requests per second do. Linux only (/proc).
 *
 *   npm run bench:probe-check
 *   PROBE_SECONDS=6 PROBE_NODE_ARGS='--cpu-prof --cpu-prof-dir=prof' npm run bench:probe-check
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { check as checkLibrary } from '../../src/modules/entitlements/entitlements.service';
import { FEATURE, usersWithFeature } from '../check';
import { cannon } from '../lib/cannon';
import { CONCURRENCY } from '../lib/context';
import { createBenchDatabase } from '../lib/database';
import { libraryDeps, serviceKey } from '../lib/fixtures';
import { serverScript, startApp, startChild } from '../lib/servers';

const TICK_MS = 10;

/** CPU time (user + system, ms) of one process so far. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop()!.trim().split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

const pg = await createBenchDatabase();
const db = await pg.open(8);
const app = await startApp(
  pg.url,
  mkdtempSync(join(tmpdir(), 'paywire-probe-')),
  { STRIPE_ENABLED: 'false' },
  process.env.PROBE_NODE_ARGS,
);
const bare = await startChild(serverScript('bare-http'), {});
try {
  const deps = await libraryDeps(db, { bus: false });
  const users = await usersWithFeature(deps, CONCURRENCY);
  if (!(await checkLibrary(deps, users[0]!, { feature: FEATURE })).has_access) throw new Error('no access');
  const headers = { authorization: `Bearer ${await serviceKey(deps)}` };
  const seconds = Number(process.env.PROBE_SECONDS ?? 4);
  let next = 0;
  for (const [name, server] of [
    ['app', app],
    ['bare', bare],
    ['app', app],
    ['bare', bare],
  ] as const) {
    const load = (s: number) =>
      cannon({
        url: `${server.url}/api/v1/entitlements/check`,
        connections: CONCURRENCY,
        seconds: s,
        headers,
        setupRequest: (req, c) => {
          c.path ??= `/api/v1/entitlements/check?feature=${FEATURE}&user_id=${users[next++ % users.length]}`;
          req.path = c.path as string;
          return req;
        },
      });
    await load(1);
    const before = cpuMs(server.pid);
    const own0 = process.cpuUsage();
    const r = await load(seconds);
    const own = process.cpuUsage(own0);
    const us = (ms: number) => ((ms * 1000) / r.ok).toFixed(1).padStart(6);
    console.log(
      `${name.padEnd(5)} ${r.rate.toFixed(0).padStart(6)}/s  server ${us(cpuMs(server.pid) - before)} us` +
        `  load gen ${us((own.user + own.system) / 1000)} us per request`,
    );
  }
} finally {
  await app.stop();
  await bare.stop();
  await db.close();
  await pg.drop();
}
process.exit(0);
