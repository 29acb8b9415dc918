import { hostname } from 'node:os';
import { sql } from 'drizzle-orm';
import type pg from 'pg';
import { type Database, type Db, queryRows } from '../db/client';
import type { Clock } from '../lib/clock';
import { newId } from '../lib/ids';
import type { Logger } from '../lib/logger';
import type { Metrics } from '../metrics/metrics';

/** What the runner itself needs; jobs receive the full dependencies the runner was built with. */
export interface RunnerDeps {
  db: Db;
  database: Database;
  clock: Clock;
  wallClock: Clock;
  logger?: Logger;
  metrics?: Metrics;
}

export interface JobContext<D> {
  deps: D;
  /** Business time at the start of the run. */
  now: Date;
  runId: string;
}

export interface JobDefinition<D> {
  name: string;
  /** Period length in business time: a job runs at most once per period. */
  everyMs: number;
  /** Returns how many items it processed (recorded with the run). */
  run(ctx: JobContext<D>): Promise<number | undefined | undefined>;
}

export interface JobRunSummary {
  job: string;
  run_id: string | null;
  /** skipped: another instance holds the job's lock, or this period already ran. */
  status: 'succeeded' | 'failed' | 'skipped';
  processed: number | null;
  error?: string;
}

/** A stable 32-bit key per job name for pg_try_advisory_lock (FNV-1a). */
export function jobLockKey(name: string): number {
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(name)) {
    h ^= ch;
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

const LOCK_CLASS = 7243002;

/**
 * Runs scheduled jobs on any number of instances. Each instance polls on wall time; a job is due when
 * no run is recorded for the current business-time period. A run takes the job's PostgreSQL advisory
 * lock (so runs of one job never overlap across instances), then claims the period with
 * `INSERT ... ON CONFLICT DO NOTHING` on (job, slot) (so a period runs once), and records its outcome.
 */
export class JobRunner<D extends RunnerDeps> {
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly running = new Set<string>();
  private ticking: Promise<unknown> | null = null;
  readonly instance: string;

  constructor(
    private readonly deps: D,
    private readonly jobs: JobDefinition<D>[],
    opts: { instance?: string } = {},
  ) {
    this.instance = opts.instance ?? `${hostname()}:${process.pid}:${newId().slice(-6)}`;
    const names = new Set<string>();
    for (const j of jobs) {
      if (names.has(j.name)) throw new Error(`Duplicate job name ${j.name}`);
      if (!(j.everyMs > 0)) throw new Error(`Job ${j.name} needs a positive everyMs`);
      names.add(j.name);
    }
  }

  get names(): string[] {
    return this.jobs.map((j) => j.name);
  }

  /** Polls every `pollMs` of wall time until stop(). */
  start(pollMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!this.ticking) this.ticking = this.tick().finally(() => (this.ticking = null));
    }, pollMs);
    this.timer.unref();
  }

  /** Stops polling and waits for runs in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // The tick in progress finishes its current job and starts no other (graceful shutdown).
    this.stopping = true;
    try {
      await this.ticking?.catch(() => {});
    } finally {
      this.stopping = false;
    }
  }

  /** Runs every job whose current period has not run yet. */
  async tick(): Promise<JobRunSummary[]> {
    const out: JobRunSummary[] = [];
    for (const job of this.jobs) {
      if (this.stopping) break;
      const now = this.deps.clock.now().getTime();
      const slot = new Date(Math.floor(now / job.everyMs) * job.everyMs);
      out.push(await this.execute(job, slot, 'schedule'));
    }
    return out;
  }

  /** Runs one job now, outside its schedule (admin action, tests). */
  async runNow(name: string): Promise<JobRunSummary> {
    const job = this.jobs.find((j) => j.name === name);
    if (!job) throw new Error(`Unknown job ${name}`);
    return this.execute(job, this.deps.clock.now(), 'manual');
  }

  private async execute(
    job: JobDefinition<D>,
    slot: Date,
    trigger: 'schedule' | 'manual',
  ): Promise<JobRunSummary> {
    const skipped: JobRunSummary = { job: job.name, run_id: null, status: 'skipped', processed: null };
    if (this.running.has(job.name)) return skipped;
    this.running.add(job.name);
    let client: pg.PoolClient | null = null;
    try {
      if (this.deps.database.pool) {
        client = await this.deps.database.pool.connect();
        const [lock] = (
          await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', [
            LOCK_CLASS,
            jobLockKey(job.name),
          ])
        ).rows;
        if (!lock?.ok) return skipped;
      }
      return await this.claimAndRun(job, slot, trigger);
    } finally {
      if (client) {
        await client
          .query('select pg_advisory_unlock($1, $2)', [LOCK_CLASS, jobLockKey(job.name)])
          .catch(() => {});
        client.release();
      }
      this.running.delete(job.name);
    }
  }

  private async claimAndRun(job: JobDefinition<D>, slot: Date, trigger: 'schedule' | 'manual') {
    const now = this.deps.clock.now();
    const started = this.deps.wallClock.now();
    const runId = newId();
    const claimed = await queryRows<{ id: string }>(
      this.deps.db,
      sql`insert into job_runs (id, job, slot, trigger, status, business_time, started_at, instance)
        values (${runId}, ${job.name}, ${slot.toISOString()}, ${trigger}, 'running', ${now.toISOString()},
          ${started.toISOString()}, ${this.instance})
        on conflict (job, slot) do nothing returning id`,
    );
    if (!claimed.length) {
      this.deps.metrics?.jobRuns.inc({ job: job.name, status: 'skipped' });
      return { job: job.name, run_id: null, status: 'skipped' as const, processed: null };
    }
    let processed: number | null = null;
    let error: string | undefined;
    try {
      const n = await job.run({ deps: this.deps, now, runId });
      processed = typeof n === 'number' ? n : null;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      this.deps.logger?.error({ job: job.name, run_id: runId, err: error }, 'job failed');
    }
    const finished = this.deps.wallClock.now();
    await this.deps.db.execute(
      sql`update job_runs set status = ${error ? 'failed' : 'succeeded'}, finished_at = ${finished.toISOString()},
        duration_ms = ${finished.getTime() - started.getTime()}, processed = ${processed}, error = ${error ?? null}
        where id = ${runId}`,
    );
    if (!error) this.deps.logger?.debug({ job: job.name, run_id: runId, processed }, 'job ran');
    this.deps.metrics?.jobRuns.inc({ job: job.name, status: error ? 'failed' : 'succeeded' });
    this.deps.metrics?.jobDuration.observe(
      { job: job.name },
      (finished.getTime() - started.getTime()) / 1000,
    );
    return {
      job: job.name,
      run_id: runId,
      status: error ? ('failed' as const) : ('succeeded' as const),
      processed,
      ...(error ? { error } : {}),
    };
  }
}
