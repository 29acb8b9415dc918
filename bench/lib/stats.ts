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
