/** Timing helpers: closed-loop runs with a warm-up, percentiles, the machine's load. */
import { cpus, loadavg, totalmem } from 'node:os';

export interface LoopResult {
  ops: number;
  seconds: number;
  /** Completed operations per second. */
  rate: number;
  p50Ms: number;
  p99Ms: number;
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Growable latency record (ms), sorted once at the end. */
class Latencies {
  private data = new Float64Array(1 << 16);
  private n = 0;
  push(v: number) {
    if (this.n === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.n++] = v;
  }
  sorted(): Float64Array {
    return this.data.subarray(0, this.n).sort();
  }
}

export interface LoopOptions {
  concurrency: number;
  seconds: number;
  /** Run (and discard) this long first: JIT, prepared statements, pool connections. */
  warmupSeconds?: number;
  /** One operation of worker `w` (0..concurrency-1). A rejection stops the run: benchmarks count successes only. */
  op: (w: number) => Promise<unknown>;
}

/** `concurrency` workers each running `op` back to back for a fixed time (a closed loop, like the app's callers). */
export async function closedLoop(opts: LoopOptions): Promise<LoopResult> {
  if (opts.warmupSeconds) await measure({ ...opts, seconds: opts.warmupSeconds });
  return measure(opts);
}

async function measure(opts: LoopOptions): Promise<LoopResult> {
  const lat = new Latencies();
  let ops = 0;
  const start = performance.now();
  const end = start + opts.seconds * 1000;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async (_, w) => {
      while (performance.now() < end) {
        const t = performance.now();
        await opts.op(w);
        lat.push(performance.now() - t);
        ops++;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const sorted = lat.sorted();
  return {
    ops,
    seconds,
    rate: ops / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  };
}

/** Sequential latency of `op` (microseconds) after `warmup` calls. */
export async function latencyUs(op: () => Promise<unknown>, calls: number, warmup = Math.ceil(calls / 5)) {
  for (let i = 0; i < warmup; i++) await op();
  const lat = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await op();
    lat[i] = (performance.now() - t) * 1000;
  }
  lat.sort();
  return { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), calls };
}

export function machine() {
  const c = cpus();
  return {
    cpu: `${c[0]?.model.trim() ?? 'unknown'} x${c.length}`,
    memory_gb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    load_at_start: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Measured {
  rate: number;
  p50Ms: number;
  p99Ms: number;
}

export const ROUNDS = 2;

/**
 * Runs each measurement `rounds` times, alternating (A B A B), each for its share of the time, and merges
 * each one's rounds: the machine's load drifts during a run, and alternating makes a figure and its
 * baseline see the same drift. Rates are averaged, latencies are the mean of the rounds' percentiles,
 * counters (`ok`, `okTotal`, `ops`) are summed.
 */
export async function alternate<T extends Measured[]>(
  runs: [...{ [K in keyof T]: (round: number) => Promise<T[K]> }],
  rounds = ROUNDS,
): Promise<T> {
  const fns = runs as unknown as Array<(round: number) => Promise<Record<string, unknown>>>;
  const got: Record<string, unknown>[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < fns.length; i++) got[i]!.push(await fns[i]!(r));
  }
  const summed = new Set(['ok', 'okTotal', 'ops', 'seconds', 'non2xx', 'errors']);
  return got.map((list) => {
    const merged: Record<string, unknown> = { ...list[0]! };
    for (const [k, v] of Object.entries(merged)) {
      if (typeof v !== 'number') continue;
      const total = list.reduce((a, x) => a + (x[k] as number), 0);
      merged[k] = summed.has(k) ? total : total / list.length;
    }
    return merged;
  }) as unknown as T;
}
