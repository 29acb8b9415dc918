import { integer, index, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { idColumn, ts } from '../db/columns';

/**
 * One row per run of a scheduled job. `slot` is the start of the business-time period the run belongs
 * to; the unique (job, slot) is what makes a period run once however many instances poll.
 */
export const jobRuns = pgTable(
  'job_runs',
  {
    id: idColumn(),
    job: text('job').notNull(),
    slot: ts('slot').notNull(),
    trigger: text('trigger', { enum: ['schedule', 'manual'] }).notNull(),
    status: text('status', { enum: ['running', 'succeeded', 'failed'] }).notNull(),
    /** Business time (deps.clock) when the run started: what the job saw as "now". */
    businessTime: ts('business_time').notNull(),
    startedAt: ts('started_at').notNull(),
    finishedAt: ts('finished_at'),
    durationMs: integer('duration_ms'),
    processed: integer('processed'),
    error: text('error'),
    instance: text('instance').notNull(),
  },
  (t) => [uniqueIndex('job_runs_slot_uq').on(t.job, t.slot), index('job_runs_started_idx').on(t.startedAt)],
);

export type JobRunRow = typeof jobRuns.$inferSelect;
