/**
 * Benchmark 5: start-up. `npm start` (the embedded default: PGlite, the in-process emulator, the demo
 * catalog) spawned as a user runs it, timed to the first 200 on /healthz: with an empty data directory
 * and again with the one it left. Baseline: a bare node:http server launched the same way (npm + tsx), so
 * the ratio is what Paywire adds to the launcher. RSS of the server process at rest.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Entry, entry } from './lib/results';
import { rssMbOf, serverScript } from './lib/servers';
import { sleep } from './lib/stats';

const root = fileURLToPath(new URL('..', import.meta.url));
const RUNS = 2;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Every descendant of `pid` (from /proc), so the server process behind npm and tsx can be found. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) {
      if (pp !== p) continue;
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

interface Started {
  ms: number;
  rssMb: number;
}

async function timeToHealthy(cmd: string[], env: Record<string, string>, port: number): Promise<Started> {
  const t0 = performance.now();
  const child: ChildProcess = spawn(cmd[0]!, cmd.slice(1), {
    cwd: root,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${cmd.join(' ')} exited:\n${out}`);
      if (performance.now() - t0 > 60_000)
        throw new Error(`${cmd.join(' ')}: no 200 on /healthz in 60 s:\n${out}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) break;
      await sleep(10);
    }
    const ms = performance.now() - t0;
    await sleep(1_000);
    const rssMb = Math.max(
      0,
      ...descendants(child.pid!)
        .map((p) => rssMbOf(p))
        .filter(Number.isFinite),
    );
    return { ms, rssMb };
  } finally {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    const killer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }, 10_000);
    await exited;
    clearTimeout(killer);
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function benchStartup(ctx: { log(m: string): void }): Promise<Entry[]> {
  const fresh: Started[] = [];
  const existing: Started[] = [];
  const bare: Started[] = [];
  const dirs: string[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const dataDir = mkdtempSync(join(tmpdir(), 'paywire-bench-start-'));
      dirs.push(dataDir);
      const env = {
        PAYWIRE_DATA_DIR: dataDir,
        STRIPE_EMULATOR_PORT: String(await freePort()),
        LOG_LEVEL: 'warn',
      };
      ctx.log(`start-up ${i + 1}/${RUNS}: npm start, empty data directory`);
      fresh.push(await timeToHealthy(['npm', 'start', '--silent'], env, await freePort()));
      ctx.log(`start-up ${i + 1}/${RUNS}: npm start, existing data directory`);
      existing.push(await timeToHealthy(['npm', 'start', '--silent'], env, await freePort()));
      ctx.log(`start-up ${i + 1}/${RUNS}: bare node:http through npm exec tsx`);
      bare.push(
        await timeToHealthy(
          ['npm', 'exec', '--silent', '--', 'tsx', serverScript('bare-http')],
          {},
          await freePort(),
        ),
      );
    }
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  const runs = (xs: Started[]) => xs.map((x) => Math.round(x.ms)).join(', ');
  const baseline = mean(bare.map((b) => b.ms));
  return [
    entry({
      name: 'startup_ms',
      figure: mean(fresh.map((s) => s.ms)),
      unit: 'ms',
      baseline,
      baselineName: 'bare node:http via npm + tsx',
      better: 'lower',
      note: `npm start to the first 200 on /healthz, empty data directory (migrations, emulator, demo catalog); runs ${runs(fresh)} ms`,
    }),
    entry({
      name: 'startup_existing_ms',
      figure: mean(existing.map((s) => s.ms)),
      unit: 'ms',
      baseline,
      baselineName: 'bare node:http via npm + tsx',
      better: 'lower',
      note: `the same with the data directory of the previous start; runs ${runs(existing)} ms`,
    }),
    entry({
      name: 'rss_startup_rest_mb',
      figure: Math.max(...fresh.map((s) => s.rssMb), ...existing.map((s) => s.rssMb)),
      unit: 'MB',
      baseline: Math.max(...bare.map((s) => s.rssMb)),
      baselineName: 'bare node:http via tsx',
      better: 'lower',
      note: 'the npm start server process (PGlite, emulator in process) 1 s after its first 200',
    }),
  ];
}
