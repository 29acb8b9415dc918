import { and, desc, eq, gte, lt, sql } from 'drizzle-orm';
import type { Queryable } from '../db/client';
import { type JobRunRow, jobRuns } from './jobs.tables';

export type JobRunStatus = JobRunRow['status'];

export interface ListJobRunsQuery {
  job?: string;
  status?: JobRunStatus;
  trigger?: JobRunRow['trigger'];
  /** Runs started at or after / before these (wall time). */
  since?: Date;
  until?: Date;
  limit: number;
  /** A run id: the page continues after it. */
  startingAfter?: string;
}

/** Job runs, newest first, keyset-paginated on (started_at, id). */
export async function listJobRuns(q: Queryable, query: ListJobRunsQuery) {
  const cursor = query.startingAfter
    ? sql`(${jobRuns.startedAt}, ${jobRuns.id}) < (select started_at, id from job_runs where id = ${query.startingAfter})`
    : undefined;
  const rows = await q
    .select()
    .from(jobRuns)
    .where(
      and(
        query.job ? eq(jobRuns.job, query.job) : undefined,
        query.status ? eq(jobRuns.status, query.status) : undefined,
        query.trigger ? eq(jobRuns.trigger, query.trigger) : undefined,
        query.since ? gte(jobRuns.startedAt, query.since) : undefined,
        query.until ? lt(jobRuns.startedAt, query.until) : undefined,
        cursor,
      ),
    )
    .orderBy(desc(jobRuns.startedAt), desc(jobRuns.id))
    .limit(query.limit + 1);
  return { data: rows.slice(0, query.limit), has_more: rows.length > query.limit };
}

export async function jobRunExists(q: Queryable, id: string): Promise<boolean> {
  const [row] = await q.select({ id: jobRuns.id }).from(jobRuns).where(eq(jobRuns.id, id));
  return !!row;
}

export const jobRunJson = (r: JobRunRow) => ({
  id: r.id,
  job: r.job,
  status: r.status,
  trigger: r.trigger,
  period_start: r.slot.toISOString(),
  business_time: r.businessTime.toISOString(),
  started_at: r.startedAt.toISOString(),
  finished_at: r.finishedAt?.toISOString() ?? null,
  duration_ms: r.durationMs,
  processed: r.processed,
  error: r.error,
  instance: r.instance,
});
